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
fn thresholds_by_rule() {
    let y = [true, false, true, false, true];
    let s = [0.9, 0.8, 0.7, 0.6, 0.1];
    let best = choose_threshold(&y, &s, ThresholdRule::BestF1).unwrap();
    // At 0.7: tp 2, fp 1, fn 1 -> F1 = 4/6; at 0.1: tp 3, fp 2 -> F1 = 6/8 (best).
    assert_eq!(
        (best.threshold, best.tp, best.fp, best.fn_, best.tn),
        (0.1, 3, 2, 0, 0)
    );
    let strict = choose_threshold(&y, &s, ThresholdRule::MaxRecallAtPrecision(1.0)).unwrap();
    assert_eq!((strict.threshold, strict.recall), (0.9, 1.0 / 3.0));
    let full = choose_threshold(&y, &s, ThresholdRule::MaxPrecisionAtRecall(1.0)).unwrap();
    assert_eq!((full.threshold, full.precision), (0.1, 0.6));
    assert!(choose_threshold(&[false, false], &[0.1, 0.2], ThresholdRule::BestF1).is_none());
}
