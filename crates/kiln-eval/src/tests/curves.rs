use super::*;

#[test]
fn hand_checked_curve_and_scores() {
    // Scores 0.9(+), 0.8(-), 0.7(+), 0.6(-): ranks give AP = (1 + 2/3) / 2, AUC = 3/4.
    let y = [true, false, true, false];
    let s = [0.9, 0.8, 0.7, 0.6];
    let pr = precision_recall_curve(&y, &s).unwrap();
    assert_eq!(pr.thresholds, vec![0.6, 0.7, 0.8, 0.9]);
    assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
    assert_eq!(pr.precision, vec![0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
    assert!((average_precision(&y, &s).unwrap() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-15);
    assert_eq!(roc_auc(&y, &s).unwrap(), 0.75);
    assert!(roc_auc(&[true, true], &[0.1, 0.2]).unwrap().is_nan());
}

#[test]
fn no_positive_samples() {
    // scikit-learn: average_precision_score([0, 0, 0], [0.1, 0.5, 0.2]) == 0.0
    assert_eq!(
        average_precision(&[false; 3], &[0.1, 0.5, 0.2]).unwrap(),
        0.0
    );
    // One-vs-rest with class 2 absent: its AP 0 counts in the macro average (as scikit-learn's
    // average_precision_score(label_binarize(y), scores, average="macro")).
    let labels = [0, 1, 0, 1];
    let scores = [0.9, 0.1, 0.0, 0.2, 0.7, 0.1, 0.8, 0.1, 0.1, 0.3, 0.6, 0.1];
    let ap = average_precision_ovr(&labels, &scores, 3).unwrap();
    assert_eq!(ap.per_class, vec![1.0, 1.0, 0.0]);
    assert!((ap.macro_avg - 2.0 / 3.0).abs() < 1e-15);
    assert!(roc_auc_ovr(&labels, &scores, 3).unwrap().per_class[2].is_nan());
}

#[test]
fn mismatched_or_non_finite_inputs_are_errors() {
    let mismatch = |r: Result<f64, EvalError>| matches!(r, Err(EvalError::LengthMismatch { .. }));
    assert!(mismatch(roc_auc(&[true, false], &[0.5])));
    assert!(mismatch(average_precision(&[true], &[0.5, 0.1])));
    assert!(mismatch(auc(&[0.0, 1.0], &[1.0])));
    assert!(matches!(
        precision_recall_curve(&[true, false], &[0.5, f64::NAN]),
        Err(EvalError::NonFiniteScore { index: 1, .. })
    ));
    assert!(matches!(
        roc_curve(&[true, false], &[f64::INFINITY, 0.1]),
        Err(EvalError::NonFiniteScore { index: 0, .. })
    ));
    assert!(matches!(
        roc_auc_ovr(&[0, 1], &[0.5, 0.5, 0.5], 2),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        average_precision_ovr(&[0, 2], &[0.5, 0.5, 0.5, 0.5], 2),
        Err(EvalError::LabelOutOfRange { label: 2, .. })
    ));
}
