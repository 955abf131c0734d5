use super::*;

#[test]
fn text_matches_scikit_learn_layout() {
    // sklearn.metrics.classification_report([0,0,0,1,1,2], [0,0,1,1,2,2])
    let cm = ConfusionMatrix::from_labels(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 3).unwrap();
    let r = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero).unwrap();
    let expected = concat!(
        "              precision    recall  f1-score   support\n",
        "\n",
        "           0       1.00      0.67      0.80         3\n",
        "           1       0.50      0.50      0.50         2\n",
        "           2       0.50      1.00      0.67         1\n",
        "\n",
        "    accuracy                           0.67         6\n",
        "   macro avg       0.67      0.72      0.66         6\n",
        "weighted avg       0.75      0.67      0.68         6\n",
    );
    assert_eq!(r.to_text(2), expected);
}

#[test]
fn json_has_the_sklearn_keys_in_order() {
    let cm = ConfusionMatrix::from_labels(&[0, 2], &[0, 0], 3).unwrap();
    let r = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero).unwrap();
    let v = r.to_json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..5],
        ["0", "2", "accuracy", "macro avg", "weighted avg"]
    );
    assert_eq!(v["confusion_matrix"], json!([[1, 0], [1, 0]]));
    assert_eq!(v["2"]["support"], json!(1));
}
