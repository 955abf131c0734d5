//! `kiln train --image-folder` end to end: your own images in `root/train/<class>/…` and
//! `root/test/<class>/…`, the unreadable-file policy, and the recorded dataset that
//! `kiln eval` and `kiln predict` rebuild from.

use crate::common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

const CLASSES: [&str; 3] = ["blue", "green", "red"];

fn kiln(args: &[&str]) -> Output {
    common::kiln_bin(args)
}

/// `n` noisy images per class and split; class `c` has channel `c` bright (blue = 2, green = 1,
/// red = 0), in sizes that need resizing and cropping. PNG for training, JPEG for testing.
fn write_folder(root: &Path, n: usize) {
    let mut rng = kiln::data::SplitMix64::new(11);
    for (split, ext) in [("train", "png"), ("test", "jpg")] {
        for (label, class) in CLASSES.iter().enumerate() {
            let channel = 2 - label;
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                let (w, h) = (20 + rng.below(12) as u32, 20 + rng.below(12) as u32);
                let image = image::RgbImage::from_fn(w, h, |_, _| {
                    let mut px = [0u8; 3];
                    for (c, v) in px.iter_mut().enumerate() {
                        *v = match c == channel {
                            true => 150 + rng.below(100) as u8,
                            false => rng.below(120) as u8,
                        };
                    }
                    image::Rgb(px)
                });
                image.save(dir.join(format!("{i:03}.{ext}"))).unwrap();
            }
        }
    }
}

#[test]
fn trains_on_an_image_folder_and_eval_and_predict_rebuild_it_from_the_run() {
    let Some(backend) = common::cpu_backend() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("colours");
    write_folder(&root, 40);
    let broken = root.join("train/red/broken.png");
    std::fs::write(&broken, b"not a png at all").unwrap();
    let art = tmp.path().join("art");
    let (r, a, b) = (
        root.to_str().unwrap(),
        art.to_str().unwrap(),
        backend.to_string(),
    );
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--image-folder",
            r,
            "--image-size",
            "16",
            "--artifact-dir",
            a,
            // Each call replaces the run before.
            "--overwrite",
            "--backend",
            &b,
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--valid-size",
            "12",
        ];
        args.extend_from_slice(extra);
        kiln(&args)
    };

    // The default policy stops at the undecodable file, naming it; nothing is written.
    let out = train(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(broken.to_str().unwrap()) && stderr.contains("cannot decode"),
        "{stderr}"
    );
    assert!(!art.exists());

    // `kiln data verify` decodes everything and lists every unreadable file; `info` reports it.
    let out = kiln(&["data", "verify", "--image-folder", r]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("UNREADABLE {}", broken.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 classes") && stdout.contains("(120 images)"),
        "{stdout}"
    );
    assert!(
        kiln(&["data", "info", "--image-folder", r])
            .status
            .success()
    );

    // `--on-unreadable skip` leaves it out, says so, and lists it in skipped.txt.
    let out = train(&["--on-unreadable", "skip"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped 1 unreadable image file(s)") && stdout.contains("broken.png"),
        "{stdout}"
    );
    assert!(
        stdout.contains("108 train / 12 valid / 120 test"),
        "{stdout}"
    );
    let skipped = std::fs::read_to_string(art.join("skipped.txt")).unwrap();
    assert!(skipped.starts_with(broken.to_str().unwrap()), "{skipped}");
    assert_eq!(skipped.lines().count(), 1);

    // config.json records the folder with its classes and training-split normalization.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    let dataset = &config["dataset"];
    assert_eq!(dataset["root"], r);
    assert_eq!(dataset["image_size"], 16);
    assert_eq!(dataset["channels"], 3);
    assert_eq!(dataset["on_unreadable"], "skip");
    assert_eq!(dataset["class_names"], serde_json::json!(CLASSES));
    let mean = dataset["normalization"]["mean"].as_array().unwrap();
    // Each channel is bright (≈200/255) in a third of the images and dark (≈60/255) elsewhere.
    for m in mean {
        let m = m.as_f64().unwrap();
        assert!((0.3..0.45).contains(&m), "{dataset}");
    }
    let eval: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("eval.json")).unwrap()).unwrap();
    assert!(eval["accuracy"].as_f64().unwrap() > 0.9, "{eval}");
    assert_eq!(eval["class_names"], serde_json::json!(CLASSES));

    // `kiln eval` reads the folder again and reproduces the test predictions.
    let before = std::fs::read_to_string(art.join("predictions.csv")).unwrap();
    std::fs::remove_file(art.join("predictions.csv")).unwrap();
    assert!(
        kiln(&["eval", "--artifact-dir", a, "--backend", &b])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(art.join("predictions.csv")).unwrap(),
        before
    );

    // `kiln predict` needs only the run: size, channels, normalization and names are recorded.
    let image = root.join("test/green/007.jpg");
    let out = kiln(&[
        "predict",
        "--artifact-dir",
        a,
        "--backend",
        &b,
        "--json",
        "--image",
        image.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let predictions: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(predictions[0]["top_k"][0]["name"], "green", "{predictions}");

    // `--limit` on a folder (stored class by class) is a stratified sample, not the first class.
    let out = train(&["--on-unreadable", "skip", "--limit", "30"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("18 train / 12 valid / 30 test"), "{stdout}");
    let eval: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("eval.json")).unwrap()).unwrap();
    for label in ["0", "1", "2"] {
        assert_eq!(eval[label]["support"], 10, "{eval}");
    }

    // A class directory added since the run is refused by name, not silently relabelled.
    for split in ["train", "test"] {
        let dir = root.join(split).join("cyan");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(root.join(split).join("green/000.png"), dir.join("0.png")).ok();
        std::fs::copy(root.join(split).join("green/000.jpg"), dir.join("0.jpg")).ok();
    }
    let out = kiln(&["eval", "--artifact-dir", a, "--backend", &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[blue, cyan, green, red]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn folder_flags_are_checked_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--image-size", "64"],
            "--image-size: only applies with --image-folder",
        ),
        (
            &["--image-folder", tmp.path().to_str().unwrap()],
            "no train/ directory",
        ),
        (
            &["--image-folder", "x", "--dataset", "mnist"],
            "cannot be used with",
        ),
        (
            &["--image-folder", "x", "--channels", "2"],
            "--channels: must be 1 (grayscale) or 3 (RGB), got 2",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["train"];
        args.extend_from_slice(flags);
        let out = kiln(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
