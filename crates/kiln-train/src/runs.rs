//! The runs under a directory, each summarized from the files it wrote (`kiln runs`), and
//! the one run a directory stands for (`kiln eval artifacts/fashion-mnist-mnist-cnn`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;
use crate::run::artifacts;
use crate::run_dir::{RunState, RunStatus, holds_run, lock_holder, read_json_if_any, version_of};

/// One run, as its files describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Its directory.
    pub dir: PathBuf,
    /// When it first started (RFC 3339), if recorded.
    pub started: Option<String>,
    /// The dataset's name, or an image folder's path.
    pub dataset: String,
    /// The architecture.
    pub model: String,
    /// Epochs validated.
    pub epochs_done: usize,
    /// Epochs planned.
    pub epochs_planned: Option<usize>,
    /// Its state now (a run whose process is gone while it was running reads `interrupted`).
    pub state: RunState,
    /// Test accuracy (`eval.json`).
    pub test_accuracy: Option<f64>,
    /// Test macro-averaged F1 (`eval.json`).
    pub macro_f1: Option<f64>,
    /// The monitored quantity (`valid_loss` when none was set) at its best epoch.
    pub best: Option<BestEpoch>,
    /// Wall-clock seconds: the recorded total, or the epochs' seconds of a run that never
    /// recorded its end.
    pub seconds: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A monitored quantity's best value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestEpoch {
    /// `valid_macro_f1`.
    pub monitor: String,
    /// Its best value.
    pub value: f64,
    /// The epoch that reached it.
    pub epoch: usize,
    /// Its direction: higher is better (`max`), or lower.
    pub higher_is_better: bool,
}

/// Directories inside a run that are never runs themselves.
const NOT_RUNS: [&str; 4] = [
    artifacts::TRAINING_STATE,
    artifacts::CHECKPOINTS,
    artifacts::TENSORBOARD,
    "plots",
];

/// The run directories at or under `root`, in path order (`version-10` after `version-9`).
/// Symbolic links are not followed (a `latest` link is not a second run); a subdirectory that
/// cannot be read is passed over.
pub fn run_dirs(root: &Path) -> Result<Vec<PathBuf>, TrainError> {
    run_dirs_within(root, usize::MAX)
}

/// [`run_dirs`] down to `depth` levels below `root`.
pub(crate) fn run_dirs_within(root: &Path, depth: usize) -> Result<Vec<PathBuf>, TrainError> {
    let entries = std::fs::read_dir(root).map_err(|e| TrainError::artifact(root, e))?;
    let mut found = Vec::new();
    if holds_run(root) {
        found.push(root.to_path_buf());
    }
    let mut children: Vec<(Option<u64>, String, PathBuf)> = (entries.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (version_of(&name), name, e.path())
        })
        .filter(|(_, name, _)| !NOT_RUNS.contains(&name.as_str()))
        .collect();
    children.sort();
    for (_, _, child) in children.into_iter().filter(|_| depth > 0) {
        found.extend(run_dirs_within(&child, depth - 1).unwrap_or_default());
    }
    Ok(found)
}

/// The run `dir` stands for: itself when it holds one, else the one run under it.
pub fn find_run(dir: &Path) -> Result<PathBuf, TrainError> {
    if holds_run(dir) || !dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    let mut runs = run_dirs(dir)?;
    match runs.len() {
        1 => Ok(runs.remove(0)),
        0 => Err(TrainError::artifact(
            dir,
            "holds no run: no config.json in it or under it (is this a kiln artifact directory?)",
        )),
        _ => Err(TrainError::SeveralRuns {
            dir: dir.to_path_buf(),
            runs,
        }),
    }
}

/// Every run at or under `root`, summarized; a run whose files cannot be read is its error
/// (naming the file), and the others are still listed.
pub fn list_runs(root: &Path) -> Result<Vec<Result<RunSummary, TrainError>>, TrainError> {
    Ok(run_dirs(root)?.iter().map(|d| summarize(d)).collect())
}

/// The run in `dir`, summarized from its `status.json`, `config.json`, `metrics.csv` and
/// `eval.json`; a file it has not written yet leaves its fields empty.
pub fn summarize(dir: &Path) -> Result<RunSummary, TrainError> {
    let status = RunStatus::read(dir)?;
    let config =
        read_json_if_any::<serde_json::Value>(&dir.join(artifacts::CONFIG))?.unwrap_or_default();
    let eval = read_json_if_any::<serde_json::Value>(&dir.join(artifacts::EVAL))?;
    let monitor = config["monitor"]["metric"].as_str().unwrap_or("valid_loss");
    // `valid_macro_f1` is the `macro_f1` column of the validation rows.
    let column = monitor.split_once('_').map_or("", |(_, column)| column);
    let rows = read_metrics(&dir.join(artifacts::METRICS), column)?;
    let mode_max = match config["monitor"]["mode"].as_str() {
        Some(mode) => mode == "max",
        None => !monitor.ends_with("_loss"),
    };
    // An epoch is done once validated (or trained, in a run without validation).
    let last = |split: &str| {
        (rows.iter().filter(|r| r.split == split))
            .map(|r| r.epoch)
            .max()
    };
    let epochs_done = last("valid").or_else(|| last("train")).unwrap_or(0);
    let killed_seconds = (!rows.is_empty()).then(|| rows.iter().map(|r| r.seconds).sum());
    let state = state_of(dir, status.as_ref())?;
    Ok(RunSummary {
        dir: dir.to_path_buf(),
        started: status.as_ref().map(|s| s.started.clone()),
        dataset: match &config["dataset"] {
            serde_json::Value::String(name) => name.clone(),
            other => other["root"].as_str().unwrap_or("?").to_string(),
        },
        model: config["architecture"].as_str().unwrap_or("?").to_string(),
        epochs_done,
        epochs_planned: config["training"]["epochs"].as_u64().map(|n| n as usize),
        state,
        test_accuracy: eval.as_ref().and_then(|e| e["accuracy"].as_f64()),
        macro_f1: eval
            .as_ref()
            .and_then(|e| e["macro avg"]["f1-score"].as_f64()),
        best: best_epoch(&rows, monitor, mode_max),
        seconds: match status.as_ref().filter(|s| s.ended.is_some()) {
            Some(s) => Some(s.seconds),
            None => killed_seconds,
        },
        error: status.and_then(|s| s.error),
    })
}

/// The state now: running while a process holds the lock; a run recorded as running whose
/// lock is free was killed (interrupted); runs of kiln before `status.json` are judged by
/// their files.
fn state_of(dir: &Path, status: Option<&RunStatus>) -> Result<RunState, TrainError> {
    if lock_holder(dir)?.is_some() {
        return Ok(RunState::Running);
    }
    Ok(match status.map(|s| s.state) {
        Some(RunState::Running) => RunState::Interrupted,
        Some(state) => state,
        None if dir.join(artifacts::EVAL).exists() => RunState::Finished,
        None if dir.join(artifacts::TRAINING_STATE).exists() => RunState::Interrupted,
        None => RunState::Failed,
    })
}

/// One row of `metrics.csv`: what `kiln runs` reads of it.
struct MetricsRow {
    epoch: usize,
    split: String,
    seconds: f64,
    /// The value of the monitored column, if the file has it.
    monitored: Option<f64>,
}

/// The rows of `metrics.csv` (none when there is no file yet), with the column `monitored`.
fn read_metrics(path: &Path, monitored: &str) -> Result<Vec<MetricsRow>, TrainError> {
    let mut reader = match csv::Reader::from_path(path) {
        Ok(reader) => reader,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(TrainError::artifact(path, e)),
    };
    let header = reader
        .headers()
        .map_err(|e| TrainError::artifact(path, e))?;
    let column = |name: &str| header.iter().position(|h| h == name);
    let (epoch, seconds, monitored) = (column("epoch"), column("seconds"), column(monitored));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| TrainError::artifact(path, e))?;
        let number = |at: Option<usize>| at.and_then(|i| record.get(i)?.parse::<f64>().ok());
        rows.push(MetricsRow {
            epoch: number(epoch).unwrap_or(0.0) as usize,
            split: record.get(1).unwrap_or_default().to_string(),
            seconds: number(seconds).unwrap_or(0.0),
            monitored: number(monitored),
        });
    }
    Ok(rows)
}

/// The best value of `monitor` (`valid_<column>` or `train_<column>`, read into
/// [`MetricsRow::monitored`]) over the epochs.
fn best_epoch(rows: &[MetricsRow], monitor: &str, max: bool) -> Option<BestEpoch> {
    let split = if monitor.starts_with("valid_") {
        "valid"
    } else {
        "train"
    };
    let values = (rows.iter().filter(|r| r.split == split)).filter_map(|r| {
        let v = r.monitored?;
        (!v.is_nan()).then_some((r.epoch, v))
    });
    let better = |a: &(usize, f64), b: &(usize, f64)| match max {
        true => a.1.total_cmp(&b.1),
        false => b.1.total_cmp(&a.1),
    };
    // The first epoch to reach the best value.
    let (epoch, value) = values.rev().max_by(better)?;
    Some(BestEpoch {
        monitor: monitor.to_string(),
        value,
        epoch,
        higher_is_better: max,
    })
}
