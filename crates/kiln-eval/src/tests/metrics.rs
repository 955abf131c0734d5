use super::*;

fn cm(t: &[usize], p: &[usize], k: usize) -> ConfusionMatrix {
    ConfusionMatrix::from_labels(t, p, k).unwrap()
}

#[test]
fn hand_checked_three_class_case() {
    // y_true = [0,0,0,1,1,2], y_pred = [0,0,1,1,2,2]
    let m = cm(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 3);
    let rows = per_class(&m, &[0, 1, 2], ZeroDivision::Zero);
    // class 0: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8
    assert_eq!(rows[0].precision, 1.0);
    assert!((rows[0].recall - 2.0 / 3.0).abs() < 1e-15);
    assert!((rows[0].f1 - 0.8).abs() < 1e-15);
    // class 1: tp 1, fp 1, fn 1 -> 0.5 each
    assert_eq!(
        (rows[1].precision, rows[1].recall, rows[1].f1),
        (0.5, 0.5, 0.5)
    );
    // class 2: tp 1, fp 1, fn 0 -> P 0.5, R 1, F1 2/3
    assert_eq!((rows[2].precision, rows[2].recall), (0.5, 1.0));
    assert_eq!(accuracy(&m), 4.0 / 6.0);
    assert!((balanced_accuracy(&m) - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-15);
    let w = weighted_average(&rows);
    assert!(
        (w.recall - accuracy(&m)).abs() < 1e-15,
        "weighted recall = accuracy"
    );
    let micro = micro_average(&m, &[0, 1, 2], ZeroDivision::Zero);
    assert!(
        (micro.f1 - accuracy(&m)).abs() < 1e-15,
        "micro F1 = accuracy"
    );
}

#[test]
fn zero_division_applies_only_to_empty_denominators() {
    // Class 1 is never predicted: precision 0/0; class 2 never occurs: recall 0/0.
    let m = cm(&[0, 1], &[0, 0], 3);
    for (zd, v) in [(ZeroDivision::Zero, 0.0), (ZeroDivision::One, 1.0)] {
        let r = per_class(&m, &[0, 1, 2], zd);
        assert_eq!(r[1].precision, v);
        assert_eq!(r[1].recall, 0.0, "1 true sample, 0 found: a real 0");
        assert_eq!(
            r[1].f1, 0.0,
            "tp = 0 with fn > 0 is F1 0 whatever zero_division"
        );
        assert_eq!((r[2].precision, r[2].recall, r[2].f1), (v, v, v));
    }
    assert!(per_class(&m, &[2], ZeroDivision::Nan)[0].f1.is_nan());
    assert_eq!(balanced_accuracy(&m), 0.5, "absent class 2 is not averaged");
}
