use super::*;

#[test]
fn mcnemar_is_the_two_sided_binomial_tail() {
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    assert_eq!(mcnemar_exact(3, 3), 1.0);
    // 2 · P[X ≤ 0] for X ~ Bin(1, ½) = 1; 2 · P[X ≤ 1] for Bin(6, ½) = 2 · 7/64.
    assert_eq!(mcnemar_exact(0, 1), 1.0);
    assert!((mcnemar_exact(5, 1) - 14.0 / 64.0).abs() < 1e-12);
    assert!((mcnemar_exact(1, 5) - 14.0 / 64.0).abs() < 1e-12);
}

fn names() -> [String; 2] {
    ["a".into(), "b".into()]
}

#[test]
fn a_run_compared_with_itself_differs_in_nothing() {
    let truth: Vec<usize> = (0..300).map(|i| i % 3).collect();
    let pred: Vec<usize> = (0..300)
        .map(|i| if i % 7 == 0 { (i + 1) % 3 } else { i % 3 })
        .collect();
    let classes: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
    let c = compare(
        names(),
        &truth,
        &pred,
        &pred,
        &classes,
        Bootstrap::default(),
    )
    .unwrap();
    assert_eq!((c.only_a, c.only_b, c.mcnemar_p), (0, 0, 1.0));
    assert_eq!(c.accuracy.difference, 0.0);
    assert_eq!(
        (c.accuracy.interval.low, c.accuracy.interval.high),
        (0.0, 0.0)
    );
    assert!(!c.accuracy.significant());
    assert!(
        c.verdict()[0].starts_with("No significant difference"),
        "{:?}",
        c.verdict()
    );
    assert!(c.to_text().contains("p = 1.0000"));
}

#[test]
fn a_clearly_better_run_is_called_significant() {
    let truth: Vec<usize> = (0..1000).map(|i| i % 2).collect();
    let a: Vec<usize> = (0..1000)
        .map(|i| if i % 4 == 0 { 1 - i % 2 } else { i % 2 })
        .collect();
    let b = truth.clone();
    let classes: Vec<String> = ["no", "yes"].map(String::from).to_vec();
    let c = compare(names(), &truth, &a, &b, &classes, Bootstrap::default()).unwrap();
    assert_eq!((c.only_a, c.only_b), (0, 250));
    assert!(c.mcnemar_p < 1e-70);
    assert!(c.accuracy.significant() && c.accuracy.interval.contains(0.25));
    assert!(c.verdict()[0].starts_with("B is significantly more accurate"));
    let json = c.to_json();
    assert_eq!(json["mcnemar"]["c"], 250);
    assert!(c.to_markdown().contains("| accuracy |"));
}

#[test]
fn different_lengths_are_refused() {
    let classes: Vec<String> = ["no", "yes"].map(String::from).to_vec();
    assert!(
        compare(
            names(),
            &[0, 1],
            &[0],
            &[0, 1],
            &classes,
            Bootstrap::default()
        )
        .is_err()
    );
}
