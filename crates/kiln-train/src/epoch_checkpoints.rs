//! Keeping N epochs' weights: the N best by a monitored quantity, or the N latest without one
//! (Lightning's `ModelCheckpoint(save_top_k=N)`).

use std::path::{Path, PathBuf};

use crate::callback::{Callback, ModelSnapshot, Resumed};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};
use crate::monitor::{Mode, Monitor};

/// Writes every epoch's weights to `dir/epoch-NNN.bpk` (atomically) and deletes all but the
/// `keep` best — ranked by `monitor` (ties: the earlier epoch) or, without one, by recency.
#[derive(Debug, Clone)]
pub struct EpochCheckpoints {
    dir: PathBuf,
    keep: usize,
    monitor: Option<Monitor>,
    /// The epochs whose files exist, with their monitored value.
    kept: Vec<(usize, Option<f64>)>,
    /// This epoch's monitored value, once its phase has ended.
    current: Option<f64>,
}

impl EpochCheckpoints {
    /// Keeps `keep` (≥ 1) epochs' weights in `dir`.
    pub fn new(dir: &Path, keep: usize, monitor: Option<Monitor>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            keep: keep.max(1),
            monitor,
            kept: Vec::new(),
            current: None,
        }
    }

    /// The file of `epoch`'s weights.
    pub fn path(dir: &Path, epoch: usize) -> PathBuf {
        dir.join(format!("epoch-{epoch:03}.bpk"))
    }

    /// The epochs kept, best first.
    pub fn kept(&self) -> Vec<usize> {
        self.kept.iter().map(|k| k.0).collect()
    }

    fn rank(&mut self) {
        let Some(monitor) = &self.monitor else {
            self.kept.sort_by(|a, b| b.0.cmp(&a.0));
            return;
        };
        // NaN (or a missing value) ranks last; ties keep the earlier epoch.
        let key = |v: Option<f64>| match (v.filter(|v| !v.is_nan()), monitor.mode) {
            (None, _) => f64::INFINITY,
            (Some(v), Mode::Min) => v,
            (Some(v), Mode::Max) => -v,
        };
        self.kept
            .sort_by(|a, b| key(a.1).total_cmp(&key(b.1)).then(a.0.cmp(&b.0)));
    }

    fn observe(&mut self, m: &EpochMetrics) {
        if let Some(v) = self.monitor.as_ref().and_then(|mon| mon.value(m)) {
            self.current = Some(v);
        }
    }
}

impl Callback for EpochCheckpoints {
    /// The kept epochs are those before the resume point whose files are still there.
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        let mut values = std::collections::BTreeMap::new();
        for m in resumed.history {
            if let Some(v) = self.monitor.as_ref().and_then(|mon| mon.value(m)) {
                values.insert(m.epoch, v);
            }
        }
        self.kept = (1..resumed.epoch)
            .filter(|&e| Self::path(&self.dir, e).is_file())
            .map(|e| (e, values.get(&e).copied()))
            .collect();
        self.rank();
        Ok(())
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        self.observe(m);
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
        std::fs::create_dir_all(&self.dir).map_err(|e| TrainError::artifact(&self.dir, e))?;
        model.save(&Self::path(&self.dir, epoch))?;
        let value = self.current.take();
        self.kept.retain(|k| k.0 != epoch);
        self.kept.push((epoch, value));
        self.rank();
        for (dropped, _) in self.kept.split_off(self.keep.min(self.kept.len())) {
            let path = Self::path(&self.dir, dropped);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::artifact(&path, e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
