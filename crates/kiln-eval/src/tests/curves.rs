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
