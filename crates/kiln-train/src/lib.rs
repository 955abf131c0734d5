//! The kiln training loop, and everything a run needs around it.
//!
//! - [`RunConfig::plan`]: the one place a run's settings are checked ([`ConfigError`] names
//!   the bad one by its `config.json` path); every way into a run goes through it.
//! - [`Registry`]: architectures by name — train, replay, resume, evaluate, load for
//!   prediction ([`classify`]), benchmark — with your own added by [`Registry::with`].
//! - [`fit`]: the epoch loop for any [`kiln_models::ImageClassifier`], given its data
//!   ([`FitData`]) and one [`FitSettings`] value — SGD, Adam or AdamW ([`OptimizerConfig`]) with
//!   optional clipping and gradient accumulation, class-weighted and label-smoothed
//!   cross-entropy ([`ClassWeights`]), a learning rate that is a pure function of the step
//!   ([`LrSchedule`]), seeded data order and augmentation, sample-pooled metrics
//!   ([`PhaseAccumulator`]), validation after each epoch, one device or data-parallel
//!   ([`data_parallel`]).
//! - [`Callback`]: hooks at data loaded, resume, train start, batch end, training-phase end,
//!   validation end, epoch end and train end; built-ins [`Progress`], [`MetricsCsv`] and
//!   [`MetricsJsonl`] (with any [`kiln_eval::MetricSpec`] as extra columns), [`LrMonitor`]
//!   (`lr.csv`), [`CurvesPlot`] (PNG + SVG), [`EarlyStopping`], and the checkpoints —
//!   [`LastCheckpoint`], [`EpochCheckpoints`] (keep N), [`BestCheckpoint`] — each a
//!   [`CheckpointStrategy`] deciding what to save and delete, carried out by a
//!   [`Checkpointer`]; [`Monitor`] names what is watched (`valid_loss`, `valid_macro_f1`,
//!   `valid_recall:Shirt`, …).
//! - [`training_state`]: what `--resume` continues from, written atomically every epoch and on
//!   Ctrl-C ([`FitOptions`], [`RunOptions`]); a resumed run ends with the metrics and weights of
//!   the uninterrupted one.
//! - [`run`]: a whole [`RunConfig`] in named stages — plan, load the splits ([`Splits`]), build
//!   the model, prepare the artifact directory, fit, choose a binary head's threshold, evaluate
//!   the test split and write the artifacts ([`artifacts`]); [`evaluate_artifacts`]: re-evaluate
//!   a finished run on any split (`kiln eval`).
//! - [`RunDir`]: a run's directory, locked by the process running it, never replaced or mixed
//!   with another run by accident ([`DirPolicy`]: the directory given, `--overwrite`, or a new
//!   `version-N`); `status.json` says how it ended ([`RunStatus`]). [`list_runs`] summarizes
//!   every run under a directory (`kiln runs`); [`find_run`] finds the one run a directory
//!   holds.
//! - [`tensorboard`]: TensorBoard event files of every run (scalars by step and epoch, the
//!   validation confusion matrix and per-class bars as images, the configuration and the test
//!   report as text), read by `tensorboard --logdir artifacts`.
//!
//! A run is a value; every setting is checked by one function before anything runs, and an
//! invalid one is named by its path in `config.json`:
//!
//! ```
//! use kiln_data::DatasetName;
//! use kiln_train::RunConfig;
//!
//! let mut config = RunConfig::new(DatasetName::FashionMnist, "mnist-cnn", "artifacts/fm");
//! config.training.epochs = 1;
//! assert!(config.plan().is_ok());
//! config.training.lr = -1.0;
//! let error = config.plan().unwrap_err();
//! assert_eq!(error.field, "training.lr");
//! assert_eq!(error.to_string(), "training.lr: must be a positive number, got -1");
//! // Training it: `kiln_train::Registry::builtin().train(config, &device, callbacks, &options)`
//! // (see examples/library.rs).
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod bench;
mod best_checkpoint;
pub mod binary;
mod callback;
mod checkpoint;
mod class_weights;
mod config;
mod curves_plot;
pub mod data_parallel;
mod early_stopping;
pub mod ema;
mod epoch_checkpoints;
mod error;
mod eval_split;
mod evaluate;
mod export;
mod fitting;
mod history;
mod last_checkpoint;
mod lr_find;
mod lr_monitor;
mod metrics_csv;
mod metrics_jsonl;
mod monitor;
mod optimizer;
mod plan;
pub mod plateau;
mod predict;
mod predict_dir;
mod progress;
mod recorded_run;
mod registry;
mod run;
mod run_dir;
mod runs;
mod schedule;
mod soft_targets;
mod split_report;
mod splits;
mod step;
pub mod tensorboard;
mod trainer;
pub mod training_state;

pub use bench::{BenchSettings, Throughput, throughput};
pub use best_checkpoint::{Best, BestCheckpoint};
pub use callback::{BatchEnd, Callback, DataInfo, ModelSnapshot, Resumed, TrainInfo};
pub use checkpoint::{CheckpointAction, CheckpointStrategy, Checkpointer};
pub use class_weights::ClassWeights;
pub use config::{
    BinaryHead, Calibration, DecisionThreshold, EvaluationConfig, MonitorConfig, Pretrained,
    RareClass, RunConfig, Sampler, TrainingConfig,
};
pub use curves_plot::{CurvesPlot, training_curves};
pub use early_stopping::EarlyStopping;
pub use epoch_checkpoints::{EpochCheckpoints, KeepBest};
pub use error::TrainError;
pub use eval_split::EvalSplit;
pub use evaluate::{Evaluation, evaluate};
pub use export::{ExportFormat, ExportInfo, ExportRequest, Exported, export_model};
pub use fitting::{CurvePoint, curve_of, read_curve, run_diagnostics};
pub use history::{EpochMetrics, History, Phase, PhaseAccumulator};
pub use last_checkpoint::{LastCheckpoint, Latest};
pub use lr_find::{LrFind, LrFindPoint, LrFindSettings, lr_find, suggest};
pub use lr_monitor::{LR_CSV_HEADER, LrMonitor};
pub use metrics_csv::{ACCURACY_AGAINST, METRICS_CSV_HEADER, MetricsCsv};
pub use metrics_jsonl::MetricsJsonl;
pub use monitor::{Mode, Monitor, Monitored};
pub use optimizer::{GradClipping, OptimizerConfig, norm_and_bias_ids};
pub use plan::{ConfigError, Problem, RunPlan};
pub use predict::{ClassProbability, LoadedModel, ModelSource, Prediction, classify};
pub use predict_dir::{DirPredictions, DirRequest, FilePrediction, classify_dir};
pub use progress::Progress;
pub use recorded_run::{
    ArtifactEval, architecture_name, evaluate_artifacts, load_trained, read_architecture,
    read_run_config,
};
pub use registry::{ModelListing, Registry, read_recorded};
pub use run::{RunOptions, RunOutcome, artifacts, run, run_with};
pub use run_dir::{DirPolicy, RunDir, RunState, RunStatus, holds_run, lock_holder, version_of};
pub use runs::{BestEpoch, RunSummary, find_run, list_runs, run_dirs, summarize};
pub use schedule::LrSchedule;
pub use split_report::{Scored, SplitOutputs, SplitReport, configured_report};
pub use splits::Splits;
pub use trainer::{FitData, FitOptions, FitSettings, Fitted, fit};
pub use training_state::TrainingState;
