use super::*;

fn logits_and_labels() -> (Vec<f64>, Vec<usize>) {
    // Three classes; the label is the argmax 2 times in 3: confident logits, overconfident.
    let mut logits = Vec::new();
    let mut labels = Vec::new();
    for i in 0..300 {
        let c = i % 3;
        let mut row = vec![0.0; 3];
        row[c] = 6.0;
        logits.extend(row);
        labels.push(if i % 3 == 0 { (c + 1) % 3 } else { c });
    }
    (logits, labels)
}

#[test]
fn the_fit_is_the_stationary_point_of_the_nll() {
    let (logits, labels) = logits_and_labels();
    let fit = fit_temperature(&labels, &logits, 3).unwrap();
    // Overconfident: T > 1, and the NLL drops.
    assert!(fit.temperature > 1.0, "{fit:?}");
    assert!(fit.nll_after < fit.nll_before);
    // The right probability is 2/3 at the optimum: softmax(6/T) = 2/3 with two others at 0,
    // e^{6/T} / (e^{6/T} + 2) = 2/3 → e^{6/T} = 4 → T = 6 / ln 4.
    assert!((fit.temperature - 6.0 / 4f64.ln()).abs() < 1e-9, "{fit:?}");
    for t in [0.99, 1.01] {
        assert!(mean_nll(&labels, &logits, 3, fit.temperature * t) > fit.nll_after);
    }
}

#[test]
fn unscaling_recovers_the_probabilities_before_the_temperature() {
    let row = [2.0, -1.0, 0.5];
    let scaled = softmax(&row, 2.5);
    let back = unscaled(&scaled, 3, 2.5);
    for (a, b) in back.iter().zip(softmax(&row, 1.0)) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn separable_logits_hit_the_bound() {
    let fit = fit_temperature(&[0, 1], &[5.0, 0.0, 0.0, 5.0], 2).unwrap();
    assert_eq!(fit.temperature, MIN_TEMPERATURE);
    assert!(fit_temperature(&[], &[], 2).is_err());
    assert!(fit_temperature(&[2], &[0.0, 1.0], 2).is_err());
}
