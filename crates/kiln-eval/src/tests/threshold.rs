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

#[test]
fn counts_at_a_fixed_threshold_agree_with_the_chosen_ones() {
    let y = [true, false, true, false, true];
    let s = [0.9, 0.8, 0.7, 0.6, 0.1];
    let at = at_threshold(&y, &s, 0.7).unwrap();
    assert_eq!((at.tp, at.fp, at.fn_, at.tn), (2, 1, 1, 1));
    assert_eq!(
        (at.precision, at.recall, at.f1),
        (2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0)
    );
    let best = choose_threshold(&y, &s, ThresholdRule::BestF1)
        .unwrap()
        .unwrap();
    assert_eq!(at_threshold(&y, &s, best.threshold).unwrap(), best);
    let none = at_threshold(&y, &s, 2.0).unwrap();
    assert_eq!((none.tp, none.precision, none.f1), (0, 0.0, 0.0));
    assert!(at_threshold(&y, &s[..4], 0.5).is_err());
}
