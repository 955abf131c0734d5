//! The flags of `kiln train`, `kiln eval` and `kiln metrics` that choose what a report adds to
//! the confusion counts: top-k accuracies and bootstrap intervals.

use kiln_train::EvaluationConfig;

use super::error::CliError;

/// Top-k and bootstrap flags; each overrides `kiln_train::EvaluationConfig`'s default (for
/// `kiln eval`: what the run recorded).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EvaluationArgs {
    /// The k of the top-k accuracies, comma-separated (each below the class count)
    /// [default: 1, 3 and 5 below the class count].
    #[arg(long, value_delimiter = ',', value_name = "K,…")]
    pub top_k: Option<Vec<usize>>,
    /// Bootstrap resamples of the 95% confidence intervals; 0 for none [default: 1000].
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<usize>,
    /// Seed of the bootstrap [default: 0].
    #[arg(long, value_name = "SEED")]
    pub bootstrap_seed: Option<u64>,
}

impl EvaluationArgs {
    /// `base` with the given flags applied; a resample count of 1 is refused (0 turns the
    /// intervals off).
    pub fn apply(&self, base: EvaluationConfig) -> Result<EvaluationConfig, CliError> {
        if self.bootstrap == Some(1) {
            return Err(CliError::Flag {
                flag: "--bootstrap",
                message: "0 (no intervals) or at least 2 resamples".into(),
            });
        }
        Ok(EvaluationConfig {
            top_k: self.top_k.clone().or(base.top_k),
            bootstrap: self.bootstrap.unwrap_or(base.bootstrap),
            bootstrap_seed: self.bootstrap_seed.unwrap_or(base.bootstrap_seed),
            calibration: base.calibration,
        })
    }

    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.top_k.is_some() || self.bootstrap.is_some() || self.bootstrap_seed.is_some()
    }
}
