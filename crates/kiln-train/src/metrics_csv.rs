//! `metrics.csv`: one row per epoch and phase, values at full (round-trip) precision.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::callback::Callback;
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};

/// The header of `metrics.csv`.
pub const METRICS_CSV_HEADER: &str = "epoch,split,loss,accuracy,macro_f1,lr,seconds";

/// Writes `metrics.csv`, flushing after every row so a crashed run keeps its log.
#[derive(Debug)]
pub struct MetricsCsv {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsCsv {
    /// Creates (truncates) the file and writes the header.
    pub fn create(path: &Path) -> Result<Self, TrainError> {
        let mut file = std::fs::File::create(path).map_err(|e| TrainError::artifact(path, e))?;
        writeln!(file, "{METRICS_CSV_HEADER}").map_err(|e| TrainError::artifact(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    fn row(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        writeln!(
            self.file,
            "{},{},{},{},{},{},{}",
            m.epoch, m.phase, m.loss, m.accuracy, m.macro_f1, m.lr, m.seconds
        )
        .and_then(|()| self.file.flush())
        .map_err(|e| TrainError::artifact(&self.path, e))
    }
}

impl Callback for MetricsCsv {
    fn on_epoch_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.row(m)
    }

    fn on_validation_end(
        &mut self,
        m: &EpochMetrics,
        _history: &History,
    ) -> Result<(), TrainError> {
        self.row(m)
    }
}
