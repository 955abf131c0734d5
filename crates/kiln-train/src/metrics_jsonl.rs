//! `metrics.jsonl`: the rows of `metrics.csv` as one JSON object per line, for tools that read
//! JSON (and for values a CSV cell cannot name: every extra metric keyed by its name).

use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_eval::MetricSpec;

use crate::callback::{Callback, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};

/// Writes `metrics.jsonl`, flushing after every line: `epoch`, `split`, `loss`, `accuracy`,
/// `macro_f1`, `lr`, `seconds`, `samples`, then each extra [`MetricSpec`] by name.
#[derive(Debug)]
pub struct MetricsJsonl {
    path: PathBuf,
    file: std::fs::File,
    extra: Vec<MetricSpec>,
}

impl MetricsJsonl {
    /// Creates (truncates) the file.
    pub fn create(path: &Path, extra: Vec<MetricSpec>) -> Result<Self, TrainError> {
        let file = std::fs::File::create(path).map_err(|e| TrainError::artifact(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            extra,
        })
    }
}

impl MetricsJsonl {
    fn line(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        let mut line = serde_json::json!({
            "epoch": m.epoch,
            "split": m.phase,
            "loss": m.loss,
            "accuracy": m.accuracy,
            "macro_f1": m.macro_f1,
            "lr": m.lr,
            "seconds": m.seconds,
            "samples": m.samples,
        });
        for spec in &self.extra {
            line[spec.name.as_str()] = serde_json::json!(spec.compute(&m.confusion));
        }
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| TrainError::artifact(&self.path, e))
    }
}

impl Callback for MetricsJsonl {
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        resumed.history.iter().try_for_each(|m| self.line(m))
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.line(m)
    }
}
