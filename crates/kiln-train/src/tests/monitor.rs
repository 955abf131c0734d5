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
