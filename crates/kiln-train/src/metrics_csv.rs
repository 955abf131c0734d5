//! `metrics.csv`: one row per epoch and phase, values at full (round-trip) precision.

use std::path::{Path, PathBuf};

use kiln_eval::MetricSpec;

use crate::callback::{Callback, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History, Phase};

/// The header of `metrics.csv`.
pub const METRICS_CSV_HEADER: &str = "epoch,split,loss,accuracy,macro_f1,lr,seconds";

/// The last column of a run that mixes its training batches (Mixup/CutMix): what each row's
/// accuracy and confusion-based metrics count a prediction against — `label` (validation: the
/// image's label) or `dominant_label` (training: of the two images mixed into one, the label
/// with the larger weight; the loss is the soft-target loss).
pub const ACCURACY_AGAINST: &str = "accuracy_against";

/// Writes `metrics.csv` (with the `csv` crate: a metric named after a class with a comma in
/// it is quoted, not a broken column), flushing after every row so a crashed run keeps its
/// log. Each extra [`MetricSpec`] is one more column, computed from the phase's confusion
/// counts.
#[derive(Debug)]
pub struct MetricsCsv {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
    extra: Vec<MetricSpec>,
    mixed: bool,
}

impl MetricsCsv {
    /// Creates (truncates) the file and writes the header: [`METRICS_CSV_HEADER`], then the
    /// name of each of `extra`, then (training batches `mixed`) [`ACCURACY_AGAINST`].
    pub fn create(path: &Path, extra: Vec<MetricSpec>, mixed: bool) -> Result<Self, TrainError> {
        let file = std::fs::File::create(path).map_err(|e| TrainError::artifact(path, e))?;
        let mut writer = csv::Writer::from_writer(file);
        let header = METRICS_CSV_HEADER
            .split(',')
            .chain(extra.iter().map(|m| m.name.as_str()))
            .chain(mixed.then_some(ACCURACY_AGAINST));
        writer
            .write_record(header)
            .and_then(|()| Ok(writer.flush()?))
            .map_err(|e| TrainError::artifact(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            extra,
            mixed,
        })
    }

    fn row(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        let fixed = [
            m.epoch.to_string(),
            m.phase.to_string(),
            m.loss.to_string(),
            m.accuracy.to_string(),
            m.macro_f1.to_string(),
            m.lr.to_string(),
            m.seconds.to_string(),
        ];
        let extra = (self.extra.iter()).map(|spec| spec.compute(&m.confusion).to_string());
        let against = match m.phase {
            Phase::Train => "dominant_label",
            _ => "label",
        };
        let against = self.mixed.then(|| against.to_string());
        self.writer
            .write_record(fixed.into_iter().chain(extra).chain(against))
            .and_then(|()| Ok(self.writer.flush()?))
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
