//! Typed errors of `kiln-train`.

use std::path::{Path, PathBuf};

/// What stopped a training run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Loading or batching data failed.
    #[error(transparent)]
    Data(#[from] kiln_data::DataError),
    /// Computing or writing the evaluation failed.
    #[error(transparent)]
    Eval(#[from] kiln_eval::EvalError),
    /// Pretrained weights could not be imported.
    #[error(transparent)]
    Import(#[from] kiln_models::ImportError),
    /// A model that cannot be exported (a layer without an export, an unsupported opset).
    #[error(transparent)]
    Export(#[from] kiln_models::onnx::ExportError),
    /// An output file that exists and was not to be replaced.
    #[error("{} exists", path.display())]
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A setting cannot be run ([`crate::RunConfig::plan`]); the error names it.
    #[error(transparent)]
    Config(#[from] crate::plan::ConfigError),
    /// A recorded run configuration (`config.json`) is not one kiln can read.
    #[error("{}: not a kiln run config: {source}", path.display())]
    RunConfigFormat {
        /// The file.
        path: PathBuf,
        /// What the JSON reader found.
        #[source]
        source: serde_json::Error,
    },
    /// A new run's directory already holds a run, which is never replaced by accident; or
    /// (`parent`) the directory new `version-N` runs go into is itself a run (kiln's layout
    /// before versions), which they would be mixed into.
    #[error("{} {}{}", dir.display(), match parent {
        true => "holds a run itself (kiln's layout before version-N directories), so new runs cannot go under it",
        false => "already holds a run",
    }, status.map(|s| format!(" ({s})")).unwrap_or_default())]
    RunExists {
        /// The run's directory.
        dir: PathBuf,
        /// Its state, when it recorded one.
        status: Option<crate::run_dir::RunState>,
        /// Whether it was to be the parent of a new `version-N`.
        parent: bool,
    },
    /// A directory given for one run has runs under it.
    #[error("{} has {} run(s) under it ({}): a run needs a directory of its own", dir.display(), runs.len(), runs.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", "))]
    RunsInside {
        /// The directory.
        dir: PathBuf,
        /// The runs under it.
        runs: Vec<PathBuf>,
    },
    /// Another process holds the run directory's lock.
    #[error("{} is in use by {holder}", dir.display())]
    RunLocked {
        /// The run's directory.
        dir: PathBuf,
        /// The process, as its lock file names it (`PID 1234 (kiln train …)`).
        holder: String,
    },
    /// A directory given as a run holds several runs.
    #[error("{} holds {} runs ({}): name one", dir.display(), runs.len(), runs.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", "))]
    SeveralRuns {
        /// The directory.
        dir: PathBuf,
        /// The runs in it, oldest first.
        runs: Vec<PathBuf>,
    },
    /// A split the run needs has no images.
    #[error("the {split} split is empty")]
    EmptySplit {
        /// `training`, `validation`, `test`.
        split: &'static str,
    },
    /// No decision threshold meets the run's rule on the validation split.
    #[error("no threshold gives {rule} (the validation split has no `{positive}` image?)")]
    NoThreshold {
        /// The rule.
        rule: crate::config::DecisionThreshold,
        /// The positive class's name.
        positive: String,
    },
    /// A data-parallel worker thread stopped or panicked.
    #[error("the data-parallel worker of {device} failed: {why}")]
    Worker {
        /// The worker's device, as Debug prints it.
        device: String,
        /// The panic message, or that it stopped.
        why: String,
    },
    /// A broken internal invariant: a bug in kiln, not in the input.
    #[error("internal error (a bug in kiln): {0}")]
    Internal(&'static str),
    /// The loss became NaN or infinite.
    #[error("loss is {loss} at epoch {epoch}, batch {batch}: training diverged (lower --lr?)")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch within the epoch.
        batch: usize,
        /// The offending value.
        loss: f64,
    },
    /// Training was interrupted (Ctrl-C) after an optimizer step.
    #[error("interrupted at epoch {epoch}, batch {batch}: {}", match saved {
        Some(dir) => format!("training state saved in {}", dir.display()),
        None => "no training state kept".to_string(),
    })]
    Interrupted {
        /// 1-based epoch training continues in.
        epoch: usize,
        /// 0-based batch it continues at.
        batch: usize,
        /// The training-state directory it was saved in, if one is kept.
        saved: Option<PathBuf>,
    },
    /// Reading or writing a file or directory failed: the path, and the cause (kept as the
    /// error's [`source`](std::error::Error::source)), the way ripgrep's `ignore::Error::WithPath`
    /// adds a path by wrapping.
    #[error("{}: {source}", path.display())]
    WithPath {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl TrainError {
    /// The [`RunConfigFormat`](Self::RunConfigFormat) error of the record `path`, for
    /// `map_err`.
    pub(crate) fn not_a_run(path: &Path) -> impl FnOnce(serde_json::Error) -> Self + '_ {
        move |source| Self::RunConfigFormat {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`WithPath`](Self::WithPath) error: `cause` (an I/O, JSON or record error, or a
    /// message) about `path`.
    pub fn artifact(
        path: impl Into<PathBuf>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::WithPath {
            path: path.into(),
            source: cause.into(),
        }
    }
}
