//! A monitored quantity — `valid_loss`, `valid_macro_f1`, `valid_recall:Shirt` — and whether a
//! new value improves on the best so far.

use kiln_eval::MetricSpec;
use serde::{Deserialize, Serialize};

use crate::history::{EpochMetrics, Phase};
use crate::plan::Problem;

/// Whether lower or higher values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (scores).
    Max,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "min" => Ok(Self::Min),
            "max" => Ok(Self::Max),
            other => Err(format!("unknown mode `{other}` (min or max)")),
        }
    }
}

/// What is read off a phase's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Monitored {
    /// The pooled loss.
    Loss,
    /// A metric of the phase's confusion matrix.
    Metric(MetricSpec),
}

/// One quantity of one phase, with its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The name given (`valid_macro_f1`).
    pub name: String,
    /// The phase it is read from.
    pub phase: Phase,
    /// The quantity.
    pub quantity: Monitored,
    /// Lower or higher is better.
    pub mode: Mode,
}

impl Monitor {
    /// Parses `valid_<metric>` or `train_<metric>`, where `<metric>` is `loss` or a
    /// [`MetricSpec`] name. `mode` defaults to `min` for the loss and `max` otherwise.
    pub fn parse(spec: &str, mode: Option<Mode>, class_names: &[String]) -> Result<Self, Problem> {
        let (phase, rest) = if let Some(rest) = spec.strip_prefix("valid_") {
            (Phase::Valid, rest)
        } else if let Some(rest) = spec.strip_prefix("train_") {
            (Phase::Train, rest)
        } else {
            return Err(Problem::Rule(format!(
                "monitor `{spec}` must start with valid_ or train_ (e.g. valid_loss, valid_macro_f1, valid_recall:3)"
            )));
        };
        let quantity = match rest {
            "loss" => Monitored::Loss,
            metric => Monitored::Metric(MetricSpec::parse(metric, class_names)?),
        };
        let default = match quantity {
            Monitored::Loss => Mode::Min,
            Monitored::Metric(_) => Mode::Max,
        };
        Ok(Self {
            name: spec.to_string(),
            phase,
            quantity,
            mode: mode.unwrap_or(default),
        })
    }

    /// The value in `m`, if `m` is of the monitored phase.
    pub fn value(&self, m: &EpochMetrics) -> Option<f64> {
        if m.phase != self.phase {
            return None;
        }
        Some(match &self.quantity {
            Monitored::Loss => m.loss,
            Monitored::Metric(spec) => spec.compute(&m.confusion),
        })
    }

    /// Whether `value` beats `best` by more than `min_delta` (any finite value beats none; NaN
    /// never improves).
    pub fn improves(&self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match (best, self.mode) {
            (None, _) => true,
            (Some(b), Mode::Min) => value < b - min_delta,
            (Some(b), Mode::Max) => value > b + min_delta,
        }
    }
}

#[cfg(test)]
#[path = "tests/monitor.rs"]
mod tests;
