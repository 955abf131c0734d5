//! The resumable state of a run, kept in one directory (`training-state/` of the artifact
//! directory): what `kiln train --resume` continues from.
//!
//! Written at the end of every epoch and when training is interrupted: the model's weights
//! (burnpack, parameter ids included, so the optimizer state keyed by them applies again), the
//! optimizer's state (Burn's [`OptimizerRecord`]) and `state.json` — where training stands
//! ([`TrainingState`]). Weights and optimizer state go to files named after the step, each
//! written to a temporary file, synced to disk and renamed; `state.json` is replaced last, the
//! same way, and only then are the previous step's files removed. A run killed (or a machine
//! losing power) at any moment therefore leaves one complete checkpoint in force: the new one
//! or the previous one.
//!
//! Nothing else is needed to continue exactly: the data order, the augmentation draws and the
//! backend's random stream (dropout) are pure functions of the seed, the epoch and the batch
//! (see [`batch_seed`]), and the learning rate of the step.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use kiln_data::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::history::{History, PhaseAccumulator, exact_f64};
use crate::plateau::PlateauState;

/// The file inside the checkpoint directory saying where training stands.
pub const STATE_FILE: &str = "state.json";

/// Where a run stands: training continues at `batch` of `epoch`, after `step` optimizer steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// The 1-based epoch training continues in (`epochs + 1`: training is over).
    pub epoch: usize,
    /// The 0-based batch of that epoch it continues at (0 at an epoch boundary; after an
    /// interruption, the batch after the last optimizer step).
    pub batch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// Every completed phase's metrics.
    pub history: History,
    /// The interrupted epoch's pooled training metrics so far (`batch > 0`).
    pub running: Option<PhaseAccumulator>,
    /// Seconds spent in the interrupted epoch before the interruption.
    #[serde(with = "exact_f64")]
    pub running_seconds: f64,
    /// Why training ended early, if a callback stopped it (a resumed run then trains no more).
    pub stopped_early: Option<String>,
    /// The weights' file, inside the checkpoint directory.
    pub model: String,
    /// The optimizer state's file, inside the checkpoint directory.
    pub optimizer: String,
    /// The moving average of the weights' file, inside the checkpoint directory (runs with an
    /// EMA).
    #[serde(default)]
    pub average: Option<String>,
    /// The plateau schedule's state (runs with one).
    #[serde(default)]
    pub plateau: Option<PlateauState>,
}

impl TrainingState {
    /// The state saved in checkpoint directory `dir`; `None` when it holds none.
    pub fn read(dir: &Path) -> Result<Option<Self>, TrainError> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::artifact(&path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrainError::artifact(&path, format!("not a kiln training state: {e}")))
    }

    /// The saved weights' path.
    pub fn model_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.model)
    }

    /// The saved moving average of the weights, loaded into a copy of `model`.
    pub(crate) fn load_average<M: Module>(&self, dir: &Path, model: &M) -> Result<M, TrainError> {
        let name = self.average.as_deref().ok_or_else(|| {
            TrainError::artifact(
                dir.join(STATE_FILE),
                "the run keeps a moving average of the weights, and this state has none",
            )
        })?;
        let path = dir.join(name);
        model
            .valid()
            .try_load_file(&path)
            .map_err(|e| TrainError::artifact(&path, e))
    }

    /// Restores the optimizer's state (from `dir`) into `optim`.
    pub(crate) fn restore_optimizer(
        &self,
        dir: &Path,
        optim: ModuleOptimizer,
    ) -> Result<ModuleOptimizer, TrainError> {
        let path = dir.join(&self.optimizer);
        let record = OptimizerRecord::load(&path).map_err(|e| TrainError::artifact(&path, e))?;
        Ok(optim.load_record(record))
    }
}

/// Where training stands, without the file names: what the loop knows.
#[derive(Debug, Clone)]
pub(crate) struct Position<'a> {
    pub epoch: usize,
    pub batch: usize,
    pub step: usize,
    pub history: &'a History,
    pub running: Option<&'a PhaseAccumulator>,
    pub running_seconds: f64,
    pub stopped_early: Option<String>,
    pub plateau: Option<&'a PlateauState>,
}

/// Saves `model` (the weights, and their moving average if kept), `optim` and `at` into
/// checkpoint directory `dir` (see the module docs for why a crash at any point leaves a
/// complete checkpoint).
pub(crate) fn save<M: Module>(
    dir: &Path,
    (model, average): (&M, Option<&M>),
    optim: &ModuleOptimizer,
    at: Position<'_>,
) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
    let state = TrainingState {
        epoch: at.epoch,
        batch: at.batch,
        step: at.step,
        history: at.history.clone(),
        running: at.running.cloned(),
        running_seconds: at.running_seconds,
        stopped_early: at.stopped_early,
        model: format!("model-{:08}-{}.bpk", at.step, at.epoch),
        optimizer: format!("optimizer-{:08}-{}.bpk", at.step, at.epoch),
        average: average.map(|_| format!("average-{:08}-{}.bpk", at.step, at.epoch)),
        plateau: at.plateau.cloned(),
    };
    let model_path = dir.join(&state.model);
    write_atomically(&model_path, |tmp| {
        model.valid().save_file(tmp).map_err(|e| e.to_string())
    })?;
    if let (Some(average), Some(name)) = (average, &state.average) {
        let path = dir.join(name);
        write_atomically(&path, |tmp| {
            average.valid().save_file(tmp).map_err(|e| e.to_string())
        })?;
    }
    let optim_path = dir.join(&state.optimizer);
    write_atomically(&optim_path, |tmp| {
        optim.to_record().save(tmp).map_err(|e| e.to_string())
    })?;
    let text = serde_json::to_string_pretty(&state)
        .map_err(|e| TrainError::artifact(dir.join(STATE_FILE), e))?;
    write_atomically(&dir.join(STATE_FILE), |tmp| {
        std::fs::write(tmp, text + "\n").map_err(|e| e.to_string())
    })?;
    // Now that the new state is in force, every other weights or optimizer file is stale:
    // the previous state's, and any a crash left before its state was written.
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::artifact(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = ["model-", "optimizer-", "average-"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        let current = [
            Some(&state.model),
            Some(&state.optimizer),
            state.average.as_ref(),
        ];
        if ours && !current.contains(&Some(&name)) {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::artifact(entry.path(), e));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Writes `path` by `write`ing a temporary file beside it, syncing it to disk, then renaming it
/// into place (and syncing the directory, on Unix), so neither a killed process nor a power
/// loss leaves a half-written file under `path`.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), TrainError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write(&tmp).map_err(|e| TrainError::artifact(&tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::artifact(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::artifact(path, e))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| TrainError::artifact(dir, e))?;
    }
    Ok(())
}

/// The seed of the backend's random stream for batch `batch` of `epoch`: reseeding before
/// every batch makes dropout's draws a function of the batch, not of everything run before
/// it, so a resumed run draws what an uninterrupted one would.
pub fn batch_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    let stream = ((epoch as u64) << 32) | batch as u64;
    SplitMix64::for_stream(seed ^ 0x6b69_6c6e_5f72_6e67, stream).next_u64()
}
