//! The `kiln` subcommands' flags and actions, shared by the binary and the examples.

mod metrics;
mod train;

pub use metrics::{MetricsArgs, ReportFormat, metrics};
pub use train::{CliError, TrainArgs, train};
