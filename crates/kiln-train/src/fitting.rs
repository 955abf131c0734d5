//! Diagnostics a run adds to its evaluation beyond the confusion matrix: the training set's
//! imbalance, and over- or underfitting read from the training curves (`metrics.csv`).

use std::collections::BTreeMap;
use std::path::Path;

use kiln_eval::diagnostics::{Diagnostic, DiagnosticThresholds, Severity, imbalance};

use crate::error::TrainError;
use crate::history::{History, Phase};

/// One row of the training curves: an epoch's loss and accuracy on one split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// 1-based epoch.
    pub epoch: usize,
    /// Train or validation.
    pub phase: Phase,
    /// Pooled loss.
    pub loss: f64,
    /// Accuracy.
    pub accuracy: f64,
}

/// The curves of a training history.
pub fn curve_of(history: &History) -> Vec<CurvePoint> {
    history
        .iter()
        .map(|m| CurvePoint {
            epoch: m.epoch,
            phase: m.phase,
            loss: m.loss,
            accuracy: m.accuracy,
        })
        .collect()
}

/// The curves from a run's `metrics.csv` (`epoch,split,loss,accuracy,…`; columns found by
/// their header names).
pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>, TrainError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| TrainError::artifact(path, e))?;
    let header = reader
        .headers()
        .map_err(|e| TrainError::artifact(path, e))?;
    let column = |name: &str| {
        (header.iter().position(|h| h == name))
            .ok_or_else(|| TrainError::artifact(path, format!("no `{name}` column")))
    };
    let columns = [
        column("epoch")?,
        column("split")?,
        column("loss")?,
        column("accuracy")?,
    ];
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| TrainError::artifact(path, e))?;
        // Line n + 2: the header is line 1.
        let bad = |what: &str| TrainError::artifact(path, format!("line {}: {what}", n + 2));
        let [epoch, split, loss, accuracy] = columns.map(|c| record.get(c).unwrap_or_default());
        out.push(CurvePoint {
            epoch: epoch.parse().map_err(|_| bad("epoch is not a number"))?,
            phase: match split {
                "train" => Phase::Train,
                "valid" => Phase::Valid,
                _ => return Err(bad("split is neither train nor valid")),
            },
            loss: loss.parse().map_err(|_| bad("loss is not a number"))?,
            accuracy: accuracy
                .parse()
                .map_err(|_| bad("accuracy is not a number"))?,
        });
    }
    Ok(out)
}

/// The training set's imbalance (from its class counts), then what the curves say: where the
/// validation loss bottomed out and whether it has risen since (overfitting), whether it was
/// still falling at the end (more epochs may help), the train–validation accuracy gap and its
/// trend, and a training accuracy no better than always predicting the majority class
/// (underfitting).
pub fn run_diagnostics(
    train_counts: &[usize],
    curve: &[CurvePoint],
    class_names: &[String],
    t: &DiagnosticThresholds,
) -> Vec<Diagnostic> {
    let counts: Vec<u64> = train_counts.iter().map(|&c| c as u64).collect();
    let phase = |p: Phase| -> Vec<&CurvePoint> { curve.iter().filter(|c| c.phase == p).collect() };
    let (train, valid) = (phase(Phase::Train), phase(Phase::Valid));
    let mut out: Vec<Diagnostic> = imbalance("training", &counts, class_names, t)
        .into_iter()
        .collect();
    out.extend(validation_loss_trend(&valid, t));
    out.extend(generalization_gap(&train, &valid, t));
    out.extend(underfitting(&train, train_counts, t));
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn diagnostic(
    kind: &'static str,
    severity: Severity,
    message: String,
    numbers: &[(&'static str, f64)],
) -> Diagnostic {
    Diagnostic {
        kind,
        severity,
        class: None,
        message,
        numbers: numbers.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

/// Overfitting (the validation loss rose after its minimum), or still improving (it was
/// falling at the last epoch).
fn validation_loss_trend(valid: &[&CurvePoint], t: &DiagnosticThresholds) -> Option<Diagnostic> {
    let (first, last) = (valid.first()?, valid.last()?);
    let best = (valid.iter())
        .min_by(|a, b| a.loss.total_cmp(&b.loss))
        .unwrap_or(first);
    let rise = (last.loss - best.loss) / best.loss.abs().max(1e-12);
    if last.epoch > best.epoch && rise >= t.loss_rise {
        return Some(diagnostic(
            "overfitting",
            Severity::Warning,
            format!(
                "validation loss bottomed out at epoch {} ({:.4}) and rose {} by epoch {} \
                 ({:.4}): the model has begun to overfit; the weights of epoch {} \
                 (--monitor valid_loss --save-best) or early stopping would generalize \
                 better",
                best.epoch,
                best.loss,
                pct(rise),
                last.epoch,
                last.loss,
                best.epoch
            ),
            &[
                ("best_epoch", best.epoch as f64),
                ("best_valid_loss", best.loss),
                ("last_valid_loss", last.loss),
                ("rise", rise),
            ],
        ));
    }
    if valid.len() < 2 || best.epoch != last.epoch {
        return None;
    }
    let previous = valid[valid.len() - 2];
    let drop = (previous.loss - last.loss) / previous.loss.abs().max(1e-12);
    (drop >= 0.01).then(|| {
        diagnostic(
            "still_improving",
            Severity::Info,
            format!(
                "validation loss was still falling at the last epoch ({:.4} → {:.4}, \
                 −{}): more epochs may help",
                previous.loss,
                last.loss,
                pct(drop)
            ),
            &[("last_epoch_drop", drop), ("last_valid_loss", last.loss)],
        )
    })
}

/// Training accuracy ahead of validation accuracy by more than the threshold, and by more than
/// at the first epoch.
fn generalization_gap(
    train: &[&CurvePoint],
    valid: &[&CurvePoint],
    t: &DiagnosticThresholds,
) -> Option<Diagnostic> {
    let (last_train, last_valid) = (train.last()?, valid.last()?);
    let (first_train, first_valid) = (train.first()?, valid.first()?);
    let (e, train_acc, valid_acc) = (last_train.epoch, last_train.accuracy, last_valid.accuracy);
    let (gap, first_gap) = (
        train_acc - valid_acc,
        first_train.accuracy - first_valid.accuracy,
    );
    (gap >= t.overfit_gap && gap > first_gap).then(|| {
        diagnostic(
            "generalization_gap",
            Severity::Warning,
            format!(
                "training accuracy {} against validation accuracy {} at epoch {e}: a gap of \
                 {:.1} points, up from {:.1} at the first epoch — the model fits its training \
                 images better than new ones (training accuracy is measured while training, \
                 so the true gap is larger)",
                pct(train_acc),
                pct(valid_acc),
                100.0 * gap,
                100.0 * first_gap
            ),
            &[
                ("train_accuracy", train_acc),
                ("valid_accuracy", valid_acc),
                ("gap", gap),
                ("first_gap", first_gap),
            ],
        )
    })
}

/// Training accuracy at the end no better than always predicting the majority class.
fn underfitting(
    train: &[&CurvePoint],
    train_counts: &[usize],
    t: &DiagnosticThresholds,
) -> Option<Diagnostic> {
    let (last, largest) = (train.last()?, *train_counts.iter().max()?);
    let total: usize = train_counts.iter().sum();
    let (e, train_acc) = (last.epoch, last.accuracy);
    let baseline = largest as f64 / total.max(1) as f64;
    (train_acc - baseline < t.baseline_margin).then(|| {
        diagnostic(
            "underfitting",
            Severity::Warning,
            format!(
                "training accuracy {} at epoch {e} is within {:.1} points of always \
                 predicting the most frequent class ({}): the model has not learned the \
                 training set — check the learning rate, the number of epochs, the labels",
                pct(train_acc),
                100.0 * t.baseline_margin,
                pct(baseline)
            ),
            &[("train_accuracy", train_acc), ("train_baseline", baseline)],
        )
    })
}

#[cfg(test)]
#[path = "tests/fitting.rs"]
mod tests;
