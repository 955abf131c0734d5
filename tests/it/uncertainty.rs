//! How sure the figures are, end to end: temperature scaling recorded and applied by every
//! command, bootstrap intervals and top-k choices in `eval.json`, `kiln compare` of two runs,
//! `kiln predict --image-dir` against `kiln eval`.

use std::path::Path;

use serde_json::Value;

use crate::common;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_calibrated_run_records_its_temperature_and_every_command_applies_it() {
    let Some(cpu) = common::cpu_run(600, 200) else {
        return;
    };
    let extra = [
        "--calibrate",
        "temperature",
        "--top-k",
        "1,2",
        "--bootstrap",
        "200",
    ];
    let out = common::train_mnist(&cpu.data, &cpu.art, cpu.backend, &extra);
    assert!(out.status.success(), "{}", text(&out));

    // The temperature is fitted on the validation split and recorded.
    let config = json(&cpu.art.join("config.json"));
    let fitted = &config["evaluation"]["calibration"]["fitted"];
    let t = fitted["temperature"].as_f64().unwrap();
    assert!(t > 0.0 && t != 1.0, "{fitted}");
    assert!(fitted["nll_after"].as_f64() <= fitted["nll_before"].as_f64());

    // The test report shows the calibration before and after it, the k asked for and the
    // intervals, each containing its figure.
    let eval = json(&cpu.art.join("eval.json"));
    let cal = &eval["calibration"];
    assert_eq!(cal["temperature"].as_f64(), Some(t));
    assert!(cal["before_temperature"]["ece"].is_number(), "{cal}");
    assert_eq!(cal["bins"], 15);
    let ks: Vec<&String> = eval["top_k_accuracy"].as_object().unwrap().keys().collect();
    assert_eq!(ks, ["1", "2"]);
    let ci = &eval["ci"];
    assert_eq!(ci["resamples"], 200);
    let (acc, lo, hi) = (
        eval["accuracy"].as_f64().unwrap(),
        ci["accuracy"][0].as_f64().unwrap(),
        ci["accuracy"][1].as_f64().unwrap(),
    );
    assert!(lo <= acc && acc <= hi, "{acc} in [{lo}, {hi}]");
    assert!(ci["recall"]["3"].is_array() && ci["ece"].is_array(), "{ci}");

    let backend = cpu.backend.to_string();
    // `kiln eval` applies the recorded temperature: the same report.
    let again = cpu.tmp.path().join("again");
    let (a, g) = (cpu.art.to_str().unwrap(), again.to_str().unwrap());
    let eval_args = [
        "eval",
        "--artifact-dir",
        a,
        "--out",
        g,
        "--backend",
        &backend,
    ];
    let out = common::kiln_bin(&eval_args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(json(&again.join("eval.json")), eval);
    let printed = text(&out);
    assert!(
        printed.contains("95% intervals") && printed.contains("ECE"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("temperature {t:.4}")),
        "{printed}"
    );

    // `kiln predict` divides the logits by it.
    let png = cpu.tmp.path().join("one.png");
    let (pixels, _) = common::separable(1, 99);
    image::GrayImage::from_raw(28, 28, pixels)
        .unwrap()
        .save(&png)
        .unwrap();
    let out = common::kiln_bin(&[
        "predict",
        "--backend",
        &backend,
        "--artifact-dir",
        a,
        "--image",
        png.to_str().unwrap(),
        "--json",
        "--top-k",
        "10",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let logits: Vec<f64> = (p[0]["logits"].as_array().unwrap().iter())
        .map(|v| v.as_f64().unwrap())
        .collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = logits.iter().map(|l| ((l - max) / t).exp()).sum();
    for c in p[0]["top_k"].as_array().unwrap() {
        let class = c["class"].as_u64().unwrap() as usize;
        let expected = ((logits[class] - max) / t).exp() / z;
        let got = c["probability"].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-5,
            "class {class}: {got} vs {expected}"
        );
    }

    // A k the classes cannot have is refused, naming the flag.
    let out = common::kiln_bin(&[&eval_args[..], &["--top-k", "10"][..]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--top-k"), "{}", text(&out));
    let bad = cpu.tmp.path().join("bad");
    let out = common::train_mnist(&cpu.data, &bad, cpu.backend, &["--top-k", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--top-k"), "{}", text(&out));
}

#[test]
fn kiln_compare_tells_what_is_and_is_not_significant() {
    let Some(cpu) = common::cpu_run(600, 300) else {
        return;
    };
    let b = cpu.tmp.path().join("b");
    let small = cpu.tmp.path().join("small");
    for (art, extra) in [
        (&cpu.art, vec!["--epochs", "1"]),
        (&b, vec!["--epochs", "2", "--seed", "8"]),
        (&small, vec!["--epochs", "1", "--limit", "250"]),
    ] {
        let out = common::train_mnist(&cpu.data, art, cpu.backend, &extra);
        assert!(out.status.success(), "{}", text(&out));
    }
    let (a, b_, s) = (
        cpu.art.to_str().unwrap(),
        b.to_str().unwrap(),
        small.to_str().unwrap(),
    );

    // A run against itself: no difference, p = 1.
    let out = common::kiln_bin(&["compare", a, a, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let same: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(same["mcnemar"]["p_value"], 1.0);
    assert_eq!(same["accuracy"]["difference"], 0.0);
    assert_eq!(same["accuracy"]["interval"], serde_json::json!([0.0, 0.0]));
    let verdict = same["verdict"][0].as_str().unwrap();
    assert!(
        verdict.starts_with("No significant difference"),
        "{verdict}"
    );

    // Two seeds: the verdict is a significant result or an interval that contains 0, and says
    // which.
    let out = common::kiln_bin(&["compare", a, b_, "--json", &format!("{b_}/cmp.json")]);
    assert!(out.status.success(), "{}", text(&out));
    let doc = json(&b.join("cmp.json"));
    let interval = &doc["accuracy"]["interval"];
    let (lo, hi) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
    let verdict = doc["verdict"][0].as_str().unwrap();
    let significant =
        doc["mcnemar"]["p_value"].as_f64().unwrap() < 0.05 && !(lo <= 0.0 && 0.0 <= hi);
    assert_eq!(verdict.contains("significantly"), significant, "{verdict}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("McNemar's exact test"));
    let out = common::kiln_bin(&["compare", a, b_, "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("| accuracy |"));

    // Different test sets are refused, saying why.
    let out = common::kiln_bin(&["compare", a, s]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("300 samples, B 250"), "{}", text(&out));

    // Two predictions CSVs without paths are compared by their labels, which it says.
    let (pa, pb) = (cpu.art.join("predictions.csv"), b.join("predictions.csv"));
    let out = common::kiln_bin(&["compare", pa.to_str().unwrap(), pb.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("compared by labels only"),
        "{}",
        text(&out)
    );

    // The HTML report of B shows the comparison with A.
    let out = common::kiln_bin(&["report", "--artifact-dir", b_, "--compare", a]);
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(b.join("report.html")).unwrap();
    for id in ["compare", "intervals", "calibration"] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(page.contains("McNemar"));
}

#[test]
fn kiln_metrics_keys_string_labels_as_scikit_learn_and_refuses_a_k_too_large() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("p.csv");
    let rows = "label,prediction,score_cat,score_dog,score_eel\n\
                cat,cat,0.8,0.1,0.1\ndog,cat,0.5,0.3,0.2\neel,eel,0.1,0.2,0.7\ndog,dog,0.2,0.7,0.1\n";
    std::fs::write(&csv, rows).unwrap();
    let p = csv.to_str().unwrap();
    let out = common::kiln_bin(&[
        "metrics",
        "--predictions",
        p,
        "--format",
        "json",
        "--top-k",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().take(3).collect();
    assert_eq!(keys, ["cat", "dog", "eel"]);
    assert!(doc["ci"]["recall"]["dog"].is_array(), "{}", doc["ci"]);
    assert!(doc["calibration"]["brier"].is_number());
    assert_eq!(doc["top_k_accuracy"].as_object().unwrap().len(), 1);
    let out = common::kiln_bin(&["metrics", "--predictions", p, "--top-k", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--top-k: top-3 accuracy needs more than 3 classes"));
}

#[test]
fn predict_image_dir_on_fashion_mnist_pngs_agrees_with_kiln_eval() {
    let system = Path::new("/usr/share/datasets/fashion-mnist");
    if !system.is_dir() {
        return common::skipped("Debian's dataset-fashion-mnist is not installed");
    }
    let Some(backend) = common::cpu_backend() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join("art");
    let b = backend.to_string();
    let out = common::kiln_bin(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        system.to_str().unwrap(),
        "--artifact-dir",
        art.to_str().unwrap(),
        "--backend",
        &b,
        "--limit",
        "600",
        "--epochs",
        "1",
        "--bootstrap",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // The run's test images as PNGs in class folders (`T-shirt/top` as `T-shirt_top`), and one
    // file that is no image.
    let config: kiln::train::RunConfig<Value> = kiln::train::read_run_config(&art).unwrap();
    let test = kiln::train::Splits::load(&config).unwrap().test;
    let names = config.class_names();
    let dir = tmp.path().join("images");
    for i in 0..test.len() {
        let class = &names[usize::from(test.labels()[i])];
        let folder = dir.join(class.replace('/', "_"));
        std::fs::create_dir_all(&folder).unwrap();
        let image = image::GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
        image.save(folder.join(format!("{i:05}.png"))).unwrap();
    }
    std::fs::write(dir.join("Bag").join("broken.png"), b"not a png").unwrap();

    let csv = tmp.path().join("dir.csv");
    let (a, d, c) = (
        art.to_str().unwrap(),
        dir.to_str().unwrap(),
        csv.to_str().unwrap(),
    );
    let predict = [
        "predict",
        "--artifact-dir",
        a,
        "--image-dir",
        d,
        "--recursive",
        "--out",
        c,
        "--backend",
        b.as_str(),
    ];
    // An unreadable file stops the run by default, naming it; `skip` lists it.
    let out = common::kiln_bin(&predict);
    assert!(
        !out.status.success() && text(&out).contains("broken.png"),
        "{}",
        text(&out)
    );
    let skip = [&predict[..], &["--on-unreadable", "skip"][..]].concat();
    let out = common::kiln_bin(&skip);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped") && text(&out).contains("broken.png"));
    // An existing --out is not overwritten.
    let out = common::kiln_bin(&skip);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The same predictions as the run's evaluation of those images.
    let eval = kiln::eval::read_predictions_csv(
        &art.join("predictions.csv"),
        &kiln::eval::ClassSet::Count(names.len()),
    )
    .unwrap();
    let dir_rows =
        kiln::eval::read_predictions_csv(&csv, &kiln::eval::ClassSet::Names(names.clone()))
            .unwrap();
    assert_eq!(dir_rows.y_pred.len(), test.len());
    let paths = dir_rows.paths.clone().unwrap();
    for (row, path) in paths.iter().enumerate() {
        let i: usize = Path::new(path)
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(dir_rows.y_true[row], eval.y_true[i], "{path}: label");
        assert_eq!(dir_rows.y_pred[row], eval.y_pred[i], "{path}: prediction");
    }
    // `kiln metrics` reads the CSV: the run's accuracy.
    let out = common::kiln_bin(&["metrics", "--predictions", c, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["accuracy"], json(&art.join("eval.json"))["accuracy"]);
}
