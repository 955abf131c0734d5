//! Typed errors of `kiln-train`.

use std::path::PathBuf;

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
    /// The configuration cannot be run.
    #[error("invalid configuration: {0}")]
    Config(String),
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
    /// Writing an artifact failed.
    #[error("{}: {message}", path.display())]
    Artifact {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl TrainError {
    /// An [`Artifact`](Self::Artifact) error from any displayable cause.
    pub fn artifact(path: impl Into<PathBuf>, cause: impl std::fmt::Display) -> Self {
        Self::Artifact {
            path: path.into(),
            message: cause.to_string(),
        }
    }
}
