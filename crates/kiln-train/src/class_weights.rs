//! Per-class weights of the cross-entropy loss, for training on imbalanced data.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::plan::ConfigError;

/// The weight of each class in the training loss (PyTorch's `CrossEntropyLoss(weight=…)`: the
/// loss is `Σ w[yᵢ]·ℓᵢ / Σ w[yᵢ]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// scikit-learn's `compute_class_weight("balanced")`: `n_samples / (n_classes · count[c])`
    /// over the training split.
    Balanced,
    /// Given weights, indexed by label.
    Values(Vec<f32>),
}

impl ClassWeights {
    /// Reads weights from a file: one number per class, separated by commas, whitespace or
    /// newlines; `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::artifact(path, e))?;
        let mut values = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for field in line.split(|c: char| c == ',' || c.is_whitespace()) {
                if field.is_empty() {
                    continue;
                }
                values.push(field.parse::<f32>().map_err(|_| {
                    TrainError::artifact(path, format!("`{field}` is not a number"))
                })?);
            }
        }
        Ok(Self::Values(values))
    }

    /// The weights for a training split with these class counts: one positive, finite number
    /// per class.
    pub fn resolve(&self, counts: &[usize]) -> Result<Vec<f32>, TrainError> {
        let k = counts.len();
        let values = match self {
            Self::Balanced => {
                if let Some(c) = counts.iter().position(|&n| n == 0) {
                    return Err(ConfigError::rule(
                        "training.class_weights",
                        format!("balanced class weights: class {c} has no training images"),
                    )
                    .into());
                }
                let n: usize = counts.iter().sum();
                counts
                    .iter()
                    .map(|&count| (n as f64 / (k as f64 * count as f64)) as f32)
                    .collect()
            }
            Self::Values(v) => v.clone(),
        };
        if values.len() != k {
            return Err(ConfigError::rule(
                "training.class_weights",
                format!("{} class weights for {k} classes", values.len()),
            )
            .into());
        }
        if let Some((c, w)) = values
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w > 0.0))
        {
            return Err(ConfigError::rule(
                format!("training.class_weights[{c}]"),
                format!("the weight of class {c} is {w}; weights must be positive numbers"),
            )
            .into());
        }
        Ok(values)
    }
}

#[cfg(test)]
#[path = "tests/class_weights.rs"]
mod tests;
