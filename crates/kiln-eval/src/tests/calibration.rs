use super::*;

#[test]
fn a_confidence_of_exactly_one_has_a_slot_of_its_own() {
    let edges = bin_edges(15);
    assert_eq!(slot(&edges, 0.0), 0);
    assert_eq!(slot(&edges, edges[1]), 1);
    assert_eq!(slot(&edges, 0.999_999), 14);
    assert_eq!(slot(&edges, 1.0), 15);
}

#[test]
fn perfectly_calibrated_bins_have_no_error() {
    // Four samples at confidence 0.75, three right; four at 1.0, all right.
    let labels = [0, 0, 0, 1, 1, 1, 1, 1];
    let mut probs = Vec::new();
    for _ in 0..4 {
        probs.extend([0.75, 0.25]);
    }
    for _ in 0..4 {
        probs.extend([0.0, 1.0]);
    }
    let c = Calibration::new(&labels, &probs, 2, 15).unwrap();
    assert!(c.ece.abs() < 1e-15, "{}", c.ece);
    assert!(c.mce.abs() < 1e-15);
    assert_eq!(c.reliability.len(), 16);
    assert_eq!(c.reliability[15].count, 4);
    // Brier (halved for two classes) = mean (p1 − y)²: 3 × 0.25² + 0.75² over 8.
    assert!((c.brier - (3.0 * 0.0625 + 0.5625) / 8.0).abs() < 1e-15);
}

#[test]
fn overconfidence_is_the_gap_between_confidence_and_accuracy() {
    // Confidence 0.9, half right: ECE = MCE = 0.4.
    let labels = [0, 1, 0, 1];
    let probs = [0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1];
    let c = Calibration::new(&labels, &probs, 2, 10).unwrap();
    assert!((c.ece - 0.4).abs() < 1e-12);
    assert!((c.mce - 0.4).abs() < 1e-12);
    assert!((c.log_loss - (-(0.9f64.ln()) - 0.1f64.ln()) / 2.0).abs() < 1e-12);
}

#[test]
fn scores_that_are_not_probabilities_are_refused() {
    assert!(!is_probability_rows(&[2.0, -1.0], 2));
    assert!(!is_probability_rows(&[0.5, 0.6], 2));
    assert!(is_probability_rows(&[0.5, 0.5], 2));
    let err = Calibration::new(&[0], &[2.0, -1.0], 2, 15).unwrap_err();
    assert!(err.to_string().contains("probabilities"), "{err}");
    assert!(Calibration::new(&[0], &[0.5, 0.5], 2, 0).is_err());
    assert!(matches!(
        Calibration::new(&[], &[], 2, 15),
        Err(EvalError::Empty)
    ));
}

#[test]
fn log_loss_clips_a_zero_probability_as_scikit_learn() {
    let c = Calibration::new(&[1], &[1.0, 0.0], 2, 15).unwrap();
    assert!(
        (c.log_loss + f64::EPSILON.ln()).abs() < 1e-12,
        "{}",
        c.log_loss
    );
}
