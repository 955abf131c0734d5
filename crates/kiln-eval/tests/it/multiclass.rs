//! Multiclass metrics against scikit-learn on 96 random cases (`fixtures/gen_multiclass.py`):
//! binary / 3 / 10 / 100 classes, balanced and imbalanced, absent classes, tied scores, every
//! zero_division mode. Every number to 1e-9.

use kiln_eval::metrics::{self, ZeroDivision};
use kiln_eval::{ConfusionMatrix, Normalize};
use serde_json::Value;

use crate::common;
use crate::common::{num, usizes};

fn entries() -> Vec<Value> {
    common::cases(include_str!("../fixtures/multiclass_cases.json"))
}

fn check(ours: f64, theirs: &Value, what: &str) {
    let theirs = num(theirs);
    let same = (ours.is_nan() && theirs.is_nan()) || (ours - theirs).abs() <= 1e-9;
    assert!(same, "{what}: kiln {ours} vs scikit-learn {theirs}");
}

fn check_all(ours: &[f64], theirs: &Value, what: &str) {
    let theirs = theirs.as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        check(*o, t, &format!("{what}[{i}]"));
    }
}

#[test]
fn multiclass_metrics_match_scikit_learn() {
    let entries = entries();
    let mut cases = 0;
    for e in &entries {
        let name = e["name"].as_str().unwrap();
        let k = e["num_classes"].as_u64().unwrap() as usize;
        let (t, p) = (usizes(&e["y_true"]), usizes(&e["y_pred"]));
        let cm = ConfusionMatrix::from_labels(&t, &p, k).unwrap();
        let labels: Vec<usize> = (0..k).collect();

        check(
            metrics::accuracy(&cm),
            &e["accuracy"],
            &format!("{name} accuracy"),
        );
        check(
            metrics::balanced_accuracy(&cm),
            &e["balanced_accuracy"],
            &format!("{name} balanced"),
        );
        check(
            metrics::cohen_kappa(&cm, &labels),
            &e["cohen_kappa"],
            &format!("{name} kappa"),
        );
        check(
            metrics::matthews_corrcoef(&cm),
            &e["matthews_corrcoef"],
            &format!("{name} mcc"),
        );
        let support: Vec<u64> = labels.iter().map(|&c| cm.support(c)).collect();
        assert_eq!(
            support,
            usizes(&e["support"])
                .iter()
                .map(|&s| s as u64)
                .collect::<Vec<_>>()
        );

        let scores: Vec<f64> = e["scores"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(num))
            .collect();
        for (kk, v) in e["top_k"].as_object().unwrap() {
            let kk: usize = kk.parse().unwrap();
            check(
                metrics::top_k_accuracy(&scores, k, &t, kk).unwrap(),
                v,
                &format!("{name} top-{kk}"),
            );
        }
        for (norm, key) in [
            (Normalize::True, "confusion_true"),
            (Normalize::Pred, "confusion_pred"),
            (Normalize::All, "confusion_all"),
        ] {
            if let Some(rows) = e[key].as_array() {
                for (ours, theirs) in cm.normalized(&labels, norm).iter().zip(rows) {
                    check_all(ours, theirs, &format!("{name} {key}"));
                }
            }
        }

        for (zd_name, by) in e["by_zero_division"].as_object().unwrap() {
            let zd = match zd_name.as_str() {
                "0" => ZeroDivision::Zero,
                "1" => ZeroDivision::One,
                "nan" => ZeroDivision::Nan,
                other => panic!("{other}"),
            };
            let what = format!("{name} zd={zd_name}");
            check_all(
                &metrics::specificity(&cm, &labels, zd),
                &by["specificity"],
                &format!("{what} specificity"),
            );
            for (beta_name, b) in [("0.5", 0.5), ("1.0", 1.0), ("2.0", 2.0)] {
                let want = &by[beta_name];
                let rows = metrics::per_class_beta(&cm, &labels, b, zd);
                let w = format!("{what} beta={beta_name}");
                check_all(
                    &rows.iter().map(|s| s.precision).collect::<Vec<_>>(),
                    &want["precision"],
                    &format!("{w} precision"),
                );
                check_all(
                    &rows.iter().map(|s| s.recall).collect::<Vec<_>>(),
                    &want["recall"],
                    &format!("{w} recall"),
                );
                check_all(
                    &rows.iter().map(|s| s.f1).collect::<Vec<_>>(),
                    &want["fbeta"],
                    &format!("{w} fbeta"),
                );
                let averages = [
                    ("macro", metrics::macro_average(&rows)),
                    ("weighted", metrics::weighted_average(&rows)),
                    ("micro", metrics::micro_average_beta(&cm, &labels, b, zd)),
                ];
                for (avg, s) in averages {
                    check_all(
                        &[s.precision, s.recall, s.f1],
                        &want[avg],
                        &format!("{w} {avg}"),
                    );
                }
            }
            cases += 1;
        }
    }
    assert!(cases >= 60, "only {cases} cases");
}

/// The confusion matrix accumulated in parts equals the one from a single pass.
#[test]
fn merge_equals_single_pass() {
    for e in entries().iter().take(8) {
        let k = e["num_classes"].as_u64().unwrap() as usize;
        let (t, p) = (usizes(&e["y_true"]), usizes(&e["y_pred"]));
        let whole = ConfusionMatrix::from_labels(&t, &p, k).unwrap();
        let mut merged = ConfusionMatrix::new(k);
        for (tc, pc) in t.chunks(37).zip(p.chunks(37)) {
            merged
                .merge(&ConfusionMatrix::from_labels(tc, pc, k).unwrap())
                .unwrap();
        }
        assert_eq!(merged, whole);
    }
}
