use crate::TrainError;
use kiln_eval::ConfusionMatrix;

use super::*;
use crate::callback::Callback;
use crate::early_stopping::EarlyStopping;
use crate::history::{EpochMetrics, Phase};

fn names() -> Vec<String> {
    ["cat", "dog"].map(String::from).to_vec()
}

/// Epoch `epoch`'s validation metrics with loss `loss`, where `dog_hits` of 10 dogs are found.
fn valid(epoch: usize, loss: f64, dog_hits: u64) -> EpochMetrics {
    let mut confusion = ConfusionMatrix::new(2);
    confusion.add(0, 0, 10).unwrap();
    confusion.add(1, 1, dog_hits).unwrap();
    confusion.add(1, 0, 10 - dog_hits).unwrap();
    EpochMetrics {
        epoch,
        phase: Phase::Valid,
        loss,
        accuracy: 0.0,
        macro_f1: 0.0,
        lr: 0.0,
        seconds: 0.0,
        samples: 20,
        confusion,
    }
}

#[test]
fn parses_phase_quantity_and_default_mode() {
    let m = Monitor::parse("valid_loss", None, &names()).unwrap();
    assert_eq!(
        (m.phase, m.quantity.clone(), m.mode),
        (Phase::Valid, Monitored::Loss, Mode::Min)
    );
    let m = Monitor::parse("valid_recall:dog", None, &names()).unwrap();
    assert_eq!(m.mode, Mode::Max);
    assert_eq!(m.value(&valid(1, 0.5, 7)), Some(0.7));
    let t = Monitor::parse("train_macro_f1", Some(Mode::Min), &names()).unwrap();
    assert_eq!((t.phase, t.mode), (Phase::Train, Mode::Min));
    assert_eq!(
        t.value(&valid(1, 0.5, 7)),
        None,
        "a train monitor ignores valid rows"
    );
    assert!(Monitor::parse("macro_f1", None, &names()).is_err());
    assert!(Monitor::parse("valid_recall:bird", None, &names()).is_err());
}

#[test]
fn improvement_respects_mode_and_min_delta() {
    let loss = Monitor::parse("valid_loss", None, &names()).unwrap();
    assert!(loss.improves(0.5, None, 0.0));
    assert!(loss.improves(0.4, Some(0.5), 0.05));
    assert!(!loss.improves(0.46, Some(0.5), 0.05));
    assert!(!loss.improves(f64::NAN, None, 0.0));
    let recall = Monitor::parse("valid_recall:1", None, &names()).unwrap();
    assert!(recall.improves(0.8, Some(0.7), 0.0));
    assert!(!recall.improves(0.7, Some(0.7), 0.0));
}

#[test]
fn early_stopping_waits_patience_epochs_after_the_best() {
    let monitor = Monitor::parse("valid_recall:dog", None, &names()).unwrap();
    let mut stop = EarlyStopping::new(monitor, 2, 0.0);
    // Recall 0.5, 0.8 (best), 0.8 (no gain), 0.6 -> stop after epoch 4.
    for (epoch, hits) in [(1, 5), (2, 8), (3, 8)] {
        stop.on_phase_end(&valid(epoch, 1.0, hits), &Vec::new())
            .unwrap();
        assert_eq!(stop.stop_requested(), None, "epoch {epoch}");
    }
    stop.on_phase_end(&valid(4, 1.0, 6), &Vec::new()).unwrap();
    let reason = stop.stop_requested().unwrap();
    assert!(
        reason.contains("after epoch 4") && reason.contains("best 0.8 at epoch 2"),
        "{reason}"
    );
}

/// A snapshot that writes a file naming the epoch instead of weights.
struct Marker(usize);

impl crate::callback::ModelSnapshot for Marker {
    fn save(&self, path: &std::path::Path) -> Result<(), TrainError> {
        std::fs::write(path, self.0.to_string()).map_err(|e| TrainError::artifact(path, e))
    }
}

/// Runs `epochs` (epoch, loss, dog hits) through `cb` as validation phases.
fn feed(cb: &mut dyn Callback, history: &mut Vec<EpochMetrics>, epochs: &[(usize, f64, u64)]) {
    for &(epoch, loss, hits) in epochs {
        let m = valid(epoch, loss, hits);
        history.push(m.clone());
        cb.on_phase_end(&m, history).unwrap();
        cb.on_epoch_end(history, &Marker(epoch)).unwrap();
    }
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// (epoch, validation loss, dogs found of 10): losses best at 4 then 2, recall tied at 3 and 5.
const FIVE_EPOCHS: [(usize, f64, u64); 5] = [
    (1, 0.9, 5),
    (2, 0.5, 6),
    (3, 0.7, 9),
    (4, 0.4, 2),
    (5, 0.6, 9),
];

#[test]
fn epoch_checkpoints_keep_the_best_n_by_the_monitor_or_the_latest_without_one() {
    use crate::epoch_checkpoints::EpochCheckpoints;
    let tmp = tempfile::tempdir().unwrap();
    let epochs = FIVE_EPOCHS;

    let dir = tmp.path().join("loss");
    let monitor = Monitor::parse("valid_loss", None, &names()).unwrap();
    let mut cb = EpochCheckpoints::new(&dir, 2, Some(monitor));
    feed(&mut cb, &mut Vec::new(), &epochs);
    assert_eq!(cb.kept(), [4, 2], "lowest losses first");
    assert_eq!(files(&dir), ["epoch-002.bpk", "epoch-004.bpk"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("epoch-004.bpk")).unwrap(),
        "4"
    );

    // Recall of `dog` ties at 0.9 in epochs 3 and 5: the earlier one ranks first.
    let dir = tmp.path().join("recall");
    let monitor = Monitor::parse("valid_recall:dog", None, &names()).unwrap();
    let mut cb = EpochCheckpoints::new(&dir, 2, Some(monitor));
    feed(&mut cb, &mut Vec::new(), &epochs);
    assert_eq!(cb.kept(), [3, 5]);

    let dir = tmp.path().join("latest");
    let mut cb = EpochCheckpoints::new(&dir, 3, None);
    feed(&mut cb, &mut Vec::new(), &epochs);
    assert_eq!(cb.kept(), [5, 4, 3]);
    assert_eq!(files(&dir).len(), 3);
}

#[test]
fn epoch_checkpoints_resume_from_the_files_and_the_history() {
    use crate::callback::Resumed;
    use crate::epoch_checkpoints::EpochCheckpoints;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    let monitor = Monitor::parse("valid_loss", None, &names()).unwrap();
    let epochs = FIVE_EPOCHS;
    let mut whole = EpochCheckpoints::new(&dir.join("whole"), 2, Some(monitor.clone()));
    feed(&mut whole, &mut Vec::new(), &epochs);

    // Killed during epoch 4 after epoch 3's state was saved; resumed at epoch 4.
    let part = dir.join("part");
    let mut first = EpochCheckpoints::new(&part, 2, Some(monitor.clone()));
    let mut history = Vec::new();
    feed(&mut first, &mut history, &epochs[..3]);
    let mut resumed = EpochCheckpoints::new(&part, 2, Some(monitor));
    let at = Resumed {
        epoch: 4,
        batch: 0,
        step: 30,
        history: &history,
    };
    resumed.on_resume(&at).unwrap();
    assert_eq!(resumed.kept(), [2, 3]);
    feed(&mut resumed, &mut history, &epochs[3..]);
    assert_eq!(resumed.kept(), whole.kept());
    assert_eq!(files(&part), files(&dir.join("whole")));
}

#[test]
fn training_curves_show_loss_accuracy_the_monitored_metric_and_the_rate() {
    let history: Vec<EpochMetrics> = [(1, 0.9, 5), (2, 0.5, 9), (3, 0.7, 7)]
        .iter()
        .flat_map(|&(e, loss, hits)| {
            let v = valid(e, loss, hits);
            let mut t = v.clone();
            (t.phase, t.loss, t.lr) = (Phase::Train, loss + 0.1, 0.1 / e as f64);
            [t, v]
        })
        .collect();
    let monitor = Monitor::parse("valid_recall:dog", None, &names()).unwrap();
    let figure = crate::curves_plot::training_curves(&history, Some(&monitor));
    let titles: Vec<&str> = figure.panels.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "loss",
            "accuracy",
            "valid_recall:dog",
            "learning rate (end of epoch; every step in lr.csv)"
        ]
    );
    let loss = &figure.panels[0];
    assert_eq!(loss.series[0].name, "train");
    assert_eq!(loss.series[1].points, [(1.0, 0.9), (2.0, 0.5), (3.0, 0.7)]);
    let recall = &figure.panels[2];
    assert_eq!(recall.series[0].points[1], (2.0, 0.9));
    assert_eq!(recall.marker.as_ref().unwrap().0, 2.0);
    assert_eq!(figure.panels[3].series[0].points[2], (3.0, 0.1 / 3.0));

    // Monitoring the loss marks the loss panel and adds no panel.
    let monitor = Monitor::parse("valid_loss", None, &names()).unwrap();
    let figure = crate::curves_plot::training_curves(&history, Some(&monitor));
    assert_eq!(figure.panels.len(), 3);
    assert_eq!(figure.panels[0].marker.as_ref().unwrap().0, 2.0);
    let tmp = tempfile::tempdir().unwrap();
    let written = kiln_eval::plot::save(&figure, &tmp.path().join("curves")).unwrap();
    assert!(
        written
            .iter()
            .all(|p| std::fs::metadata(p).unwrap().len() > 1000)
    );
}
