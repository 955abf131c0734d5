//! Keeping the weights of the best epoch by a monitored quantity.

use std::path::PathBuf;

use crate::callback::Resumed;
use crate::checkpoint::{CheckpointAction, CheckpointStrategy, Checkpointer};
use crate::history::EpochMetrics;
use crate::monitor::Monitor;

/// Saves the model (in inference form) to its path at the end of every epoch where the
/// monitored quantity improved — written to a temporary file and renamed, so the file is never
/// half-written.
pub type BestCheckpoint = Checkpointer<Best>;

/// The strategy of [`BestCheckpoint`].
#[derive(Debug, Clone)]
pub struct Best {
    monitor: Monitor,
    path: PathBuf,
    best: Option<(f64, usize)>,
    improved: bool,
}

impl BestCheckpoint {
    /// Keeps the best model by `monitor` at `path`.
    pub fn new(monitor: Monitor, path: PathBuf) -> Self {
        Checkpointer::with(Best {
            monitor,
            path,
            best: None,
            improved: false,
        })
    }

    /// The best value and its epoch so far.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.strategy.best
    }
}

impl CheckpointStrategy for Best {
    /// The best value so far is taken from the history; its weights are already on disk.
    fn resume(&mut self, resumed: &Resumed<'_>) {
        resumed.history.iter().for_each(|m| self.observe(m));
        self.improved = false;
    }

    fn observe(&mut self, m: &EpochMetrics) {
        if let Some(value) = self.monitor.value(m)
            && self.monitor.improves(value, self.best.map(|b| b.0), 0.0)
        {
            self.best = Some((value, m.epoch));
            self.improved = true;
        }
    }

    fn decide(&mut self, _epoch: usize) -> Vec<CheckpointAction> {
        match std::mem::take(&mut self.improved) {
            true => vec![CheckpointAction::Save(self.path.clone())],
            false => Vec::new(),
        }
    }
}
