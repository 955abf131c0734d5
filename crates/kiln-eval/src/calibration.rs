//! Whether probabilities mean what they say: expected and maximum calibration error, class-wise
//! ECE, the Brier score and log loss, and the reliability diagram's bins.
//!
//! Definitions:
//! - **ECE / MCE** are torchmetrics' `MulticlassCalibrationError(n_bins, norm="l1" | "max")`:
//!   top-label confidence (the highest probability) against whether the argmax is right, in
//!   equal-width bins over `[0, 1]`. A confidence `x` falls in slot `j` with
//!   `edge[j] ≤ x < edge[j + 1]` (`torch.bucketize(right=True) − 1`), so a confidence of exactly
//!   1.0 has a slot of its own after the last bin, as in torchmetrics. ECE = Σ_slots
//!   (count / n)·|accuracy − confidence|; MCE = the largest |accuracy − confidence| of a slot
//!   (empty slots count 0).
//! - **Class-wise ECE** (Kull et al., 2019): the mean over classes of the same ECE with each
//!   class's probability as the confidence and "is this class" as the accuracy.
//! - **Brier score**: scikit-learn's `brier_score_loss` — the mean over samples of
//!   Σ_k (p_k − y_k)², halved for two classes (then it is the mean (p₁ − y)²).
//! - **Log loss**: scikit-learn's `log_loss` — −mean ln p_label, the probability clipped to
//!   `[ε, 1 − ε]` with ε the `f64` machine epsilon.
//!
//! These need probability rows (each score in `[0, 1]`, each row summing to 1):
//! [`is_probability_rows`] tells; scores that are not probabilities (e.g. logits in a
//! predictions CSV) get no calibration figures.

use serde::Serialize;

use crate::curves::check_rows;
use crate::error::EvalError;

/// torchmetrics' default number of bins.
pub const DEFAULT_BINS: usize = 15;

/// How far a row's sum may be from 1 and still be read as probabilities: a float32 softmax's
/// rounding, with room to spare.
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// One slot of the reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the slot (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive; the last slot is exactly 1.0).
    pub upper: f64,
    /// Samples whose confidence falls here.
    pub count: u64,
    /// Their mean confidence (0 when empty).
    pub confidence: f64,
    /// The fraction of them predicted right (0 when empty).
    pub accuracy: f64,
}

/// The calibration of a set of probability predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Equal-width bins over `[0, 1]`.
    pub bins: usize,
    /// Expected calibration error (top-label, l1).
    pub ece: f64,
    /// Maximum calibration error (top-label).
    pub mce: f64,
    /// Mean over classes of each class's ECE.
    pub classwise_ece: f64,
    /// scikit-learn's `brier_score_loss` (halved for two classes).
    pub brier: f64,
    /// scikit-learn's `log_loss`.
    pub log_loss: f64,
    /// The top-label slots: `bins` equal-width bins, then the slot of confidence exactly 1.
    pub reliability: Vec<ReliabilityBin>,
}

impl Calibration {
    /// Every figure for `labels` and their probability rows `probs` (`num_classes` per label,
    /// row-major) in `bins` bins. Errors when the shapes disagree, a label is out of range, a
    /// score is not finite, `bins` is 0, or the rows are not probabilities.
    pub fn new(
        labels: &[usize],
        probs: &[f64],
        num_classes: usize,
        bins: usize,
    ) -> Result<Self, EvalError> {
        check_probabilities(labels, probs, num_classes, bins)?;
        let reliability = top_label_bins(labels, probs, num_classes, bins);
        Ok(Self {
            bins,
            ece: expected_error(&reliability),
            mce: maximum_error(&reliability),
            classwise_ece: classwise_ece(labels, probs, num_classes, bins),
            brier: brier_score(labels, probs, num_classes),
            log_loss: log_loss(labels, probs, num_classes),
            reliability,
        })
    }
}

/// Whether every row of `scores` (`num_classes` per row) is a probability vector: entries in
/// `[0, 1]` summing to 1 within float32 rounding.
pub fn is_probability_rows(scores: &[f64], num_classes: usize) -> bool {
    num_classes > 0
        && scores.chunks(num_classes).all(|row| {
            row.iter().all(|p| (0.0..=1.0).contains(p))
                && (row.iter().sum::<f64>() - 1.0).abs() <= ROW_SUM_TOLERANCE
        })
}

fn check_probabilities(
    labels: &[usize],
    probs: &[f64],
    num_classes: usize,
    bins: usize,
) -> Result<(), EvalError> {
    check_rows(labels, probs, num_classes)?;
    if labels.is_empty() {
        return Err(EvalError::Empty);
    }
    if bins == 0 {
        return Err(EvalError::Invalid {
            what: "calibration bins",
            problem: "must be at least 1".into(),
        });
    }
    if !is_probability_rows(probs, num_classes) {
        return Err(EvalError::Invalid {
            what: "scores",
            problem: "calibration needs probabilities: every score in [0, 1], every row summing \
                      to 1"
                .into(),
        });
    }
    Ok(())
}

/// The edges `0, 1/bins, …, 1` as torchmetrics gets them from `torch.linspace(0, 1, bins + 1)`:
/// `i·step` for the first half, `1 − (bins − i)·step` for the second (so that, e.g., the edge
/// 0.7 of ten bins is 0.7, where `i·step` gives 0.7000000000000001).
pub fn bin_edges(bins: usize) -> Vec<f64> {
    let step = 1.0 / bins as f64;
    // ATen's `halfway = steps / 2` with steps = bins + 1.
    let halfway = bins.div_ceil(2);
    (0..=bins)
        .map(|i| match i < halfway {
            true => i as f64 * step,
            false => 1.0 - (bins - i) as f64 * step,
        })
        .collect()
}

/// The slot of confidence `x` among `edges` (`bucketize(right=True) − 1`): `j` with
/// `edges[j] ≤ x < edges[j + 1]`; `edges.len() − 1` for `x ≥ 1`.
pub fn slot(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e <= x).saturating_sub(1)
}

/// Sums per slot of (count, confidence, correct) for confidences `conf` and hits `hit`.
struct SlotSums {
    count: Vec<f64>,
    confidence: Vec<f64>,
    correct: Vec<f64>,
}

impl SlotSums {
    fn new(bins: usize) -> Self {
        Self {
            count: vec![0.0; bins + 1],
            confidence: vec![0.0; bins + 1],
            correct: vec![0.0; bins + 1],
        }
    }

    fn add(&mut self, slot: usize, weight: f64, confidence: f64, hit: bool) {
        self.count[slot] += weight;
        self.confidence[slot] += weight * confidence;
        if hit {
            self.correct[slot] += weight;
        }
    }

    /// Σ_slots (count / n)·|accuracy − confidence| = Σ_slots |correct − confidence| / n.
    fn ece(&self) -> f64 {
        let n: f64 = self.count.iter().sum();
        let gaps = (self.correct.iter().zip(&self.confidence)).map(|(a, c)| (a - c).abs());
        gaps.sum::<f64>() / n
    }
}

/// The top-label reliability slots of probability rows.
fn top_label_bins(
    labels: &[usize],
    probs: &[f64],
    num_classes: usize,
    bins: usize,
) -> Vec<ReliabilityBin> {
    let edges = bin_edges(bins);
    let mut sums = SlotSums::new(bins);
    for (row, &label) in probs.chunks(num_classes).zip(labels) {
        let (predicted, confidence) = top_label(row);
        sums.add(
            slot(&edges, confidence),
            1.0,
            confidence,
            predicted == label,
        );
    }
    (0..=bins)
        .map(|j| {
            let count = sums.count[j];
            let mean = |sum: f64| if count > 0.0 { sum / count } else { 0.0 };
            ReliabilityBin {
                lower: edges[j],
                upper: edges.get(j + 1).copied().unwrap_or(1.0),
                count: count as u64,
                confidence: mean(sums.confidence[j]),
                accuracy: mean(sums.correct[j]),
            }
        })
        .collect()
}

/// The first class of highest probability, and that probability.
pub fn top_label(row: &[f64]) -> (usize, f64) {
    let best = (0..row.len()).fold(0, |best, c| if row[c] > row[best] { c } else { best });
    (best, row[best])
}

fn expected_error(bins: &[ReliabilityBin]) -> f64 {
    let n: u64 = bins.iter().map(|b| b.count).sum();
    let gap = |b: &ReliabilityBin| b.count as f64 / n as f64 * (b.accuracy - b.confidence).abs();
    bins.iter().map(gap).sum()
}

fn maximum_error(bins: &[ReliabilityBin]) -> f64 {
    bins.iter()
        .map(|b| (b.accuracy - b.confidence).abs())
        .fold(0.0, f64::max)
}

/// Mean over classes of the ECE of each class's probability against "is this class".
fn classwise_ece(labels: &[usize], probs: &[f64], num_classes: usize, bins: usize) -> f64 {
    let edges = bin_edges(bins);
    let total: f64 = (0..num_classes)
        .map(|c| {
            let mut sums = SlotSums::new(bins);
            for (row, &label) in probs.chunks(num_classes).zip(labels) {
                sums.add(slot(&edges, row[c]), 1.0, row[c], label == c);
            }
            sums.ece()
        })
        .sum();
    total / num_classes as f64
}

/// scikit-learn's `brier_score_loss(labels, probs)`: mean Σ_k (p_k − y_k)², halved for two
/// classes.
fn brier_score(labels: &[usize], probs: &[f64], num_classes: usize) -> f64 {
    let per_sample = probs.chunks(num_classes).zip(labels).map(|(row, &label)| {
        (row.iter().enumerate())
            .map(|(c, &p)| (p - f64::from(u8::from(c == label))).powi(2))
            .sum::<f64>()
    });
    let mean = per_sample.sum::<f64>() / labels.len() as f64;
    if num_classes < 3 { mean / 2.0 } else { mean }
}

/// scikit-learn's `log_loss(labels, probs)`: −mean ln p_label, clipped to `[ε, 1 − ε]`.
fn log_loss(labels: &[usize], probs: &[f64], num_classes: usize) -> f64 {
    let eps = f64::EPSILON;
    let nll = (probs.chunks(num_classes).zip(labels))
        .map(|(row, &label)| -row[label].clamp(eps, 1.0 - eps).ln());
    nll.sum::<f64>() / labels.len() as f64
}

#[cfg(test)]
#[path = "tests/calibration.rs"]
mod tests;
