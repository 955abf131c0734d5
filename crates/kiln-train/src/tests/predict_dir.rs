use super::*;

fn rows(paths: &[&str]) -> DirPredictions {
    DirPredictions {
        classes: vec!["cat".into(), "dog, big".into()],
        rows: paths
            .iter()
            .enumerate()
            .map(|(i, p)| FilePrediction {
                path: PathBuf::from(p),
                label: None,
                predicted: i % 2,
                probabilities: if i % 2 == 0 {
                    vec![0.75, 0.25]
                } else {
                    vec![0.125, 0.875]
                },
            })
            .collect(),
        skipped: Vec::new(),
    }
}

#[test]
fn folders_named_after_classes_give_the_labels() {
    let mut p = rows(&["cat/a.png", "dog, big/b.png"]);
    label_by_folder(&mut p);
    assert!(p.labelled());
    assert_eq!(p.rows[1].label, Some(1));
    // A class's index, and a name with `/` written `_`, name it too.
    let mut p = rows(&["1/a.png", "cat/b.png"]);
    p.classes[1] = "dog/big".into();
    label_by_folder(&mut p);
    assert_eq!((p.rows[0].label, p.rows[1].label), (Some(1), Some(0)));
    let mut p = rows(&["dog_big/a.png"]);
    p.classes[1] = "dog/big".into();
    label_by_folder(&mut p);
    assert_eq!(p.rows[0].label, Some(1));
    // One file outside a class folder: no labels at all.
    let mut p = rows(&["cat/a.png", "b.png"]);
    label_by_folder(&mut p);
    assert!(!p.labelled());
    assert_eq!(p.rows[0].label, None);
}

#[test]
fn the_csv_is_what_kiln_metrics_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = rows(&["cat/a.png", "dog, big/b.png", "cat/c.png"]);
    label_by_folder(&mut p);
    let out = dir.path().join("p.csv");
    p.write_csv(&out).unwrap();
    let read = kiln_eval::read_predictions_csv(&out, &kiln_eval::ClassSet::Infer).unwrap();
    assert_eq!(read.classes, ["cat", "dog, big"]);
    assert_eq!(read.y_true, [0, 1, 0]);
    assert_eq!(read.y_pred, [0, 1, 0]);
    assert_eq!(read.scores.unwrap()[..2], [0.75, 0.25]);
    assert_eq!(
        read.paths.unwrap(),
        ["cat/a.png", "dog, big/b.png", "cat/c.png"]
    );
}
