use image::{GrayImage, Luma, Rgb, RgbImage};

use super::*;

fn rgb(w: u32, h: u32, color: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(color))
}

/// `root/cat/{a.png, b.JPG}`, `root/dog/{c.bmp, sub/d.png}`, `root/ant/e.png` (gray), plus
/// ignored entries: a README, a hidden directory, a `.txt` in a class.
fn folder(root: &Path) {
    for dir in ["cat", "dog/sub", "ant", ".cache"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    rgb(40, 30, [255, 0, 0])
        .save(root.join("cat/a.png"))
        .unwrap();
    rgb(16, 16, [0, 255, 0])
        .save(root.join("cat/b.JPG"))
        .unwrap();
    rgb(16, 20, [0, 0, 255])
        .save(root.join("dog/c.bmp"))
        .unwrap();
    rgb(16, 16, [10, 20, 30])
        .save(root.join("dog/sub/d.png"))
        .unwrap();
    GrayImage::from_pixel(16, 16, Luma([77]))
        .save(root.join("ant/e.png"))
        .unwrap();
    std::fs::write(root.join("README.md"), "not a class").unwrap();
    std::fs::write(root.join("cat/notes.txt"), "ignored").unwrap();
    rgb(16, 16, [1, 1, 1])
        .save(root.join(".cache/x.png"))
        .unwrap();
}

fn options(channels: usize, unreadable: Unreadable) -> FolderOptions {
    FolderOptions {
        size: 16,
        channels,
        unreadable,
    }
}

#[test]
fn classes_are_sorted_directory_names_and_images_are_resized_and_cropped() {
    let tmp = tempfile::tempdir().unwrap();
    folder(tmp.path());
    let f = read_image_folder(tmp.path(), &options(3, Unreadable::Fail)).unwrap();
    assert_eq!(f.class_names, ["ant", "cat", "dog"]);
    assert_eq!(f.dataset.labels(), &[0, 1, 1, 2, 2]);
    let names: Vec<String> = f
        .files
        .iter()
        .map(|p| p.strip_prefix(tmp.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "ant/e.png",
            "cat/a.png",
            "cat/b.JPG",
            "dog/c.bmp",
            "dog/sub/d.png"
        ]
    );
    assert_eq!(
        f.dataset.shape(),
        ImageShape {
            channels: 3,
            height: 16,
            width: 16
        }
    );
    // a.png, 40×30 red → shorter side 16 → 21×16 → 16×16 crop, still pure red (CHW planes).
    let a = f.dataset.image(1);
    assert!(a[..256].iter().all(|&v| v == 255) && a[256..].iter().all(|&v| v == 0));
    // The gray image becomes three equal planes; the JPEG is near its colour.
    assert!(f.dataset.image(0).iter().all(|&v| v == 77));
    let b = f.dataset.image(2);
    assert!(b[256..512].iter().all(|&v| v > 240) && b[..256].iter().all(|&v| v < 15));
    assert!(f.skipped.is_empty());

    // Grayscale: PIL's luma of red is 76.
    let g = read_image_folder(tmp.path(), &options(1, Unreadable::Fail)).unwrap();
    assert_eq!(g.dataset.shape().channels, 1);
    assert!(g.dataset.image(1).iter().all(|&v| v == 76));
}

#[test]
fn undecodable_files_fail_naming_them_or_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    folder(tmp.path());
    let bad = tmp.path().join("cat/broken.png");
    std::fs::write(&bad, b"\x89PNG truncated").unwrap();
    let empty = tmp.path().join("dog/empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    match read_image_folder(tmp.path(), &options(3, Unreadable::Fail)) {
        Err(DataError::Image { path, message }) => {
            assert_eq!(path, bad);
            assert!(message.contains("cannot decode"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let f = read_image_folder(tmp.path(), &options(3, Unreadable::Skip)).unwrap();
    assert_eq!(f.dataset.len(), 5);
    let skipped: Vec<&PathBuf> = f.skipped.iter().map(|(p, _)| p).collect();
    assert_eq!(skipped, [&bad, &empty]);
}

#[test]
fn layouts_that_are_not_image_folders_are_errors_naming_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    // No such root.
    let missing = tmp.path().join("absent");
    assert!(matches!(
        read_image_folder(&missing, &options(3, Unreadable::Fail)),
        Err(DataError::Io { path, .. }) if path == missing
    ));
    // Images directly in the root, no class directories.
    rgb(16, 16, [0; 3]).save(tmp.path().join("x.png")).unwrap();
    let error = read_image_folder(tmp.path(), &options(3, Unreadable::Fail)).unwrap_err();
    assert!(
        error.to_string().contains("no class sub-directories"),
        "{error}"
    );
    // A class directory without images.
    std::fs::create_dir_all(tmp.path().join("empty_class")).unwrap();
    std::fs::write(tmp.path().join("empty_class/readme.txt"), "x").unwrap();
    match read_image_folder(tmp.path(), &options(3, Unreadable::Fail)) {
        Err(DataError::Folder { path, message }) => {
            assert_eq!(path, tmp.path().join("empty_class"));
            assert!(message.contains("no images"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // An image entry that cannot be opened at all (a dangling link; permissions cannot be
    // taken away from root, which CI runs as) is an error naming it.
    #[cfg(unix)]
    {
        std::fs::remove_dir_all(tmp.path().join("empty_class")).unwrap();
        std::fs::create_dir_all(tmp.path().join("linked")).unwrap();
        let link = tmp.path().join("linked/gone.png");
        std::os::unix::fs::symlink(tmp.path().join("nowhere.png"), &link).unwrap();
        match read_image_folder(tmp.path(), &options(3, Unreadable::Fail)) {
            Err(DataError::Image { path, message }) => {
                assert_eq!(path, link);
                assert!(message.contains("cannot decode"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(tmp.path().join("linked")).unwrap();
        std::fs::create_dir_all(tmp.path().join("empty_class")).unwrap();
    }
    // An image smaller than the input is resized up: no error.
    std::fs::create_dir_all(tmp.path().join("tiny")).unwrap();
    rgb(4, 6, [9; 3])
        .save(tmp.path().join("tiny/t.png"))
        .unwrap();
    std::fs::remove_dir_all(tmp.path().join("empty_class")).unwrap();
    let f = read_image_folder(tmp.path(), &options(3, Unreadable::Fail)).unwrap();
    assert_eq!(f.class_names, ["tiny"]);
    assert!(f.dataset.image(0).iter().all(|&v| v == 9));
}
