//! Calibration, temperature scaling, McNemar's test, the bootstrap and the per-class JSON keys
//! against `fixtures/gen_uncertainty.py` (scikit-learn, scipy, statsmodels, and a plain-numpy
//! implementation of torchmetrics' calibration error).

use kiln_eval::bootstrap::Bootstrap;
use kiln_eval::calibration::Calibration;
use kiln_eval::compare::mcnemar_exact;
use kiln_eval::temperature::fit_temperature;
use kiln_eval::{ClassSet, ClassificationReport, ConfusionMatrix, ZeroDivision};
use serde_json::Value;

use crate::common::{num, usizes};

fn doc() -> Value {
    serde_json::from_str(include_str!("../fixtures/uncertainty_cases.json")).unwrap()
}

fn rows(v: &Value) -> Vec<f64> {
    (v.as_array().unwrap().iter())
        .flat_map(|row| row.as_array().unwrap().iter().map(num))
        .collect()
}

fn close(ours: f64, theirs: f64, tolerance: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{what}: kiln {ours} vs reference {theirs}"
    );
}

#[test]
fn calibration_matches_scikit_learn_and_torchmetrics() {
    let doc = doc();
    let cases = doc["calibration"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let bins = case["bins"].as_u64().unwrap() as usize;
        let c = Calibration::new(&usizes(&case["labels"]), &rows(&case["probs"]), k, bins).unwrap();
        for (ours, key) in [
            (c.brier, "brier"),
            (c.log_loss, "log_loss"),
            (c.ece, "ece"),
            (c.mce, "mce"),
            (c.classwise_ece, "classwise_ece"),
        ] {
            close(ours, num(&case[key]), 1e-9, &format!("{name} {key}"));
        }
    }
}

#[test]
fn the_temperature_matches_scipy() {
    for case in doc()["temperature"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let fit = fit_temperature(&usizes(&case["labels"]), &rows(&case["logits"]), k).unwrap();
        close(fit.temperature, num(&case["temperature"]), 1e-4, name);
        close(fit.nll_before, num(&case["nll_at_1"]), 1e-9, name);
        close(fit.nll_after, num(&case["nll_at_t"]), 1e-9, name);
    }
}

#[test]
fn mcnemar_matches_scipy_and_statsmodels() {
    for case in doc()["mcnemar"].as_array().unwrap() {
        let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
        let p = mcnemar_exact(b, c);
        for key in ["p_binomtest", "p_statsmodels"] {
            let theirs = num(&case[key]);
            // Relative for the tiny p-values of large counts.
            let tolerance = 1e-9 * theirs.max(1e-300) + 1e-12;
            close(p, theirs, tolerance, &format!("({b}, {c}) {key}"));
        }
    }
}

/// The fixture statistic's name, and where kiln's report keeps it.
fn ours(report: &ClassificationReport, key: &str) -> (f64, kiln_eval::Interval) {
    let ci = report.intervals.as_ref().unwrap();
    let class = |s: &str| s.parse::<usize>().unwrap();
    match key.split_once(':') {
        Some(("precision", c)) => (report.rows[class(c)].precision, ci.precision[class(c)]),
        Some(("recall", c)) => (report.rows[class(c)].recall, ci.recall[class(c)]),
        _ => match key {
            "accuracy" => (report.micro.f1, ci.accuracy),
            "balanced_accuracy" => (report.balanced_accuracy, ci.balanced_accuracy),
            "macro_f1" => (report.macro_avg.f1, ci.macro_f1),
            "weighted_f1" => (report.weighted.f1, ci.weighted_f1),
            "roc_auc_macro" => (
                report.roc_auc.as_ref().unwrap().macro_avg,
                ci.roc_auc.unwrap(),
            ),
            "ece" => (report.calibration.as_ref().unwrap().ece, ci.ece.unwrap()),
            other => panic!("unknown statistic {other}"),
        },
    }
}

#[test]
fn bootstrap_intervals_contain_the_point_and_are_as_wide_as_numpy_s() {
    let doc = doc();
    let case = &doc["bootstrap"][0];
    assert_eq!(case["name"], "k4_n2000_imbalanced");
    let k = case["k"].as_u64().unwrap() as usize;
    let (truth, pred, probs) = (
        usizes(&case["labels"]),
        usizes(&case["predictions"]),
        rows(&case["probs"]),
    );
    let cm = ConfusionMatrix::from_labels(&truth, &pred, k).unwrap();
    let labels: Vec<usize> = (0..k).collect();
    let mut report =
        ClassificationReport::new(&cm, Some(&labels), None, ZeroDivision::Zero).unwrap();
    report.add_scores(&truth, &probs, k, None).unwrap();
    let resamples = case["resamples"].as_u64().unwrap() as usize;
    let bootstrap = Bootstrap::new(resamples, 1).unwrap();
    report
        .add_intervals(&truth, &pred, Some(&probs), k, bootstrap)
        .unwrap();
    let point = case["point"].as_object().unwrap();
    for (key, theirs) in point {
        let (value, interval) = ours(&report, key);
        close(value, num(theirs), 1e-9, &format!("{key} point"));
        assert!(
            interval.contains(value),
            "{key}: {value} outside {interval:?}"
        );
        let width = num(&case["high"][key]) - num(&case["low"][key]);
        let ratio = interval.width() / width;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{key}: width {} vs numpy's {width}",
            interval.width()
        );
    }
}

#[test]
fn string_labels_key_the_json_as_scikit_learn_s_output_dict() {
    let doc = doc();
    let case = &doc["report_keys"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    let mut csv = String::from("label,prediction\n");
    for (t, p) in strings(&case["labels"])
        .iter()
        .zip(strings(&case["predictions"]))
    {
        csv.push_str(&format!("{t},{p}\n"));
    }
    std::fs::write(&path, csv).unwrap();
    let p = kiln_eval::read_predictions_csv(&path, &ClassSet::Infer).unwrap();
    let cm = ConfusionMatrix::from_labels(&p.y_true, &p.y_pred, p.classes.len()).unwrap();
    let mut report =
        ClassificationReport::new(&cm, None, Some(&p.classes), ZeroDivision::Zero).unwrap();
    report.class_keys = Some(p.classes.clone());
    let json = report.to_json();
    let keys: Vec<&String> = json.as_object().unwrap().keys().take(6).collect();
    assert_eq!(keys, strings(&case["keys"]).iter().collect::<Vec<_>>());
    for (key, theirs) in case["report"].as_object().unwrap() {
        match theirs.as_object() {
            Some(scores) => {
                for (field, v) in scores {
                    close(
                        num(&json[key][field]),
                        num(v),
                        1e-12,
                        &format!("{key} {field}"),
                    );
                }
            }
            None => close(num(&json[key]), num(theirs), 1e-12, key),
        }
    }
}
