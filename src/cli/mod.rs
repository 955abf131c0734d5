//! The `kiln` subcommands' flags and actions, shared by the binary and the examples.

mod eval;
mod metrics;
mod paradox;
mod report;
mod train;

pub use eval::{EvalArgs, eval};
pub use metrics::{MetricsArgs, metrics};
pub use paradox::{ParadoxArgs, accuracy_paradox, paradox_text};
pub use report::{ReportArgs, ReportFormat};
pub use train::{CliError, TrainArgs, train};
