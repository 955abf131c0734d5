//! What a `kiln` command can fail with, and the exit code of each.

use kiln_models::onnx::ExportError;
use std::path::PathBuf;

use kiln_train::{ConfigError, TrainError};

use crate::backend::BackendError;
use crate::remote::RemoteError;

/// Anything a `kiln` command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A flag's value is unusable.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A run setting is invalid ([`kiln_train::RunConfig::plan`]), named as the user gave it.
    #[error("{origin}{}", error.problem)]
    Setting {
        /// Where the setting came from.
        origin: Origin,
        /// The setting and what is wrong with it.
        #[source]
        error: Box<ConfigError>,
    },
    /// No backend could be used.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Evaluating or writing a report failed.
    #[error(transparent)]
    Eval(#[from] kiln_eval::EvalError),
    /// A remote device or `kiln serve` cannot be used.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// Where an invalid run setting was given, so that the message names it the way the user
/// wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// On the command line (`--lr`).
    Flag(&'static str),
    /// As a key of a `.toml` settings file (`lr = -1` in `run.toml`).
    TomlKey {
        /// The file.
        file: PathBuf,
        /// The key as written.
        key: String,
    },
    /// As a field of a recorded `config.json` (replayed or resumed).
    Field {
        /// The file.
        file: PathBuf,
        /// The field's path (`training.lr`).
        field: String,
    },
}

impl std::fmt::Display for Origin {
    /// The prefix of the message: `--lr: `, `run.toml: lr: `, `config.json: training.lr: `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag(flag) => write!(f, "{flag}: "),
            Self::TomlKey { file, key } => write!(f, "{}: `{key}`: ", file.display()),
            Self::Field { file, field } => write!(f, "{}: {field}: ", file.display()),
        }
    }
}

impl CliError {
    /// Process exit code: 2 for bad flags, settings or input files (as clap), 3 for missing
    /// data, 130 for a run interrupted by Ctrl-C (as a shell reports SIGINT), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Flag { .. }
            | Self::Setting { .. }
            | Self::Backend(BackendError::NotCompiled(_) | BackendError::TooFewDevices { .. }) => 2,
            Self::Train(TrainError::Interrupted { .. }) => 130,
            Self::Remote(RemoteError::Connect { .. } | RemoteError::Serve(_)) => 1,
            Self::Remote(_) => 2,
            Self::Train(
                TrainError::RunExists { .. }
                | TrainError::SeveralRuns { .. }
                | TrainError::RunsInside { .. }
                | TrainError::OutputExists { .. }
                | TrainError::Export(
                    ExportError::Unsupported { .. }
                    | ExportError::Opset { .. }
                    | ExportError::Normalization { .. },
                ),
            ) => 2,
            Self::Train(TrainError::Data(kiln_data::DataError::NotFound { .. })) => 3,
            Self::Eval(kiln_eval::EvalError::Csv { .. })
            | Self::Train(
                TrainError::Import(_) | TrainError::Config(_) | TrainError::RunConfigFormat { .. },
            )
            | Self::Train(TrainError::Data(
                kiln_data::DataError::Image { .. } | kiln_data::DataError::Folder { .. },
            )) => 2,
            _ => 1,
        }
    }

    /// What to do about the error, when kiln knows: the ways forward from a directory that
    /// holds a run.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Train(TrainError::RunExists {
                dir, parent: true, ..
            }) => Some(format!(
                "  keep it beside new runs: move its files into {0}/version-0\n  or give \
                 --artifact-dir for the new run",
                dir.display()
            )),
            Self::Train(TrainError::RunExists { dir, status, .. }) => {
                let resume = match status {
                    Some(kiln_train::RunState::Finished) => String::new(),
                    _ => format!("  to continue it:  kiln train --resume {}\n", dir.display()),
                };
                Some(format!(
                    "{resume}  to replace it:   add --overwrite (its files are deleted)\n  or \
                     give another --artifact-dir (without one, each run gets a new \
                     artifacts/<dataset>-<model>/version-N)"
                ))
            }
            Self::Train(TrainError::Export(ExportError::Unsupported { .. })) => Some(
                "  a model exports to ONNX once its ImageClassifier implements to_onnx \
                 (docs/extending.md)\n  its weights export as they are: --format safetensors"
                    .into(),
            ),
            Self::Train(TrainError::Worker { .. }) => Some(
                "  a device that went away (a server stopped) ends the run; the state of its last \
                 finished epoch is kept: once the device is back, continue with kiln train \
                 --resume <the run's directory>"
                    .into(),
            ),
            Self::Remote(RemoteError::Connect { .. }) => Some(
                "  is `kiln serve` running there, reachable from here, with the token given here \
                 (--token-file or KILN_REMOTE_TOKEN), and built from the same kiln release?"
                    .into(),
            ),
            Self::Train(TrainError::OutputExists { .. }) => Some(
                "  to replace it: add --overwrite\n  or write elsewhere with --out FILE".into(),
            ),
            Self::Train(TrainError::SeveralRuns { runs, .. }) => {
                let latest = runs.last()?;
                Some(format!("  e.g. the latest: {}", latest.display()))
            }
            _ => None,
        }
    }

    /// `error` with an invalid setting of the recorded run configuration `file` named as a
    /// field of that file.
    pub fn in_file(file: &std::path::Path, error: TrainError) -> Self {
        match error {
            TrainError::Config(error) => Self::Setting {
                origin: Origin::Field {
                    file: file.to_path_buf(),
                    field: error.field.clone(),
                },
                error: Box::new(error),
            },
            other => Self::Train(other),
        }
    }
}
