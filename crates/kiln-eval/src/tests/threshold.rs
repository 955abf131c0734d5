use super::*;

#[test]
fn thresholds_by_rule() {
    let y = [true, false, true, false, true];
    let s = [0.9, 0.8, 0.7, 0.6, 0.1];
    let best = choose_threshold(&y, &s, ThresholdRule::BestF1)
        .unwrap()
        .unwrap();
    // At 0.7: tp 2, fp 1, fn 1 -> F1 = 4/6; at 0.1: tp 3, fp 2 -> F1 = 6/8 (best).
    assert_eq!(
        (best.threshold, best.tp, best.fp, best.fn_, best.tn),
        (0.1, 3, 2, 0, 0)
    );
    let strict = choose_threshold(&y, &s, ThresholdRule::MaxRecallAtPrecision(1.0))
        .unwrap()
        .unwrap();
    assert_eq!((strict.threshold, strict.recall), (0.9, 1.0 / 3.0));
    let full = choose_threshold(&y, &s, ThresholdRule::MaxPrecisionAtRecall(1.0))
        .unwrap()
        .unwrap();
    assert_eq!((full.threshold, full.precision), (0.1, 0.6));
    assert!(
        choose_threshold(&[false, false], &[0.1, 0.2], ThresholdRule::BestF1)
            .unwrap()
            .is_none()
    );
}
