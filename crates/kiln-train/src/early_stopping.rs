//! Early stopping: stop when a monitored quantity has not improved for `patience` epochs.

use crate::callback::{Callback, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};
use crate::monitor::Monitor;

/// Stops training after `patience` epochs without an improvement larger than `min_delta`
/// (Keras' / Lightning's `EarlyStopping`).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    best: Option<(f64, usize)>,
    waited: usize,
    stop: Option<String>,
}

impl EarlyStopping {
    /// Watches `monitor`; `min_delta` ≥ 0 is the smallest change that counts as improvement.
    pub fn new(monitor: Monitor, patience: usize, min_delta: f64) -> Self {
        Self {
            monitor,
            patience,
            min_delta: min_delta.abs(),
            best: None,
            waited: 0,
            stop: None,
        }
    }

    fn observe(&mut self, m: &EpochMetrics) {
        let Some(value) = self.monitor.value(m) else {
            return;
        };
        if self
            .monitor
            .improves(value, self.best.map(|b| b.0), self.min_delta)
        {
            self.best = Some((value, m.epoch));
            self.waited = 0;
            return;
        }
        self.waited += 1;
        if self.waited >= self.patience {
            let (best, at) = self.best.unwrap_or((f64::NAN, 0));
            self.stop = Some(format!(
                "early stopping after epoch {}: {} has not improved for {} epochs (best {best} at epoch {at})",
                m.epoch, self.monitor.name, self.waited
            ));
        }
    }
}

impl Callback for EarlyStopping {
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        resumed.history.iter().for_each(|m| self.observe(m));
        Ok(())
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.observe(m);
        Ok(())
    }

    fn stop_requested(&self) -> Option<String> {
        self.stop.clone()
    }
}
