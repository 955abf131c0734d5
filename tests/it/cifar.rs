//! CIFAR-10 end to end on generated files in the official binary layout: `examples/cifar10.rs`
//! (resnet20) trains and evaluates, `kiln predict` on a test image exported as PNG reproduces
//! the run's predictions (RGB, per-channel normalization), and missing data is an actionable
//! error.

use crate::common;

#[path = "../../examples/cifar10.rs"]
#[allow(dead_code)] // its `main` is the example's
mod cifar10;

use clap::Parser;
use kiln::cli::{PredictArgs, predict};
use kiln::train::Registry;

#[derive(Parser)]
struct PredictCli {
    #[command(flatten)]
    args: PredictArgs,
}

#[test]
fn the_cifar10_example_trains_resnet20_and_predict_reproduces_its_outputs() {
    let Some(cpu) = common::cpu_run(0, 0) else {
        return;
    };
    let data = cpu.tmp.path().join("cifar");
    let test_records = common::write_cifar10(&data, 100, 60);
    let (d, a, b) = (
        data.to_str().unwrap(),
        cpu.art.to_str().unwrap(),
        cpu.backend.to_string(),
    );
    let code = cifar10::run(
        [
            "cifar10",
            "--data-dir",
            d,
            "--offline",
            "--artifact-dir",
            a,
            "--backend",
            &b,
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--valid-size",
            "50",
        ]
        .map(String::from)
        .to_vec(),
    );
    assert_eq!(code, 0);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cpu.art.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["dataset"], "cifar10");
    assert_eq!(config["architecture"], "resnet20");
    assert_eq!(config["model"]["in_channels"], 3);
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cpu.art.join("eval.json")).unwrap()).unwrap();
    assert_eq!(eval["class_names"][9], "truck");
    assert_eq!(eval["macro avg"]["support"], 60);

    // Test images 0 and 5 as RGB PNGs (CHW planes → interleaved pixels).
    let predictions = std::fs::read_to_string(cpu.art.join("predictions.csv")).unwrap();
    let rows: Vec<Vec<&str>> = predictions
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut args = vec![
        "predict".to_string(),
        "--artifact-dir".into(),
        a.into(),
        "--backend".into(),
        b.clone(),
        "--top-k".into(),
        "10".into(),
    ];
    let indices = [0usize, 5];
    for i in indices {
        let planes = &test_records[i * 3073 + 1..(i + 1) * 3073];
        let png = cpu.tmp.path().join(format!("test-{i}.png"));
        image::RgbImage::from_fn(32, 32, |x, y| {
            let p = (y * 32 + x) as usize;
            image::Rgb([planes[p], planes[1024 + p], planes[2048 + p]])
        })
        .save(&png)
        .unwrap();
        args.extend(["--image".to_string(), png.display().to_string()]);
    }
    let got = predict(&Registry::builtin(), &PredictCli::parse_from(args).args).unwrap();
    for (p, i) in got.iter().zip(indices) {
        assert_eq!(p.top_k[0].class.to_string(), rows[i][2], "image {i}");
        for c in &p.top_k {
            let expected: f32 = rows[i][3 + c.class].parse().unwrap();
            assert!(
                (c.probability - expected).abs() < 1e-4,
                "image {i} class {}",
                c.class
            );
        }
    }
}

#[test]
fn cifar10_from_the_archive_and_missing_data_as_an_actionable_error() {
    let tmp = tempfile::tempdir().unwrap();
    // Nowhere: exit 3 naming the archive and the extracted directory.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let resolver = kiln::data::Resolver {
        data_dir: Some(empty.clone()),
        env_root: None,
        cache_root: None,
        system_root: None,
        download: false,
    };
    let error = kiln::data::load(kiln::data::DatasetName::Cifar10, &resolver).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("cifar-10-binary.tar.gz") && message.contains("cifar-10-batches-bin/"),
        "{message}"
    );

    // The official archive in --data-dir is read as it is.
    let extracted = tmp.path().join("x");
    common::write_cifar10(&extracted, 4, 3);
    let archive_dir = common::pack_cifar10(&extracted, &tmp.path().join("archive"));
    let resolver = kiln::data::Resolver {
        data_dir: Some(archive_dir),
        ..resolver
    };
    let loaded = kiln::data::load(kiln::data::DatasetName::Cifar10, &resolver).unwrap();
    assert_eq!((loaded.train.len(), loaded.test.len()), (20, 3));
    assert_eq!(loaded.train.shape().channels, 3);
}

#[test]
fn data_info_and_verify_on_cifar_files() {
    let tmp = tempfile::tempdir().unwrap();
    let extracted = tmp.path().join("x");
    common::write_cifar10(&extracted, 4, 3);
    let kiln = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .env("KILN_OFFLINE", "1")
            .env_remove("KILN_DATA_DIR")
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // The extracted directory: no canonical digest, read structurally.
    let d = extracted.to_str().unwrap();
    let out = kiln(&["data", "verify", "--dataset", "cifar10", "--data-dir", d]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("cifar-10-batches-bin: no canonical checksum"),
        "{log}"
    );
    assert!(
        log.contains("images: 3×32×32; train 20, test 3; 10 classes"),
        "{log}"
    );

    // A generated archive under the canonical name is not the canonical file: MD5 mismatch.
    let archive_dir = common::pack_cifar10(&extracted, &tmp.path().join("a"));
    let a = archive_dir.to_str().unwrap();
    let out = kiln(&["data", "info", "--dataset", "cifar10", "--data-dir", a]);
    assert!(
        out.status.success(),
        "info reports, it does not judge: {}",
        text(&out)
    );
    assert!(text(&out).contains("CHECKSUM MISMATCH: expected c32a1d4ab5d03f1284b67883e8d87530"));
    let out = kiln(&["data", "verify", "--dataset", "cifar10", "--data-dir", a]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
