//! Temperature scaling (Guo et al., 2017): one number `T` that divides every logit, fitted on
//! held-out logits by minimizing the negative log-likelihood. The argmax never changes; the
//! probabilities `softmax(z / T)` become better calibrated when the model is over- (`T > 1`) or
//! under-confident (`T < 1`).
//!
//! The NLL is convex in `β = 1/T` (a log-sum-exp minus a linear term), so its derivative
//! `mean(E_softmax(βz)[z] − z_label)` increases with `β`: the fit bisects it on `ln β` over
//! `T ∈ [`[`MIN_TEMPERATURE`]`, `[`MAX_TEMPERATURE`]`]`, to the last bit of a float.

use serde::{Deserialize, Serialize};

use crate::curves::check_rows;
use crate::error::EvalError;

/// The smallest temperature the fit returns.
pub const MIN_TEMPERATURE: f64 = 0.01;
/// The largest temperature the fit returns.
pub const MAX_TEMPERATURE: f64 = 100.0;

/// A fitted temperature and what it did to the held-out negative log-likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemperatureFit {
    /// `T`: probabilities are `softmax(logits / T)`.
    pub temperature: f64,
    /// Mean NLL of the held-out labels at `T = 1`.
    pub nll_before: f64,
    /// Mean NLL at the fitted `T`.
    pub nll_after: f64,
}

/// Fits `T` on `logits` (`num_classes` per label, row-major) and their `labels`. Errors when the
/// shapes disagree, a label is out of range, a logit is not finite or there are no samples.
pub fn fit_temperature(
    labels: &[usize],
    logits: &[f64],
    num_classes: usize,
) -> Result<TemperatureFit, EvalError> {
    check_rows(labels, logits, num_classes)?;
    if labels.is_empty() {
        return Err(EvalError::Empty);
    }
    let slope = |beta: f64| nll_slope(labels, logits, num_classes, beta);
    let (mut lo, mut hi) = ((1.0 / MAX_TEMPERATURE).ln(), (1.0 / MIN_TEMPERATURE).ln());
    let temperature = if slope(1.0 / MAX_TEMPERATURE) >= 0.0 {
        MAX_TEMPERATURE
    } else if slope(1.0 / MIN_TEMPERATURE) <= 0.0 {
        MIN_TEMPERATURE
    } else {
        while hi - lo > 1e-15 * hi.abs().max(1.0) {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            match slope(mid.exp()) < 0.0 {
                true => lo = mid,
                false => hi = mid,
            }
        }
        1.0 / (0.5 * (lo + hi)).exp()
    };
    Ok(TemperatureFit {
        temperature,
        nll_before: mean_nll(labels, logits, num_classes, 1.0),
        nll_after: mean_nll(labels, logits, num_classes, temperature),
    })
}

/// Mean negative log-likelihood of `labels` under `softmax(logits / temperature)`.
pub fn mean_nll(labels: &[usize], logits: &[f64], num_classes: usize, temperature: f64) -> f64 {
    let beta = 1.0 / temperature;
    let total: f64 = (logits.chunks(num_classes).zip(labels))
        .map(|(row, &label)| log_sum_exp(row, beta) - beta * row[label])
        .sum();
    total / labels.len() as f64
}

/// d NLL / dβ at `beta`: the mean of (softmax-weighted mean logit − the label's logit).
fn nll_slope(labels: &[usize], logits: &[f64], num_classes: usize, beta: f64) -> f64 {
    let total: f64 = (logits.chunks(num_classes).zip(labels))
        .map(|(row, &label)| {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (mut z, mut weighted) = (0.0, 0.0);
            for &v in row {
                let e = (beta * (v - max)).exp();
                z += e;
                weighted += e * v;
            }
            weighted / z - row[label]
        })
        .sum();
    total / labels.len() as f64
}

/// ln Σ exp(β·v), stably.
fn log_sum_exp(row: &[f64], beta: f64) -> f64 {
    let max = row
        .iter()
        .map(|&v| beta * v)
        .fold(f64::NEG_INFINITY, f64::max);
    max + row
        .iter()
        .map(|&v| (beta * v - max).exp())
        .sum::<f64>()
        .ln()
}

/// `softmax(row / temperature)`.
pub fn softmax(row: &[f64], temperature: f64) -> Vec<f64> {
    let lse = log_sum_exp(row, 1.0 / temperature);
    row.iter().map(|&v| (v / temperature - lse).exp()).collect()
}

/// The probabilities before a temperature was applied, recovered from the scaled ones:
/// `ln p = z/T − c`, so `softmax(T·ln p) = softmax(z)`. A probability that underflowed to 0
/// stays 0. `probs` holds `num_classes` per row.
pub fn unscaled(probs: &[f64], num_classes: usize, temperature: f64) -> Vec<f64> {
    probs
        .chunks(num_classes)
        .flat_map(|row| {
            let logits: Vec<f64> = row.iter().map(|&p| temperature * p.ln()).collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exp: Vec<f64> = logits.iter().map(|&z| (z - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            exp.into_iter().map(move |e| e / sum)
        })
        .collect()
}

#[cfg(test)]
#[path = "tests/temperature.rs"]
mod tests;
