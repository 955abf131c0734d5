use super::*;

fn read(text: &str, classes: &ClassSet) -> Result<LabeledPredictions, EvalError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    std::fs::write(&path, text).unwrap();
    read_predictions_csv(&path, classes)
}

fn problem(r: Result<LabeledPredictions, EvalError>) -> (u64, String, String) {
    match r {
        Err(EvalError::Csv {
            line,
            column,
            problem,
            ..
        }) => (line, column, problem),
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn reads_labels_predictions_and_scores() {
    let p = read(
        "index,label,prediction,score_0,score_1\n0,1,1,0.2,0.8\n1,0,1,0.4,0.6\n",
        &ClassSet::Infer,
    )
    .unwrap();
    assert_eq!(p.classes, vec!["0", "1"]);
    assert_eq!((p.y_true, p.y_pred), (vec![1, 0], vec![1, 1]));
    assert_eq!(p.scores, Some(vec![0.2, 0.8, 0.4, 0.6]));
}

#[test]
fn string_and_numeric_classes_sort_like_scikit_learn() {
    let p = read("label,prediction\ncat,dog\nbird,cat\n", &ClassSet::Infer).unwrap();
    assert_eq!(p.classes, vec!["bird", "cat", "dog"]);
    assert_eq!((p.y_true, p.y_pred), (vec![1, 0], vec![2, 1]));
    let p = read("label,prediction\n10,2\n2,9\n", &ClassSet::Infer).unwrap();
    assert_eq!(p.classes, vec!["2", "9", "10"]);
    let p = read("label,prediction\n1,1\n", &ClassSet::Count(3)).unwrap();
    assert_eq!(p.classes, vec!["0", "1", "2"]);
}

#[test]
fn each_malformed_file_names_line_and_column() {
    let (line, col, _) = problem(read("label,pred\n1,1\n", &ClassSet::Infer));
    assert_eq!((line, col.as_str()), (1, "prediction"));
    let (line, _, msg) = problem(read("label,prediction\n1,1\n1\n", &ClassSet::Infer));
    assert_eq!(line, 3, "{msg}");
    let (line, col, _) = problem(read(
        "label,prediction,score_0,score_1\n1,1,0.5,x\n",
        &ClassSet::Infer,
    ));
    assert_eq!((line, col.as_str()), (2, "score_1"));
    let (line, _, msg) = problem(read("label,prediction\n", &ClassSet::Infer));
    assert_eq!(line, 2, "{msg}");
    let (line, col, _) = problem(read("label,prediction\n0,1\n5,1\n", &ClassSet::Count(2)));
    assert_eq!((line, col.as_str()), (3, "label"));
}

#[test]
fn scores_are_matched_to_classes_by_name() {
    let text = "label,prediction,score_cat,score_dog\ncat,cat,0.9,0.1\ndog,cat,0.6,0.4\n";
    let p = read(text, &ClassSet::Names(vec!["dog".into(), "cat".into()])).unwrap();
    assert_eq!(
        p.scores,
        Some(vec![0.1, 0.9, 0.4, 0.6]),
        "columns reordered to dog, cat"
    );
    let (line, col, _) = problem(read(
        text,
        &ClassSet::Names(vec!["dog".into(), "cow".into()]),
    ));
    assert_eq!((line, col.as_str()), (1, "score_cow"));
    let (_, _, msg) = problem(read(
        "label,prediction\n1,1\n",
        &ClassSet::Names(vec!["1".into(), "1".into()]),
    ));
    assert!(msg.contains("twice"), "{msg}");
    let (_, _, msg) = problem(read("label,prediction\n1,1\n", &ClassSet::Count(1_000_000)));
    assert!(msg.contains("limit"), "{msg}");
}
