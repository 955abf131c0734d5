use image::{Rgb, RgbImage};

use super::*;
use crate::{Resolver, load_source};

/// `root/train/{a,b}/…` (2 + 1 images), `root/<test>/{a,b}/…` (1 + 1 images).
fn folder(root: &Path, test: &str) {
    let images = [
        ("train/a/1.png", 10u8),
        ("train/a/2.png", 30),
        ("train/b/1.png", 200),
        (&format!("{test}/a/1.png") as &str, 20),
        (&format!("{test}/b/1.png") as &str, 220),
    ];
    for (path, value) in images {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_pixel(8, 8, Rgb([value, value, 255 - value]))
            .save(path)
            .unwrap();
    }
}

#[test]
fn a_scanned_folder_loads_both_splits_and_records_classes_and_normalization() {
    let tmp = tempfile::tempdir().unwrap();
    folder(tmp.path(), "val");
    let source = FolderSource::scan(tmp.path(), 8, 3, Unreadable::Fail).unwrap();
    assert_eq!(source.class_names, ["a", "b"]);
    assert_eq!(source.normalization, None);
    let source = DatasetSource::Folder(source);
    assert_eq!(source.class_names(), ["a", "b"]);
    assert_eq!((source.channels(), source.image_size()), (3, 8));
    let loaded = load_source(&source, &Resolver::from_env(None, true)).unwrap();
    assert_eq!(loaded.train.labels(), &[0, 0, 1]);
    assert_eq!(loaded.test.labels(), &[0, 1]);
    assert_eq!(loaded.files.paths[1], tmp.path().join("val"));
    // Training pixels only: red channel values 10, 30, 200 (each over 64 pixels).
    let values = [10.0f64, 30.0, 200.0].map(|v| v / 255.0);
    let mean = values.iter().sum::<f64>() / 3.0;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    let norm = loaded.normalization;
    assert!((f64::from(norm.mean[0]) - mean).abs() < 1e-6, "{norm:?}");
    assert!((f64::from(norm.std[0]) - std).abs() < 1e-6, "{norm:?}");
    assert!((f64::from(norm.mean[2]) - (1.0 - mean)).abs() < 1e-6);
    assert_eq!(loaded.source.normalization(), Some(norm));
    // The resolved source is what a run records; it round-trips through JSON.
    let json = serde_json::to_string(&loaded.source).unwrap();
    let back: DatasetSource = serde_json::from_str(&json).unwrap();
    assert_eq!(back, loaded.source);
    // A named dataset is recorded as its bare name, as before image folders existed.
    let named: DatasetSource = serde_json::from_str("\"fashion-mnist\"").unwrap();
    assert_eq!(named, DatasetSource::Named(DatasetName::FashionMnist));
}

#[test]
fn layout_problems_name_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let err = FolderSource::scan(&tmp.path().join("nope"), 8, 3, Unreadable::Fail).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    folder(tmp.path(), "test");
    std::fs::create_dir_all(tmp.path().join("test/c")).unwrap();
    let err = FolderSource::scan(tmp.path(), 8, 3, Unreadable::Fail).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("test") && text.contains("[a, b, c]"),
        "{text}"
    );
    std::fs::remove_dir_all(tmp.path().join("test")).unwrap();
    let err = FolderSource::scan(tmp.path(), 8, 3, Unreadable::Fail).unwrap_err();
    assert!(err.to_string().contains("no test/ or val/"), "{err}");
    let err = FolderSource::scan(tmp.path(), 8, 2, Unreadable::Fail).unwrap_err();
    assert!(err.to_string().contains("not 2"), "{err}");
}

#[test]
fn a_class_directory_added_after_the_run_is_an_error_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    folder(tmp.path(), "test");
    let source = FolderSource::scan(tmp.path(), 8, 1, Unreadable::Fail).unwrap();
    for split in ["train", "test"] {
        let path = tmp.path().join(split).join("0-new/x.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]))
            .save(path)
            .unwrap();
    }
    let err = load_source(
        &DatasetSource::Folder(source),
        &Resolver::from_env(None, true),
    )
    .unwrap_err();
    assert!(err.to_string().contains("[0-new, a, b]"), "{err}");
}
