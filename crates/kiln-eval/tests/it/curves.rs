//! Curves and ranking scores against scikit-learn (`fixtures/gen_curves.py`): 18 binary cases
//! (ties, imbalance) and 8 one-vs-rest cases (3 and 10 classes). Every number to 1e-9.

use kiln_eval::curves::{
    average_precision, average_precision_ovr, precision_recall_curve, roc_auc, roc_auc_ovr,
    roc_curve,
};
use serde_json::Value;

use crate::common::num;

fn doc() -> Value {
    serde_json::from_str(include_str!("../fixtures/curves_cases.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn same(ours: &[f64], theirs: &Value, what: &str) {
    let theirs = floats(theirs);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{what}: length {ours:?} vs {theirs:?}"
    );
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        let ok = o == t || (o.is_nan() && t.is_nan()) || (o - t).abs() <= 1e-9;
        assert!(ok, "{what}[{i}]: kiln {o} vs scikit-learn {t}");
    }
}

#[test]
fn binary_curves_match_scikit_learn() {
    let doc = doc();
    let cases = doc["binary"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for (n, c) in cases.iter().enumerate() {
        let y: Vec<bool> = c["y_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v == 1)
            .collect();
        let s = floats(&c["scores"]);
        let pr = precision_recall_curve(&y, &s).unwrap();
        same(
            &pr.precision,
            &c["pr"]["precision"],
            &format!("case {n} PR precision"),
        );
        same(
            &pr.recall,
            &c["pr"]["recall"],
            &format!("case {n} PR recall"),
        );
        same(
            &pr.thresholds,
            &c["pr"]["thresholds"],
            &format!("case {n} PR thresholds"),
        );
        let roc = roc_curve(&y, &s).unwrap();
        same(&roc.fpr, &c["roc"]["fpr"], &format!("case {n} ROC fpr"));
        same(&roc.tpr, &c["roc"]["tpr"], &format!("case {n} ROC tpr"));
        same(
            &roc.thresholds,
            &c["roc"]["thresholds"],
            &format!("case {n} ROC thresholds"),
        );
        same(
            &[roc_auc(&y, &s).unwrap()],
            &Value::from(vec![c["roc_auc"].clone()]),
            &format!("case {n} AUC"),
        );
        same(
            &[average_precision(&y, &s).unwrap()],
            &Value::from(vec![c["average_precision"].clone()]),
            &format!("case {n} AP"),
        );
    }
}

#[test]
fn one_vs_rest_scores_match_scikit_learn() {
    let doc = doc();
    for (n, c) in doc["multiclass"].as_array().unwrap().iter().enumerate() {
        let k = c["num_classes"].as_u64().unwrap() as usize;
        let labels: Vec<usize> = c["y_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let scores: Vec<f64> = c["scores"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(floats)
            .collect();
        let auc = roc_auc_ovr(&labels, &scores, k).unwrap();
        same(
            &auc.per_class,
            &c["roc_auc"]["per_class"],
            &format!("case {n} AUC per class"),
        );
        same(
            &[auc.macro_avg, auc.weighted],
            &Value::from(vec![
                c["roc_auc"]["macro"].clone(),
                c["roc_auc"]["weighted"].clone(),
            ]),
            &format!("case {n} AUC avg"),
        );
        let ap = average_precision_ovr(&labels, &scores, k).unwrap();
        same(
            &ap.per_class,
            &c["average_precision"]["per_class"],
            &format!("case {n} AP per class"),
        );
        same(
            &[ap.macro_avg],
            &Value::from(vec![c["average_precision"]["macro"].clone()]),
            &format!("case {n} AP macro"),
        );
    }
}
