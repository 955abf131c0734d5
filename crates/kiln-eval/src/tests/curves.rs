use super::*;

#[test]
fn hand_checked_curve_and_scores() {
    // Scores 0.9(+), 0.8(-), 0.7(+), 0.6(-): ranks give AP = (1 + 2/3) / 2, AUC = 3/4.
    let y = [true, false, true, false];
    let s = [0.9, 0.8, 0.7, 0.6];
    let pr = precision_recall_curve(&y, &s);
    assert_eq!(pr.thresholds, vec![0.6, 0.7, 0.8, 0.9]);
    assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
    assert_eq!(pr.precision, vec![0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
    assert!((average_precision(&y, &s) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-15);
    assert_eq!(roc_auc(&y, &s), 0.75);
    assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_nan());
}

#[test]
fn no_positive_samples() {
    // scikit-learn: average_precision_score([0, 0, 0], [0.1, 0.5, 0.2]) == 0.0
    assert_eq!(average_precision(&[false; 3], &[0.1, 0.5, 0.2]), 0.0);
    // One-vs-rest with class 2 absent: its AP 0 counts in the macro average (as scikit-learn's
    // average_precision_score(label_binarize(y), scores, average="macro")).
    let labels = [0, 1, 0, 1];
    let scores = [0.9, 0.1, 0.0, 0.2, 0.7, 0.1, 0.8, 0.1, 0.1, 0.3, 0.6, 0.1];
    let ap = average_precision_ovr(&labels, &scores, 3);
    assert_eq!(ap.per_class, vec![1.0, 1.0, 0.0]);
    assert!((ap.macro_avg - 2.0 / 3.0).abs() < 1e-15);
    assert!(roc_auc_ovr(&labels, &scores, 3).per_class[2].is_nan());
}
