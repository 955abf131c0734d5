//! Keeping N epochs' weights: the N best by a monitored quantity, or the N latest without one
//! (Lightning's `ModelCheckpoint(save_top_k=N)`).

use std::path::{Path, PathBuf};

use crate::callback::Resumed;
use crate::checkpoint::{CheckpointAction, CheckpointStrategy, Checkpointer};
use crate::history::EpochMetrics;
use crate::monitor::{Mode, Monitor};

/// Writes every epoch's weights to `dir/epoch-NNN.bpk` (atomically) and deletes all but the
/// `keep` best — ranked by `monitor` (ties: the earlier epoch) or, without one, by recency.
pub type EpochCheckpoints = Checkpointer<KeepBest>;

/// The strategy of [`EpochCheckpoints`].
#[derive(Debug, Clone)]
pub struct KeepBest {
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
        Checkpointer::with(KeepBest {
            dir: dir.to_path_buf(),
            keep: keep.max(1),
            monitor,
            kept: Vec::new(),
            current: None,
        })
    }

    /// The file of `epoch`'s weights.
    pub fn path(dir: &Path, epoch: usize) -> PathBuf {
        dir.join(format!("epoch-{epoch:03}.bpk"))
    }

    /// The epochs kept, best first.
    pub fn kept(&self) -> Vec<usize> {
        self.strategy.kept.iter().map(|k| k.0).collect()
    }
}

impl KeepBest {
    fn rank(&mut self) {
        let Some(monitor) = &self.monitor else {
            self.kept.sort_by_key(|k| std::cmp::Reverse(k.0));
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
}

impl CheckpointStrategy for KeepBest {
    /// The kept epochs are those before the resume point whose files are still there.
    fn resume(&mut self, resumed: &Resumed<'_>) {
        let mut values = std::collections::BTreeMap::new();
        for m in resumed.history {
            if let Some(v) = self.monitor.as_ref().and_then(|mon| mon.value(m)) {
                values.insert(m.epoch, v);
            }
        }
        self.kept = (1..resumed.epoch)
            .filter(|&e| EpochCheckpoints::path(&self.dir, e).is_file())
            .map(|e| (e, values.get(&e).copied()))
            .collect();
        self.rank();
    }

    fn observe(&mut self, m: &EpochMetrics) {
        if let Some(v) = self.monitor.as_ref().and_then(|mon| mon.value(m)) {
            self.current = Some(v);
        }
    }

    /// This epoch's file, then the files of the epochs that fall out of the best `keep`.
    fn decide(&mut self, epoch: usize) -> Vec<CheckpointAction> {
        let value = self.current.take();
        self.kept.retain(|k| k.0 != epoch);
        self.kept.push((epoch, value));
        self.rank();
        let dropped = self.kept.split_off(self.keep.min(self.kept.len()));
        let save = CheckpointAction::Save(EpochCheckpoints::path(&self.dir, epoch));
        let deletes = dropped
            .into_iter()
            .map(|(e, _)| CheckpointAction::Delete(EpochCheckpoints::path(&self.dir, e)));
        std::iter::once(save).chain(deletes).collect()
    }
}
