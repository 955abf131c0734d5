//! Hooks into the training loop. Every hook sees the metrics so far. An epoch's events, in
//! order: [`Callback::on_batch_end`] after every step, [`Callback::on_train_phase_end`] and
//! [`Callback::on_phase_end`] when the training phase ends, [`Callback::on_validation_end`]
//! and [`Callback::on_phase_end`] when validation ends, then [`Callback::on_epoch_end`] with the
//! model, and [`Callback::stop_requested`].

use std::path::{Path, PathBuf};

use kiln_data::DatasetFiles;
use kiln_data::leakage::Overlap;

use crate::error::TrainError;
use crate::history::{EpochMetrics, History, PhaseAccumulator};

/// Facts about the run, given at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainInfo {
    /// Epochs to run.
    pub epochs: usize,
    /// Batches per epoch (optimizer steps, unless gradients are accumulated over several).
    pub steps_per_epoch: usize,
    /// Training samples.
    pub train_len: usize,
    /// Validation samples (0: no validation).
    pub valid_len: usize,
}

/// One finished training batch (with gradient accumulation, the last of a group ends an
/// optimizer step).
#[derive(Debug, Clone, Copy)]
pub struct BatchEnd<'a> {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// 0-based global optimizer step the batch belongs to.
    pub step: usize,
    /// Mean loss of this batch.
    pub loss: f64,
    /// Learning rate used for this step.
    pub lr: f64,
    /// The epoch's pooled training metrics so far.
    pub running: &'a PhaseAccumulator,
}

/// Where a resumed run continues.
#[derive(Debug, Clone, Copy)]
pub struct Resumed<'a> {
    /// The 1-based epoch it continues in.
    pub epoch: usize,
    /// The 0-based batch of that epoch it continues at.
    pub batch: usize,
    /// Optimizer steps already taken.
    pub step: usize,
    /// The metrics of every phase completed before.
    pub history: &'a History,
}

/// Where a run's data came from and how it was split, and where the run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo<'a> {
    /// The run's directory (a new `version-N` is known only once claimed).
    pub run_dir: &'a std::path::Path,
    /// The dataset's name.
    pub dataset: &'a str,
    /// The files read, with the resolution step that found them.
    pub files: &'a DatasetFiles,
    /// Images in the training, validation and test splits.
    pub sizes: [usize; 3],
    /// Image files left out as unreadable (image folders with `skip`), with why.
    pub skipped: &'a [(PathBuf, String)],
    /// The leakage check between the splits, if it ran (before `dedupe`).
    pub leakage: &'a [Overlap],
    /// Training images dropped as duplicates of validation or test images (`dedupe`).
    pub deduped: usize,
}

/// The model as it stands at the end of an epoch, for callbacks that keep copies of it.
pub trait ModelSnapshot {
    /// Writes the model's weights (inference form, burnpack) to `path` atomically: a temporary
    /// file beside it, then a rename.
    fn save(&self, path: &Path) -> Result<(), TrainError>;
}

/// Receives the loop's events. Every method has a no-op default; an error stops training.
pub trait Callback {
    /// Once the data is loaded, before the model is built ([`crate::run`] only).
    fn on_data_loaded(&mut self, _data: &DataInfo<'_>) -> Result<(), TrainError> {
        Ok(())
    }
    /// Before the first step.
    fn on_train_start(&mut self, _info: &TrainInfo) -> Result<(), TrainError> {
        Ok(())
    }
    /// When a run resumes from a saved state, before [`on_train_start`](Self::on_train_start):
    /// where it resumes and the metrics of the phases completed before, for callbacks whose
    /// output or decisions depend on them (logs rewritten, early stopping's patience, the best
    /// value so far).
    fn on_resume(&mut self, _resumed: &Resumed<'_>) -> Result<(), TrainError> {
        Ok(())
    }
    /// After each optimizer step.
    fn on_batch_end(
        &mut self,
        _batch: &BatchEnd<'_>,
        _history: &History,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// After each epoch's training phase, with its pooled metrics (before validation).
    fn on_train_phase_end(
        &mut self,
        _train: &EpochMetrics,
        _history: &History,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// After each epoch's validation phase.
    fn on_validation_end(
        &mut self,
        _valid: &EpochMetrics,
        _history: &History,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// After each phase (training, then validation), right after
    /// [`on_train_phase_end`](Self::on_train_phase_end) or
    /// [`on_validation_end`](Self::on_validation_end): for callbacks that treat both phases
    /// alike.
    fn on_phase_end(&mut self, _m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        Ok(())
    }
    /// At the end of each epoch, after both phases, with the model.
    fn on_epoch_end(
        &mut self,
        _history: &History,
        _model: &dyn ModelSnapshot,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// Asked after [`on_epoch_end`](Self::on_epoch_end): `Some(reason)` ends training
    /// after this epoch.
    fn stop_requested(&self) -> Option<String> {
        None
    }
    /// After the last epoch.
    fn on_train_end(&mut self, _history: &History) -> Result<(), TrainError> {
        Ok(())
    }
}
