//! kiln-eval against scikit-learn's own answers (`fixtures/gen_sklearn.py` made the JSON).

use kiln_eval::{ClassificationReport, ConfusionMatrix, ZeroDivision};
use serde_json::Value;

use crate::common;
use crate::common::usizes;

fn close(a: &Value, b: &Value, what: &str) {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-12, "{what}: kiln {x} vs sklearn {y}"),
        _ => assert_eq!(a, b, "{what}"),
    }
}

#[test]
fn reports_match_scikit_learn() {
    let cases = common::cases(include_str!("../fixtures/sklearn_cases.json"));
    assert!(cases.len() >= 11);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (t, p) = (usizes(&case["y_true"]), usizes(&case["y_pred"]));
        let labels = case["labels"].as_array().map(|_| usizes(&case["labels"]));
        let k = t
            .iter()
            .chain(&p)
            .chain(labels.iter().flatten())
            .max()
            .unwrap()
            + 1;
        let zd = match case["zero_division"].as_str().unwrap() {
            "0" => ZeroDivision::Zero,
            "1" => ZeroDivision::One,
            "nan" => ZeroDivision::Nan,
            other => panic!("{other}"),
        };
        let cm = ConfusionMatrix::from_labels(&t, &p, k).unwrap();
        let report = ClassificationReport::new(&cm, labels.as_deref(), None, zd).unwrap();

        assert_eq!(
            report.to_text(4),
            integer_supports(case["text"].as_str().unwrap()),
            "{name}: text"
        );
        let ours = report.to_json();
        let theirs = case["report"].as_object().unwrap();
        let our_keys: Vec<&String> = ours
            .as_object()
            .unwrap()
            .keys()
            .take(theirs.len())
            .collect();
        let their_keys: Vec<&String> = theirs.keys().collect();
        assert_eq!(our_keys, their_keys, "{name}: keys and their order");
        for (key, expected) in theirs {
            match expected {
                Value::Object(fields) => {
                    for (field, v) in fields {
                        close(&ours[key][field], v, &format!("{name} {key} {field}"));
                    }
                }
                v => close(&ours[key], v, &format!("{name} {key}")),
            }
        }
        close(&ours["balanced_accuracy"], &case["balanced_accuracy"], name);
        assert_eq!(
            ours["confusion_matrix"], case["confusion_matrix"],
            "{name}: confusion"
        );
    }
}

/// scikit-learn prints supports as floats (`2.0`) in some zero_division=nan and zero-support
/// cases, a dtype accident; kiln always prints counts as integers.
fn integer_supports(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_suffix(".0") {
            // The support column is the last 9 characters, right-aligned.
            Some(_) if l.len() >= 9 => {
                let (head, field) = l.split_at(l.len() - 9);
                format!("{head}{:>9}\n", field.trim().trim_end_matches(".0"))
            }
            _ => format!("{l}\n"),
        })
        .collect()
}
