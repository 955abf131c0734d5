//! Keeping the weights of the best epoch by a monitored quantity.

use std::path::PathBuf;

use crate::callback::{Callback, ModelSnapshot, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};
use crate::monitor::Monitor;

/// Saves the model (in inference form) to `path` at the end of every epoch where `monitor`
/// improved — written to a temporary file and renamed, so `path` is never half-written.
#[derive(Debug, Clone)]
pub struct BestCheckpoint {
    monitor: Monitor,
    path: PathBuf,
    best: Option<(f64, usize)>,
    improved: bool,
}

impl BestCheckpoint {
    /// Keeps the best model by `monitor` at `path`.
    pub fn new(monitor: Monitor, path: PathBuf) -> Self {
        Self {
            monitor,
            path,
            best: None,
            improved: false,
        }
    }

    /// The best value and its epoch so far.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best
    }

    fn observe(&mut self, m: &EpochMetrics) {
        if let Some(value) = self.monitor.value(m)
            && self.monitor.improves(value, self.best.map(|b| b.0), 0.0)
        {
            self.best = Some((value, m.epoch));
            self.improved = true;
        }
    }
}

impl Callback for BestCheckpoint {
    /// The best value so far is taken from the history; its weights are already on disk.
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        resumed.history.iter().for_each(|m| self.observe(m));
        self.improved = false;
        Ok(())
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.observe(m);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _history: &History,
        model: &dyn ModelSnapshot,
    ) -> Result<(), TrainError> {
        if std::mem::take(&mut self.improved) {
            model.save(&self.path)?;
        }
        Ok(())
    }
}
