//! Score-based evaluation: precision–recall and ROC curves, ROC AUC, average precision
//! (binary and one-vs-rest). Choosing a decision threshold is in [`crate::threshold`].
//!
//! Definitions follow scikit-learn 1.9 (`precision_recall_curve`, `roc_curve` with
//! `drop_intermediate=True`, `roc_auc_score`, `average_precision_score` — the step-wise sum
//! Σ (Rₙ − Rₙ₋₁) Pₙ, not the trapezoid). Where scikit-learn raises, kiln answers: a binary ROC
//! AUC with one class present is NaN, and the one-vs-rest ROC AUC averages skip such classes
//! (scikit-learn refuses the whole call); one-vs-rest scores need not be probability rows.

use crate::error::EvalError;

/// Cumulative true / false positives at each distinct score, highest score first
/// (scikit-learn's `_binary_clf_curve`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClfCurve {
    pub(crate) fps: Vec<f64>,
    pub(crate) tps: Vec<f64>,
    pub(crate) thresholds: Vec<f64>,
}

/// Checks that `y_true` and `scores` pair up and every score is finite.
pub(crate) fn check_binary(y_true: &[bool], scores: &[f64]) -> Result<(), EvalError> {
    if y_true.len() != scores.len() {
        return Err(EvalError::LengthMismatch {
            what: "labels and scores",
            left: y_true.len(),
            right: scores.len(),
        });
    }
    check_finite(scores)
}

fn check_finite(scores: &[f64]) -> Result<(), EvalError> {
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(EvalError::NonFiniteScore {
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `scores` holds `num_classes` finite scores per label and that every label is
/// below `num_classes`.
pub(crate) fn check_rows(
    labels: &[usize],
    scores: &[f64],
    num_classes: usize,
) -> Result<(), EvalError> {
    if scores.len() != labels.len() * num_classes {
        return Err(EvalError::LengthMismatch {
            what: "scores and labels × classes",
            left: scores.len(),
            right: labels.len() * num_classes,
        });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= num_classes) {
        return Err(EvalError::LabelOutOfRange { label, num_classes });
    }
    check_finite(scores)
}

pub(crate) fn clf_curve(y_true: &[bool], scores: &[f64]) -> Result<ClfCurve, EvalError> {
    check_binary(y_true, scores)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut curve = ClfCurve {
        fps: Vec::new(),
        tps: Vec::new(),
        thresholds: Vec::new(),
    };
    let mut tp = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        if y_true[i] {
            tp += 1.0;
        }
        let last_of_value = order.get(rank + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_value {
            curve.tps.push(tp);
            curve.fps.push((rank + 1) as f64 - tp);
            curve.thresholds.push(scores[i]);
        }
    }
    Ok(curve)
}

/// A precision–recall curve: `precision[i]`, `recall[i]` for predicting positive when
/// `score >= thresholds[i]` (thresholds ascending), ending with the point (recall 0,
/// precision 1) that has no threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct PrCurve {
    /// Precision at each threshold, then 1.
    pub precision: Vec<f64>,
    /// Recall at each threshold, then 0 (decreasing).
    pub recall: Vec<f64>,
    /// Distinct scores, ascending.
    pub thresholds: Vec<f64>,
}

/// scikit-learn's `precision_recall_curve(y_true, scores)`. With no positive sample, recall is
/// 1 at every threshold (as scikit-learn, which also warns). Errors when the lengths differ or a
/// score is not finite.
pub fn precision_recall_curve(y_true: &[bool], scores: &[f64]) -> Result<PrCurve, EvalError> {
    let c = clf_curve(y_true, scores)?;
    let total_pos = c.tps.last().copied().unwrap_or(0.0);
    let mut precision: Vec<f64> = c
        .tps
        .iter()
        .zip(&c.fps)
        .rev()
        .map(|(&tp, &fp)| if tp + fp == 0.0 { 0.0 } else { tp / (tp + fp) })
        .collect();
    let mut recall: Vec<f64> = c
        .tps
        .iter()
        .rev()
        .map(|&tp| {
            if total_pos == 0.0 {
                1.0
            } else {
                tp / total_pos
            }
        })
        .collect();
    precision.push(1.0);
    recall.push(0.0);
    Ok(PrCurve {
        precision,
        recall,
        thresholds: c.thresholds.into_iter().rev().collect(),
    })
}

/// An ROC curve: false- and true-positive rates for predicting positive when
/// `score >= thresholds[i]` (thresholds descending, the first `+∞`).
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False-positive rate (NaN without negative samples).
    pub fpr: Vec<f64>,
    /// True-positive rate (NaN without positive samples).
    pub tpr: Vec<f64>,
    /// `+∞`, then the kept distinct scores, descending.
    pub thresholds: Vec<f64>,
}

/// scikit-learn's `roc_curve(y_true, scores)` (`drop_intermediate=True`: points collinear with
/// their neighbours are dropped; the area is unchanged). Errors as
/// [`precision_recall_curve`].
pub fn roc_curve(y_true: &[bool], scores: &[f64]) -> Result<RocCurve, EvalError> {
    let mut c = clf_curve(y_true, scores)?;
    if c.fps.len() > 2 {
        let n = c.fps.len();
        let second_diff = |v: &[f64], i: usize| v[i + 1] - 2.0 * v[i] + v[i - 1];
        let keep: Vec<usize> = (0..n)
            .filter(|&i| {
                i == 0
                    || i == n - 1
                    || second_diff(&c.fps, i) != 0.0
                    || second_diff(&c.tps, i) != 0.0
            })
            .collect();
        let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        c = ClfCurve {
            fps: pick(&c.fps),
            tps: pick(&c.tps),
            thresholds: pick(&c.thresholds),
        };
    }
    let (neg, pos) = (
        c.fps.last().copied().unwrap_or(0.0),
        c.tps.last().copied().unwrap_or(0.0),
    );
    let rate = |v: &[f64], total: f64| {
        std::iter::once(0.0)
            .chain(v.iter().copied())
            .map(|x| if total > 0.0 { x / total } else { f64::NAN })
            .collect()
    };
    Ok(RocCurve {
        fpr: rate(&c.fps, neg),
        tpr: rate(&c.tps, pos),
        thresholds: std::iter::once(f64::INFINITY).chain(c.thresholds).collect(),
    })
}

/// Area under a curve by the trapezoidal rule; `x` monotonic (either direction).
pub fn auc(x: &[f64], y: &[f64]) -> Result<f64, EvalError> {
    if x.len() != y.len() {
        return Err(EvalError::LengthMismatch {
            what: "x and y",
            left: x.len(),
            right: y.len(),
        });
    }
    let area: f64 = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[0] + ys[1]) / 2.0)
        .sum();
    Ok(area.abs())
}

/// Area under the ROC curve; NaN unless both classes occur (scikit-learn raises there).
pub fn roc_auc(y_true: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    check_binary(y_true, scores)?;
    let pos = y_true.iter().filter(|&&y| y).count();
    if pos == 0 || pos == y_true.len() {
        return Ok(f64::NAN);
    }
    let roc = roc_curve(y_true, scores)?;
    auc(&roc.fpr, &roc.tpr)
}

/// Average precision Σ (Rₙ − Rₙ₋₁) Pₙ over the PR curve (scikit-learn's
/// `average_precision_score`, step-wise, not interpolated); 0 without positive samples, as
/// scikit-learn.
pub fn average_precision(y_true: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    check_binary(y_true, scores)?;
    if !y_true.iter().any(|&y| y) {
        return Ok(0.0);
    }
    let pr = precision_recall_curve(y_true, scores)?;
    let sum: f64 = pr
        .recall
        .windows(2)
        .zip(&pr.precision)
        .map(|(r, &p)| (r[1] - r[0]) * p)
        .sum();
    Ok((-sum).max(0.0))
}

/// A one-vs-rest score per class with its macro and prevalence-weighted averages.
#[derive(Debug, Clone, PartialEq)]
pub struct OvrScore {
    /// Each class against the rest (NaN where undefined: the class is absent, or is every
    /// sample).
    pub per_class: Vec<f64>,
    /// Mean over the classes where it is defined.
    pub macro_avg: f64,
    /// Mean weighted by each class's number of true samples, over the same classes.
    pub weighted: f64,
}

fn ovr(
    labels: &[usize],
    scores: &[f64],
    num_classes: usize,
    binary: fn(&[bool], &[f64]) -> Result<f64, EvalError>,
) -> Result<OvrScore, EvalError> {
    check_rows(labels, scores, num_classes)?;
    let mut per_class = Vec::with_capacity(num_classes);
    let mut support = Vec::with_capacity(num_classes);
    for c in 0..num_classes {
        let (y, s) = one_vs_rest(labels, scores, num_classes, c);
        per_class.push(binary(&y, &s)?);
        support.push(y.iter().filter(|&&v| v).count() as f64);
    }
    let defined = || per_class.iter().zip(&support).filter(|(v, _)| !v.is_nan());
    let n = defined().count() as f64;
    let total: f64 = defined().map(|(_, w)| w).sum();
    Ok(OvrScore {
        macro_avg: defined().map(|(v, _)| v).sum::<f64>() / n,
        weighted: defined().map(|(v, w)| v * w).sum::<f64>() / total,
        per_class,
    })
}

/// Class `c` against the rest: whether each sample is `c`, and its score for `c`, from
/// `num_classes`-column score rows.
pub(crate) fn one_vs_rest(
    labels: &[usize],
    scores: &[f64],
    num_classes: usize,
    c: usize,
) -> (Vec<bool>, Vec<f64>) {
    let y = labels.iter().map(|&l| l == c).collect();
    let s = (0..labels.len())
        .map(|i| scores[i * num_classes + c])
        .collect();
    (y, s)
}

/// One-vs-rest ROC AUC of `num_classes`-column score rows (scikit-learn's
/// `roc_auc_score(multi_class="ovr")`, `average=None` / `"macro"` / `"weighted"`). Errors
/// unless `scores` holds `num_classes` finite scores per label and every label is a class.
pub fn roc_auc_ovr(
    labels: &[usize],
    scores: &[f64],
    num_classes: usize,
) -> Result<OvrScore, EvalError> {
    ovr(labels, scores, num_classes, roc_auc)
}

/// One-vs-rest average precision (scikit-learn's `average_precision_score` on the binarized
/// labels, `average=None` / `"macro"`; `weighted` uses the class prevalence). Errors as
/// [`roc_auc_ovr`].
pub fn average_precision_ovr(
    labels: &[usize],
    scores: &[f64],
    num_classes: usize,
) -> Result<OvrScore, EvalError> {
    ovr(labels, scores, num_classes, average_precision)
}

#[cfg(test)]
#[path = "tests/curves.rs"]
mod tests;
