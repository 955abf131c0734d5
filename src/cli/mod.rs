//! The `kiln` subcommands' flags and actions, shared by the binary and the examples.

mod eval;
mod metrics;
mod report;
mod train;

pub use eval::{EvalArgs, eval};
pub use metrics::{MetricsArgs, metrics};
pub use report::{ReportArgs, ReportFormat};
pub use train::{CliError, TrainArgs, train};
