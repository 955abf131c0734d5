use super::*;

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

/// A confusion matrix from `(true, predicted, count)` cells.
fn cm(k: usize, cells: &[(usize, usize, u64)]) -> ConfusionMatrix {
    let mut m = ConfusionMatrix::new(k);
    for &(t, p, n) in cells {
        m.add(t, p, n).unwrap();
    }
    m
}

fn warnings(d: &[Diagnostic]) -> Vec<&'static str> {
    d.iter()
        .filter(|x| x.severity == Severity::Warning)
        .map(|x| x.kind)
        .collect()
}

#[test]
fn ninety_eight_percent_accuracy_with_twelve_percent_recall_is_called_out_with_the_numbers() {
    // 2,400 transactions, 50 frauds (2.1%): 6 caught, 44 missed, 4 false alarms → 98.0%.
    let m = cm(2, &[(0, 0, 2346), (0, 1, 4), (1, 1, 6), (1, 0, 44)]);
    let d = diagnose(
        &m,
        &names(&["legit", "fraud"]),
        &DiagnosticThresholds::default(),
    );
    let paradox = d.iter().find(|x| x.kind == "accuracy_paradox").unwrap();
    assert_eq!(paradox.class.as_deref(), Some("fraud"));
    assert!(
        paradox.message.starts_with(
            "accuracy 98.0% but recall of class `fraud` is 12.0% (it is 2.1% of the test set): \
             88.0% of its cases are missed"
        ),
        "{}",
        paradox.message
    );
    assert!(
        paradox
            .message
            .contains("precision of class `fraud` is 60.0%"),
        "{}",
        paradox.message
    );
    assert_eq!(paradox.numbers["recall"], 0.12);
    // The majority baseline (always `legit`: 97.9%) is within 5 points: flagged too.
    let baseline = &d[0];
    assert_eq!(
        (baseline.kind, baseline.severity),
        ("baseline", Severity::Warning)
    );
    assert!(baseline.message.contains("97.9%") && baseline.message.contains("`legit`"));
    assert_eq!(warnings(&d), ["baseline", "accuracy_paradox", "imbalance"]);
    // The legit class is fine: no warning names it.
    assert!(d.iter().all(|x| x.class.as_deref() != Some("legit")));
}

#[test]
fn a_balanced_good_model_gets_no_warning() {
    // 3 × 100 images, 95 right per class, the errors spread.
    let m = cm(
        3,
        &[
            (0, 0, 95),
            (0, 1, 3),
            (0, 2, 2),
            (1, 1, 95),
            (1, 0, 2),
            (1, 2, 3),
            (2, 2, 95),
            (2, 0, 3),
            (2, 1, 2),
        ],
    );
    let d = diagnose(
        &m,
        &names(&["a", "b", "c"]),
        &DiagnosticThresholds::default(),
    );
    assert!(warnings(&d).is_empty(), "{d:?}");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Info);
    assert!(
        d[0].message
            .contains("accuracy 95.0% against a majority-class baseline of 33.3%")
    );
}

#[test]
fn a_majority_class_predictor_is_flagged_against_the_baseline() {
    let m = cm(2, &[(0, 0, 90), (1, 0, 10)]);
    let d = diagnose(
        &m,
        &names(&["common", "rare"]),
        &DiagnosticThresholds::default(),
    );
    assert_eq!(warnings(&d), ["baseline", "accuracy_paradox", "imbalance"]);
    assert!(
        d[0].message
            .contains("accuracy 90.0% is within 5.0 points of the 90.0%"),
        "{}",
        d[0].message
    );
    assert!(
        d[0].message.contains("Cohen's kappa 0.000"),
        "{}",
        d[0].message
    );
    // Nothing is predicted `rare`: its recall is the finding, precision is not judged.
    let p = &d[1];
    assert!(
        p.message.contains("recall of class `rare` is 0.0%") && !p.message.contains("precision")
    );
    assert!(
        d[2].message.contains("9.0×") && d[2].message.contains("`rare`, 10.0%"),
        "{}",
        d[2].message
    );
}

#[test]
fn thresholds_are_settings_and_empty_input_has_no_diagnostics() {
    let m = cm(2, &[(0, 0, 90), (1, 0, 10)]);
    let lenient = DiagnosticThresholds {
        baseline_margin: 0.0,
        paradox_gap: 1.5,
        imbalance_ratio: 10.0,
        ..DiagnosticThresholds::default()
    };
    assert!(warnings(&diagnose(&m, &names(&["a", "b"]), &lenient)).is_empty());
    assert!(
        diagnose(
            &ConfusionMatrix::new(3),
            &[],
            &DiagnosticThresholds::default()
        )
        .is_empty()
    );
    // Unnamed classes are called by their label.
    let d = diagnose(&m, &[], &DiagnosticThresholds::default());
    assert!(d[1].message.contains("class `1`"), "{}", d[1].message);
}

/// Always predicting `common` on 90 `common` + 10 `rare` images, and its report.
fn majority_predictor_report() -> (ConfusionMatrix, crate::ClassificationReport) {
    let m = cm(2, &[(0, 0, 90), (1, 0, 10)]);
    let names = names(&["common", "rare"]);
    let report =
        crate::ClassificationReport::new(&m, None, Some(&names), ZeroDivision::Zero).unwrap();
    (m, report)
}

#[test]
fn a_report_diagnoses_its_own_confusion_matrix_and_prints_tagged_lines() {
    let (m, report) = majority_predictor_report();
    let d = report.diagnostics();
    assert_eq!(
        d,
        diagnose(
            &m,
            &names(&["common", "rare"]),
            &DiagnosticThresholds::default()
        )
    );
    let text = diagnostics_text(&d);
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().all(|l| l.starts_with("warning: ")), "{text}");
}

#[test]
fn eval_json_carries_the_diagnostics_after_the_scikit_learn_keys() {
    let (_, report) = majority_predictor_report();
    let doc = report.to_json();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys.last().map(|k| k.as_str()), Some("diagnostics"));
    let d = &doc["diagnostics"];
    assert_eq!(d.as_array().unwrap().len(), 3);
    assert_eq!(d[0]["kind"], "baseline");
    assert_eq!(d[0]["severity"], "warning");
    assert_eq!(d[1]["class"], "rare");
    assert_eq!(d[1]["numbers"]["recall"], 0.0);
    assert_eq!(d[2]["numbers"]["imbalance_ratio"], 9.0);
}

#[test]
fn imbalance_of_any_split_and_the_thresholds_move_the_warnings() {
    let names = names(&["a", "b", "c"]);
    let t = DiagnosticThresholds::default();
    let d = imbalance("training", &[600, 0, 150], &names, &t).unwrap();
    assert_eq!(d.class.as_deref(), Some("c"), "empty classes are left out");
    assert!(
        d.message
            .starts_with("the training set is imbalanced: the largest class has 4.0×"),
        "{}",
        d.message
    );
    assert_eq!(d.numbers["smallest_share"], 0.2);
    let relaxed = DiagnosticThresholds {
        imbalance_ratio: 5.0,
        ..t
    };
    assert!(imbalance("training", &[600, 0, 150], &names, &relaxed).is_none());
    assert!(imbalance("training", &[0, 0, 0], &names, &t).is_none());

    // A wider paradox gap silences the majority predictor's paradox warning; the report uses
    // the thresholds it carries.
    let (_, mut report) = majority_predictor_report();
    report.thresholds.paradox_gap = 0.95;
    let kinds: Vec<&str> = report.diagnostics().iter().map(|d| d.kind).collect();
    assert_eq!(kinds, ["baseline", "imbalance"]);
}

#[test]
fn scores_add_the_decision_boundary_count() {
    let m = cm(3, &[(0, 0, 2), (1, 1, 1), (2, 2, 1)]);
    let mut report = crate::ClassificationReport::new(&m, None, None, ZeroDivision::Zero).unwrap();
    // Margins 0.5, 0.05, 0.0 (a tie), 0.3.
    let scores = [
        0.7, 0.2, 0.1, //
        0.45, 0.5, 0.05, //
        0.4, 0.2, 0.4, //
        0.1, 0.3, 0.6,
    ];
    report.add_scores(&[0, 1, 2, 2], &scores, 3, None).unwrap();
    let d = report.diagnostics();
    let boundary = d.iter().find(|d| d.kind == "decision_boundary").unwrap();
    assert_eq!(boundary.numbers["near_boundary"], 2.0);
    assert!(
        boundary.message.contains("2 of 4 predictions (50.0%)"),
        "{}",
        boundary.message
    );
    report.thresholds.boundary_margin = 0.01;
    let d = report.diagnostics();
    let boundary = d.iter().find(|d| d.kind == "decision_boundary").unwrap();
    assert_eq!(boundary.numbers["near_boundary"], 1.0);
    // Extra diagnostics come last, as given.
    report.extra_diagnostics.push(d[0].clone());
    assert_eq!(report.diagnostics().last(), Some(&d[0]));
}
