//! Keeping model weights on disk as training goes, with deciding apart from writing (as
//! burn-train's `CheckpointingStrategy` returns actions for its checkpointer to carry out): a
//! [`CheckpointStrategy`] watches the metrics and says, at each epoch's end, which files to
//! save and which to delete; [`Checkpointer`] is the one callback that does it with the model.
//! The built-in strategies: the latest epoch ([`crate::LastCheckpoint`]), the best by a
//! monitored quantity ([`crate::BestCheckpoint`]) and the N best or latest
//! ([`crate::EpochCheckpoints`]).

use std::path::PathBuf;

use crate::callback::{Callback, ModelSnapshot, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};

/// What to do with a weights file at an epoch's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointAction {
    /// Write the model's weights here (atomically; the directory is created).
    Save(PathBuf),
    /// Delete this file (already gone is fine).
    Delete(PathBuf),
}

/// Decides which weights files an epoch's end writes and deletes; writes nothing itself.
pub trait CheckpointStrategy {
    /// A run resumed: the metrics of the phases before it, for a strategy that ranks epochs.
    fn resume(&mut self, _resumed: &Resumed<'_>) {}
    /// A phase's metrics (training, then validation), as each ends.
    fn observe(&mut self, _metrics: &EpochMetrics) {}
    /// What to do now that `epoch` (1-based) has ended.
    fn decide(&mut self, epoch: usize) -> Vec<CheckpointAction>;
}

/// The callback carrying out a [`CheckpointStrategy`]'s actions with the model.
#[derive(Debug, Clone)]
pub struct Checkpointer<S> {
    /// The strategy.
    pub strategy: S,
}

impl<S: CheckpointStrategy> Checkpointer<S> {
    /// Carries out `strategy`'s actions.
    pub fn with(strategy: S) -> Self {
        Self { strategy }
    }
}

impl<S: CheckpointStrategy> Callback for Checkpointer<S> {
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        self.strategy.resume(resumed);
        Ok(())
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.strategy.observe(m);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        history: &History,
        model: &dyn ModelSnapshot,
    ) -> Result<(), TrainError> {
        let Some(epoch) = history.last().map(|m| m.epoch) else {
            return Ok(());
        };
        for action in self.strategy.decide(epoch) {
            match action {
                CheckpointAction::Save(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
                    }
                    model.save(&path)?;
                }
                CheckpointAction::Delete(path) => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(TrainError::artifact(&path, e));
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }
}
