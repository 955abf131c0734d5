//! `metrics.csv`: one row per epoch and phase, values at full (round-trip) precision.

use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_eval::MetricSpec;

use crate::callback::{Callback, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};

/// The header of `metrics.csv`.
pub const METRICS_CSV_HEADER: &str = "epoch,split,loss,accuracy,macro_f1,lr,seconds";

/// Writes `metrics.csv`, flushing after every row so a crashed run keeps its log. Each extra
/// [`MetricSpec`] is one more column, computed from the phase's confusion counts.
#[derive(Debug)]
pub struct MetricsCsv {
    path: PathBuf,
    file: std::fs::File,
    extra: Vec<MetricSpec>,
}

impl MetricsCsv {
    /// Creates (truncates) the file and writes the header: [`METRICS_CSV_HEADER`], then the
    /// name of each of `extra`.
    pub fn create(path: &Path, extra: Vec<MetricSpec>) -> Result<Self, TrainError> {
        let mut file = std::fs::File::create(path).map_err(|e| TrainError::artifact(path, e))?;
        let header = extra
            .iter()
            .fold(METRICS_CSV_HEADER.to_string(), |h, m| h + "," + &m.name);
        writeln!(file, "{header}").map_err(|e| TrainError::artifact(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            extra,
        })
    }

    fn row(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        let extra: String = self
            .extra
            .iter()
            .map(|spec| format!(",{}", spec.compute(&m.confusion)))
            .collect();
        writeln!(
            self.file,
            "{},{},{},{},{},{},{}{extra}",
            m.epoch, m.phase, m.loss, m.accuracy, m.macro_f1, m.lr, m.seconds
        )
        .and_then(|()| self.file.flush())
        .map_err(|e| TrainError::artifact(&self.path, e))
    }
}

impl Callback for MetricsCsv {
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        resumed.history.iter().try_for_each(|m| self.row(m))
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.row(m)
    }
}
