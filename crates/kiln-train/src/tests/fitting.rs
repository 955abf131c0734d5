use super::*;

fn names() -> Vec<String> {
    ["a", "b"].map(String::from).to_vec()
}

/// Train and validation rows from `(train loss, train acc, valid loss, valid acc)` per epoch.
fn curve(rows: &[(f64, f64, f64, f64)]) -> Vec<CurvePoint> {
    rows.iter()
        .enumerate()
        .flat_map(|(i, &(tl, ta, vl, va))| {
            [
                CurvePoint {
                    epoch: i + 1,
                    phase: Phase::Train,
                    loss: tl,
                    accuracy: ta,
                },
                CurvePoint {
                    epoch: i + 1,
                    phase: Phase::Valid,
                    loss: vl,
                    accuracy: va,
                },
            ]
        })
        .collect()
}

fn kinds(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.kind).collect()
}

#[test]
fn a_rising_validation_loss_and_a_growing_gap_are_overfitting() {
    let c = curve(&[
        (0.9, 0.70, 0.80, 0.72),
        (0.5, 0.85, 0.60, 0.80),
        (0.3, 0.92, 0.65, 0.81),
        (0.1, 0.98, 0.75, 0.82),
    ]);
    let t = DiagnosticThresholds::default();
    let d = run_diagnostics(&[500, 500], &c, &names(), &t);
    assert_eq!(kinds(&d), ["overfitting", "generalization_gap"]);
    assert_eq!(d[0].numbers["best_epoch"], 2.0);
    assert!((d[0].numbers["rise"] - 0.25).abs() < 1e-12);
    assert!(
        d[0].message.starts_with(
            "validation loss bottomed out at epoch 2 (0.6000) and rose 25.0% by epoch 4 (0.7500)"
        ),
        "{}",
        d[0].message
    );
    assert!((d[1].numbers["gap"] - 0.16).abs() < 1e-12);
    assert!(
        d[1].message.contains("a gap of 16.0 points, up from -2.0"),
        "{}",
        d[1].message
    );
    // Thresholds move them: a 30% allowed rise and a 20-point allowed gap.
    let lenient = DiagnosticThresholds {
        loss_rise: 0.30,
        overfit_gap: 0.20,
        ..t
    };
    assert!(run_diagnostics(&[500, 500], &c, &names(), &lenient).is_empty());
}

#[test]
fn a_falling_loss_at_the_end_says_more_epochs_may_help_and_chance_level_is_underfitting() {
    let t = DiagnosticThresholds::default();
    let improving = curve(&[(0.9, 0.70, 0.80, 0.72), (0.6, 0.80, 0.60, 0.80)]);
    let d = run_diagnostics(&[500, 500], &improving, &names(), &t);
    assert_eq!(kinds(&d), ["still_improving"]);
    assert!(
        d[0].message.contains("0.8000 → 0.6000, −25.0%"),
        "{}",
        d[0].message
    );

    // 90% of the training set is class `a`; 90.5% training accuracy is the baseline.
    let stuck = curve(&[(0.35, 0.90, 0.35, 0.90), (0.33, 0.905, 0.34, 0.90)]);
    let d = run_diagnostics(&[900, 100], &stuck, &names(), &t);
    assert_eq!(kinds(&d), ["imbalance", "still_improving", "underfitting"]);
    assert_eq!(d[0].class.as_deref(), Some("b"));
    assert!(d[0].message.starts_with("the training set is imbalanced"));
    assert!(d[2].message.contains("(90.0%)"), "{}", d[2].message);
    // No curves (a run without metrics.csv): only the imbalance.
    assert_eq!(
        kinds(&run_diagnostics(&[900, 100], &[], &names(), &t)),
        ["imbalance"]
    );
}

#[test]
fn metrics_csv_reads_back_as_the_curve() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("metrics.csv");
    std::fs::write(
        &path,
        "epoch,split,loss,accuracy,macro_f1,lr,seconds\n1,train,0.5,0.8,0.7,0.001,1.0\n\
         1,valid,0.25,0.875,0.8,0.001,0.1\n",
    )
    .unwrap();
    let c = read_curve(&path).unwrap();
    assert_eq!(c, curve(&[(0.5, 0.8, 0.25, 0.875)]));
    std::fs::write(&path, "epoch,split,loss,accuracy\n1,test,0.5,0.8\n").unwrap();
    let err = read_curve(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 2: split is neither train nor valid"),
        "{err}"
    );
}
