use image::{DynamicImage, GrayImage, Rgb, RgbImage};

use super::*;

fn rgb(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| Rgb(f(x, y))))
}

#[test]
fn an_image_at_the_input_size_is_only_scaled_and_normalized_channel_major() {
    let image = rgb(4, 4, |x, y| [(x * 10) as u8, (y * 20) as u8, 200]);
    let p = Preprocess::imagenet(4, 3).without_resize();
    let out = p.apply(&image).unwrap();
    assert_eq!(out.len(), 3 * 16);
    for (x, y) in [(0, 0), (3, 1), (2, 3)] {
        let i = (y * 4 + x) as usize;
        let px = [(x * 10) as f32, (y * 20) as f32, 200.0];
        for c in 0..3 {
            let expected = (px[c] / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!(
                (out[c * 16 + i] - expected).abs() < 1e-6,
                "({x},{y}) channel {c}"
            );
        }
    }
}

#[test]
fn without_resize_another_size_is_an_error_naming_both_sizes() {
    let p = Preprocess::imagenet(224, 3).without_resize();
    let e = p.apply(&rgb(300, 200, |_, _| [0; 3])).unwrap_err();
    assert!(e.contains("300×200") && e.contains("224×224"), "{e}");
}

#[test]
fn the_center_crop_is_torchvisions() {
    // Shorter side already 224: no resize; rows 18..242 of 260 (round(36 / 2) = 18) and
    // columns 0..224 are kept.
    let image = rgb(224, 260, |x, y| [x as u8, y as u8, 0]);
    let p = Preprocess::fit(224, 3, &[0.0], &[1.0]);
    let out = p.apply(&image).unwrap();
    let plane = 224 * 224;
    assert_eq!(out[0] * 255.0, 0.0);
    assert!(
        (out[plane] * 255.0 - 18.0).abs() < 1e-4,
        "{}",
        out[plane] * 255.0
    );
    assert!((out[plane + plane - 1] * 255.0 - 241.0).abs() < 1e-4);
}

#[test]
fn resizing_keeps_the_aspect_ratio_then_crops_the_input_size() {
    // 512×600 → shorter side 256 → 256×300 → center crop 224: a uniform image stays uniform.
    let image = rgb(512, 600, |_, _| [51, 102, 153]);
    let p = Preprocess::imagenet(224, 3);
    assert_eq!(p.resize_shorter, Some(256));
    let out = p.apply(&image).unwrap();
    assert_eq!(out.len(), 3 * 224 * 224);
    for c in 0..3 {
        let expected = ((51.0 * (c + 1) as f32) / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        let plane = &out[c * 224 * 224..(c + 1) * 224 * 224];
        assert!(
            plane.iter().all(|v| (v - expected).abs() < 1e-5),
            "channel {c}"
        );
    }
    // An image too small for the crop after resizing cannot happen with resize ≥ crop; a
    // resize target below the crop is reported.
    let small = Preprocess {
        resize_shorter: Some(100),
        ..Preprocess::imagenet(224, 3)
    };
    assert!(
        small
            .apply(&image)
            .unwrap_err()
            .contains("smaller than the 224×224 crop")
    );
}

#[test]
fn grayscale_uses_pils_luma_and_gray_images_keep_their_values() {
    let p = Preprocess::fit(2, 1, &[0.0], &[1.0]);
    let red = p.apply(&rgb(2, 2, |_, _| [255, 0, 0])).unwrap();
    // PIL: L = R · 299/1000 + G · 587/1000 + B · 114/1000 → 76 for pure red.
    assert!(
        red.iter().all(|v| (v * 255.0 - 76.0).abs() < 1e-4),
        "{red:?}"
    );
    let gray = DynamicImage::ImageLuma8(GrayImage::from_fn(2, 2, |x, y| {
        image::Luma([(x * 100 + y * 7) as u8])
    }));
    let out = p.apply(&gray).unwrap();
    assert_eq!(
        out.iter()
            .map(|v| (v * 255.0).round() as u32)
            .collect::<Vec<_>>(),
        vec![0, 100, 7, 107]
    );
    assert!(
        Preprocess { channels: 2, ..p }
            .apply(&gray)
            .unwrap_err()
            .contains("2 channels")
    );
}

#[test]
fn unreadable_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, b"not a png").unwrap();
    match Preprocess::imagenet(224, 3).load(&path) {
        Err(DataError::Image { path: p, message }) => {
            assert_eq!(p, path);
            assert!(message.contains("cannot decode"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let missing = dir.path().join("absent.jpg");
    assert!(matches!(
        Preprocess::imagenet(224, 3).load(&missing),
        Err(DataError::Image { .. })
    ));
}
