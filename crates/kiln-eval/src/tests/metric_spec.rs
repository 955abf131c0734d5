use super::*;

fn names() -> Vec<String> {
    ["Cat", "Dog", "Fish"].map(String::from).to_vec()
}

#[test]
fn named_metrics_match_the_metric_functions() {
    // y_true = [0,0,0,1,1,2], y_pred = [0,0,1,1,2,2]: class 1 has P = R = 0.5.
    let cm = ConfusionMatrix::from_labels(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 3).unwrap();
    let value = |s: &str| MetricSpec::parse(s, &names()).unwrap().compute(&cm);
    assert_eq!(value("accuracy"), 4.0 / 6.0);
    assert_eq!(value("recall:Cat"), 2.0 / 3.0);
    assert_eq!(value("recall:0"), 2.0 / 3.0);
    assert_eq!(value("precision:Dog"), 0.5);
    assert_eq!(value("f1:Fish"), 2.0 / 3.0);
    // Fish: tn = 4 (rows 0,1 minus the one Dog predicted as Fish), fp = 1 -> 4/5.
    assert_eq!(value("specificity:Fish"), 0.8);
    assert_eq!(value("macro_f1"), metrics::macro_f1(&cm));
    assert_eq!(value("mcc"), metrics::matthews_corrcoef(&cm));
    assert_eq!(value("balanced_accuracy"), metrics::balanced_accuracy(&cm));
    for name in GLOBAL_METRICS {
        assert!(value(name).is_finite(), "{name}");
    }
    assert!(
        MetricSpec::parse("macro_f1", &names())
            .unwrap()
            .compute(&ConfusionMatrix::new(3))
            .is_nan()
    );
}

#[test]
fn unknown_metrics_and_classes_are_errors() {
    for bad in ["f2", "recall:Bird", "recall:3", "auc:Cat", ""] {
        let err = MetricSpec::parse(bad, &names()).unwrap_err();
        assert!(
            matches!(&err, EvalError::UnknownMetric { spec, .. } if spec == bad),
            "{bad}: {err}"
        );
    }
}
