//! Binary tasks with a one-logit head.
//!
//! A model with a single output `z` is read as the two-class logits `[0, z]`: their softmax is
//! `[1 − σ(z), σ(z)]` and their cross-entropy is the binary cross-entropy with logits, so the
//! confusion counts, predictions, reports and curves of a two-class task apply unchanged.
//! [`binary_loss`] adds PyTorch's `pos_weight`; [`choose_threshold`] sets the decision
//! threshold on the validation split.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use kiln_eval::threshold::{ThresholdRule, choose_threshold as choose};

use crate::config::DecisionThreshold;
use crate::error::TrainError;

/// The logits of each class, `[batch, classes]`: a one-logit output `[batch, 1]` becomes
/// `[0, z]` (class 0 = the rest, class 1 = the positive class); any other is returned as is.
pub fn class_logits(out: Tensor<2>) -> Tensor<2> {
    let [n, k] = out.dims();
    match k {
        1 => Tensor::cat(vec![Tensor::zeros([n, 1], &out.device()), out], 1),
        _ => out,
    }
}

/// PyTorch's `BCEWithLogitsLoss(pos_weight=w)` on the two-class logits `[0, z]` of
/// [`class_logits`] (`[batch, 2]`) and targets in {0, 1} (`[batch]`):
/// `mean(w·y·softplus(−z) + (1 − y)·softplus(z))`, shape `[1]`.
pub fn binary_loss(logits: Tensor<2>, targets: Tensor<1, Int>, pos_weight: f64) -> Tensor<1> {
    let [n, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, targets.clone().reshape([n, 1]));
    let weight = targets.float().mul_scalar(pos_weight - 1.0).add_scalar(1.0);
    picked.reshape([n]).neg().mul(weight).mean()
}

/// The positive class's probability of every sample, from two-class scores (row-major).
pub fn positive_scores(scores: &[f64]) -> Vec<f64> {
    scores.chunks_exact(2).map(|p| p[1]).collect()
}

/// The decision threshold `setting` gives: the fixed one, or the one its rule picks on
/// `labels` (1 = positive) and the positive probabilities `scores` — `None` when the rule has
/// nothing to go on (no positive image).
pub fn choose_threshold(
    setting: DecisionThreshold,
    labels: &[usize],
    scores: &[f64],
) -> Result<Option<f64>, TrainError> {
    let rule = match setting {
        DecisionThreshold::Fixed { threshold } => return Ok(Some(threshold)),
        DecisionThreshold::BestF1 => ThresholdRule::BestF1,
        DecisionThreshold::MinRecall { recall } => ThresholdRule::MaxPrecisionAtRecall(recall),
        DecisionThreshold::MinPrecision { precision } => {
            ThresholdRule::MaxRecallAtPrecision(precision)
        }
    };
    let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
    Ok(choose(&positive, scores, rule)?.map(|c| c.threshold))
}

#[cfg(test)]
#[path = "tests/binary.rs"]
mod tests;
