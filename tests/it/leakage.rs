//! The leakage check end to end: `kiln data leakage` finds planted duplicates exactly, and
//! `kiln train` reports them when it starts and drops them with `--dedupe`.

use crate::common;

use std::path::Path;
use std::process::Output;

use kiln::data::idx::write_idx;
use serde_json::Value;

fn kiln(args: &[&str]) -> Output {
    common::kiln_bin(args)
}

/// The generated MNIST-format set of `common::separable` (704 train, 200 test) with planted
/// twins: test 0 = train 5 (exact), test 1 = train 6 + 2 grey levels (near), train 100 =
/// train 3 (exact, inside the training file).
fn write_planted(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let (mut train, train_labels) = common::separable(704, 1);
    let (mut test, mut test_labels) = common::separable(200, 2);
    let image = |px: &[u8], i: usize| px[i * 784..(i + 1) * 784].to_vec();
    test[..784].copy_from_slice(&image(&train, 5));
    let brighter: Vec<u8> = image(&train, 6)
        .iter()
        .map(|v| v.saturating_add(2))
        .collect();
    test[784..2 * 784].copy_from_slice(&brighter);
    test_labels[0] = train_labels[5];
    test_labels[1] = train_labels[6];
    let copy = image(&train, 3);
    train[100 * 784..101 * 784].copy_from_slice(&copy);
    let files = common::FILES.map(|f| dir.join(f.trim_end_matches(".gz")));
    write_idx(&files[0], &[704, 28, 28], &train, false).unwrap();
    write_idx(&files[1], &[704], &train_labels, false).unwrap();
    write_idx(&files[2], &[200, 28, 28], &test, false).unwrap();
    write_idx(&files[3], &[200], &test_labels, false).unwrap();
}

#[test]
fn planted_duplicates_are_found_reported_at_training_and_deduped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_planted(&data);
    let d = data.to_str().unwrap();

    // `kiln data leakage`: exactly the planted twins, with their indices.
    let out = kiln(&[
        "data",
        "leakage",
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--json",
    ]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pairs = |overlap: &Value| -> Vec<(u64, u64, bool)> {
        overlap["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let exact = m["pixel_difference"].as_f64().unwrap() == 0.0;
                (
                    m["query"].as_u64().unwrap(),
                    m["reference"].as_u64().unwrap(),
                    exact,
                )
            })
            .collect()
    };
    let overlaps = report["overlaps"].as_array().unwrap();
    assert_eq!(pairs(&overlaps[0]), [(0, 5, true), (1, 6, false)]);
    assert_eq!(pairs(&overlaps[1]), [(100, 3, true)]);
    assert!(pairs(&overlaps[2]).is_empty());
    let text = kiln(&["data", "leakage", "--dataset", "mnist", "--data-dir", d]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("2 of 200 test images (1.00%) duplicate a train image: 1 exact, 1 near"),
        "{text}"
    );
    let exact_only = kiln(&[
        "data",
        "leakage",
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--exact-only",
    ]);
    assert!(String::from_utf8_lossy(&exact_only.stdout).contains("1 exact, 0 near"));

    // `kiln train` checks its own splits when it starts; `--dedupe` drops the training twins.
    let Some(backend) = common::cpu_backend() else {
        return;
    };
    let train = |art: &Path, extra: &[&str]| {
        let mut flags = vec!["--epochs", "1"];
        flags.extend_from_slice(extra);
        common::train_mnist(&data, art, backend, &flags)
    };
    let plain = tmp.path().join("plain");
    let out = train(&plain, &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("leakage check"), "{stdout}");
    let leakage: Value =
        serde_json::from_str(&std::fs::read_to_string(plain.join("leakage.json")).unwrap())
            .unwrap();
    let found = |v: &Value, i: usize| {
        v["overlaps"][i]["exact"].as_u64().unwrap() + v["overlaps"][i]["near"].as_u64().unwrap()
    };
    // valid→train, test→train, test→valid: the test twins are in one of the two splits.
    assert_eq!(found(&leakage, 1) + found(&leakage, 2), 2, "{leakage}");
    assert_eq!(leakage["deduped"], 0);

    let deduped = tmp.path().join("deduped");
    let out = train(&deduped, &["--dedupe"]);
    assert!(out.status.success());
    let leakage: Value =
        serde_json::from_str(&std::fs::read_to_string(deduped.join("leakage.json")).unwrap())
            .unwrap();
    let dropped = found(&leakage, 0) + found(&leakage, 1);
    assert!(dropped >= 1, "{leakage}");
    assert_eq!(leakage["deduped"], dropped);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("--dedupe: dropped {dropped} training images"))
            && stdout.contains(&format!("{} train / 64 valid", 704 - 64 - dropped)),
        "{stdout}"
    );

    // `--no-leakage-check` skips it.
    let unchecked = tmp.path().join("unchecked");
    assert!(train(&unchecked, &["--no-leakage-check"]).status.success());
    assert!(!unchecked.join("leakage.json").exists());
}
