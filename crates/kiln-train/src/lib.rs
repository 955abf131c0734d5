//! The kiln training loop.
//!
//! - [`fit`]: the epoch loop for any [`kiln_models::ImageClassifier`] — Adam, a learning rate
//!   that is a pure function of the step ([`LrSchedule`]), seeded data order, sample-pooled
//!   metrics ([`PhaseAccumulator`]), validation after each epoch.
//! - [`Callback`]: hooks at data loaded, train start, batch end, epoch end, validation end and
//!   train end;
//!   built-ins [`Progress`] and [`MetricsCsv`].
//! - [`run`]: a whole [`RunConfig`] — load data, train, evaluate the test split, write the
//!   artifacts ([`artifacts`]); [`evaluate_artifacts`]: re-evaluate a finished run on any
//!   split (`kiln eval`).

mod callback;
mod config;
mod error;
mod evaluate;
mod history;
mod metrics_csv;
mod progress;
mod run;
mod schedule;
mod split_eval;
mod trainer;

pub use callback::{BatchEnd, Callback, DataInfo, TrainInfo};
pub use config::{RunConfig, TrainingConfig};
pub use error::TrainError;
pub use evaluate::{Evaluation, evaluate};
pub use history::{EpochMetrics, History, Phase, PhaseAccumulator};
pub use metrics_csv::{METRICS_CSV_HEADER, MetricsCsv};
pub use progress::Progress;
pub use run::{RunOutcome, artifacts, run};
pub use schedule::LrSchedule;
pub use split_eval::{
    ArtifactEval, EvalSplit, SplitOutputs, SplitReport, Splits, evaluate_artifacts,
};
pub use trainer::fit;
