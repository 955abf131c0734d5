use super::*;
use crate::images::ImageShape;

/// 300 one-pixel images, labels 0,1,2 repeating; the pixel is the image's index mod 256.
fn toy() -> ImageDataset {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 1,
    };
    let labels: Vec<u8> = (0..300).map(|i| (i % 3) as u8).collect();
    let pixels: Vec<u8> = (0..300).map(|i| (i % 256) as u8).collect();
    ImageDataset::new(shape, 3, pixels, labels).unwrap()
}

#[test]
fn keeps_a_seeded_fraction_of_one_class_only() {
    let data = toy();
    let rare = keep_class_fraction(&data, 1, 0.05, 7).unwrap();
    assert_eq!(rare.class_counts(), vec![100, 5, 100]);
    assert_eq!(
        keep_class_fraction(&data, 1, 0.05, 7).unwrap().labels(),
        rare.labels()
    );
    let other = keep_class_fraction(&data, 1, 0.05, 8).unwrap();
    let picked = |d: &ImageDataset| -> Vec<u8> {
        (0..d.len())
            .filter(|&i| d.labels()[i] == 1)
            .map(|i| d.image(i)[0])
            .collect()
    };
    assert_ne!(picked(&rare), picked(&other), "the seed picks the images");
    assert_eq!(
        keep_class_fraction(&data, 0, 0.001, 1)
            .unwrap()
            .class_counts()[0],
        1
    );
    assert_eq!(keep_class_fraction(&data, 2, 1.0, 1).unwrap().len(), 300);
}

#[test]
fn bad_fraction_or_class_is_an_error() {
    let data = toy();
    for f in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(keep_class_fraction(&data, 0, f, 1).is_err(), "{f}");
    }
    assert!(keep_class_fraction(&data, 3, 0.5, 1).is_err());
}
