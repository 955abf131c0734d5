//! A binary task end to end: one class against the rest with a one-logit head, the decision
//! threshold chosen on the validation split for recall ≥ 0.9 and applied unchanged to test —
//! recorded, reported (with the precision it costs), and reproduced by `kiln eval`.

use crate::common;

use serde_json::Value;

fn json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn one_vs_rest_with_a_one_logit_head_and_a_threshold_chosen_on_validation() {
    let Some(cpu) = common::cpu_run(600, 200) else {
        return common::skipped("no CPU backend");
    };
    let flags = [
        "--limit",
        "600",
        "--model",
        "lenet5",
        "--positive-class",
        "3",
        "--binary-head",
        "--pos-weight",
        "2",
        "--threshold",
        "recall:0.9",
    ];
    let out = common::train_mnist(&cpu.data, &cpu.art, cpu.backend, &flags);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("decision: `3` when its probability is at least"),
        "{stdout}"
    );

    let config = json(&cpu.art.join("config.json"));
    let head = &config["binary_head"];
    assert_eq!(config["positive_class"], 3);
    assert_eq!(
        (
            head["pos_weight"].as_f64(),
            head["threshold"]["rule"].as_str()
        ),
        (Some(2.0), Some("min_recall"))
    );
    let threshold = head["chosen"].as_f64().unwrap();
    assert!(threshold > 0.0 && threshold < 1.0, "{threshold}");

    // The test report: two classes, the threshold used, predictions decided by it.
    let eval = json(&cpu.art.join("eval.json"));
    assert_eq!(eval["class_names"], serde_json::json!(["not 3", "3"]));
    assert_eq!(
        eval["decision_threshold"]["threshold"].as_f64(),
        Some(threshold)
    );
    let predictions = std::fs::read_to_string(cpu.art.join("predictions.csv")).unwrap();
    let mut lines = predictions.lines();
    assert_eq!(lines.next(), Some("index,label,prediction,score_0,score_1"));
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let (p0, p1): (f64, f64) = (cells[3].parse().unwrap(), cells[4].parse().unwrap());
        assert!(
            (p0 + p1 - 1.0).abs() < 1e-5,
            "sigmoid and its complement: {line}"
        );
        assert_eq!(cells[2], if p1 >= threshold { "1" } else { "0" }, "{line}");
    }

    // `kiln eval` applies the recorded threshold: the same report.
    let again = cpu.tmp.path().join("again");
    let out = common::kiln_bin(&[
        "eval",
        "--artifact-dir",
        cpu.art.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    // The reloaded one-logit model's probabilities may differ from the trained one's in the last
    // float32 bit: everything computed from the decisions and the order of the scores is equal,
    // the calibration figures (means of probabilities) and the ECE's interval within 1e-6.
    let (mut reread, mut eval) = (json(&again.join("eval.json")), eval);
    let (a, b) = (reread["calibration"].take(), eval["calibration"].take());
    let (ia, ib) = (reread["ci"]["ece"].take(), eval["ci"]["ece"].take());
    assert_eq!(reread, eval);
    let close = |a: &serde_json::Value, b: &serde_json::Value, what: &str| {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() < 1e-6, "{what}: {a} vs {b}");
    };
    for key in ["ece", "mce", "classwise_ece", "brier", "log_loss"] {
        close(&a[key], &b[key], key);
    }
    close(&ia[0], &ib[0], "ci.ece[0]");
    close(&ia[1], &ib[1], "ci.ece[1]");

    // Bad settings are named.
    let bad = |extra: &[&str], flag: &str| {
        let out = common::train_mnist(&cpu.data, &cpu.tmp.path().join("bad"), cpu.backend, extra);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    };
    bad(&["--binary-head"], "--binary-head");
    bad(
        &[
            "--positive-class",
            "3",
            "--binary-head",
            "--threshold",
            "recall",
        ],
        "--threshold",
    );
    bad(&["--positive-class", "12"], "--positive-class");
}
