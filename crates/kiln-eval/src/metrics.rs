//! scikit-learn's classification scores as pure functions of a [`ConfusionMatrix`].
//!
//! Definitions follow `sklearn.metrics.precision_recall_fscore_support`,
//! `accuracy_score` and `balanced_accuracy_score` (scikit-learn ≥ 1.3):
//! - precision = tp / (tp + fp), recall = tp / (tp + fn);
//! - F-beta = (1 + β²)·tp / ((1 + β²)·tp + β²·fn + fp) — so F1 is 0, not undefined, when
//!   precision and recall are both 0 but the class occurs;
//! - a 0/0 ratio takes the `zero_division` value;
//! - macro = unweighted mean over the labels, weighted = support-weighted mean (both skip NaN
//!   per-class values, as scikit-learn's `_nanaverage`), micro = the ratios of the summed counts;
//! - balanced accuracy = mean recall over the classes that occur in `y_true`.

use serde::{Deserialize, Serialize};

use crate::confusion::ConfusionMatrix;

/// The value a 0/0 score takes (scikit-learn's `zero_division`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZeroDivision {
    /// 0.0 (scikit-learn's default `"warn"` also yields 0.0).
    #[default]
    Zero,
    /// 1.0.
    One,
    /// NaN; averages then skip the NaN per-class values.
    Nan,
}

impl std::str::FromStr for ZeroDivision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "0" => Ok(Self::Zero),
            "1" => Ok(Self::One),
            "nan" | "NaN" => Ok(Self::Nan),
            other => Err(format!("zero_division must be 0, 1 or nan, not `{other}`")),
        }
    }
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            Self::Zero => 0.0,
            Self::One => 1.0,
            Self::Nan => f64::NAN,
        }
    }

    /// `num / den`, or the zero-division value when `den == 0`.
    pub fn ratio(self, num: f64, den: f64) -> f64 {
        if den == 0.0 { self.value() } else { num / den }
    }
}

/// True positives, false positives and false negatives of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatScores {
    /// Predicted as the class and truly the class.
    pub tp: u64,
    /// Predicted as the class but truly another.
    pub fp: u64,
    /// Truly the class but predicted as another.
    pub fn_: u64,
}

impl StatScores {
    /// The counts of class `c`.
    pub fn of(cm: &ConfusionMatrix, c: usize) -> Self {
        let tp = cm.get(c, c);
        Self {
            tp,
            fp: cm.predicted(c) - tp,
            fn_: cm.support(c) - tp,
        }
    }

    /// Sum over classes (for micro averages).
    pub fn sum(scores: impl IntoIterator<Item = Self>) -> Self {
        scores.into_iter().fold(Self::default(), |a, b| Self {
            tp: a.tp + b.tp,
            fp: a.fp + b.fp,
            fn_: a.fn_ + b.fn_,
        })
    }

    /// tp / (tp + fp).
    pub fn precision(&self, zd: ZeroDivision) -> f64 {
        zd.ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }

    /// tp / (tp + fn).
    pub fn recall(&self, zd: ZeroDivision) -> f64 {
        zd.ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }

    /// (1 + β²)·tp / ((1 + β²)·tp + β²·fn + fp).
    pub fn f_beta(&self, beta: f64, zd: ZeroDivision) -> f64 {
        let b2 = beta * beta;
        let num = (1.0 + b2) * self.tp as f64;
        zd.ratio(num, num + b2 * self.fn_ as f64 + self.fp as f64)
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1 score.
    #[serde(rename = "f1-score")]
    pub f1: f64,
    /// Number of true samples.
    pub support: u64,
}

/// Per-class precision, recall, F1 and support for `labels`, in that order.
pub fn per_class(cm: &ConfusionMatrix, labels: &[usize], zd: ZeroDivision) -> Vec<Scores> {
    per_class_beta(cm, labels, 1.0, zd)
}

/// Per-class precision, recall, F-beta (in [`Scores::f1`]) and support (scikit-learn
/// `precision_recall_fscore_support(beta=beta, average=None)`).
pub fn per_class_beta(
    cm: &ConfusionMatrix,
    labels: &[usize],
    beta: f64,
    zd: ZeroDivision,
) -> Vec<Scores> {
    labels
        .iter()
        .map(|&c| {
            let s = StatScores::of(cm, c);
            Scores {
                precision: s.precision(zd),
                recall: s.recall(zd),
                f1: s.f_beta(beta, zd),
                support: s.tp + s.fn_,
            }
        })
        .collect()
}

/// Specificity (true-negative rate, tn / (tn + fp)) of each of `labels`, one-vs-rest.
pub fn specificity(cm: &ConfusionMatrix, labels: &[usize], zd: ZeroDivision) -> Vec<f64> {
    labels
        .iter()
        .map(|&c| {
            let s = StatScores::of(cm, c);
            let tn = cm.total() - s.tp - s.fp - s.fn_;
            zd.ratio(tn as f64, (tn + s.fp) as f64)
        })
        .collect()
}

/// Mean of `values` weighted by `weights`, skipping NaN values (scikit-learn's `_nanaverage`):
/// when the remaining weights sum to zero it is their plain mean; NaN when no value is left.
fn nan_average(values: impl Iterator<Item = f64>, weights: impl Iterator<Item = f64>) -> f64 {
    let kept: Vec<(f64, f64)> = values.zip(weights).filter(|(v, _)| !v.is_nan()).collect();
    let den: f64 = kept.iter().map(|(_, w)| w).sum();
    if den == 0.0 {
        return kept.iter().map(|(v, _)| v).sum::<f64>() / kept.len() as f64;
    }
    kept.iter().map(|(v, w)| v * w).sum::<f64>() / den
}

/// Unweighted mean of per-class scores (scikit-learn `average="macro"`).
pub fn macro_average(rows: &[Scores]) -> Scores {
    let mean = |f: fn(&Scores) -> f64| nan_average(rows.iter().map(f), rows.iter().map(|_| 1.0));
    Scores {
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
        support: rows.iter().map(|s| s.support).sum(),
    }
}

/// Support-weighted mean of per-class scores (scikit-learn `average="weighted"`); with zero
/// total support it falls back, as scikit-learn does, to the plain mean.
pub fn weighted_average(rows: &[Scores]) -> Scores {
    let wmean = |f: fn(&Scores) -> f64| {
        nan_average(rows.iter().map(f), rows.iter().map(|s| s.support as f64))
    };
    Scores {
        precision: wmean(|s| s.precision),
        recall: wmean(|s| s.recall),
        f1: wmean(|s| s.f1),
        support: rows.iter().map(|s| s.support).sum(),
    }
}

/// Scores of the summed counts over `labels` (scikit-learn `average="micro"`).
pub fn micro_average(cm: &ConfusionMatrix, labels: &[usize], zd: ZeroDivision) -> Scores {
    micro_average_beta(cm, labels, 1.0, zd)
}

/// [`micro_average`] with F-beta in [`Scores::f1`].
pub fn micro_average_beta(
    cm: &ConfusionMatrix,
    labels: &[usize],
    beta: f64,
    zd: ZeroDivision,
) -> Scores {
    let s = StatScores::sum(labels.iter().map(|&c| StatScores::of(cm, c)));
    Scores {
        precision: s.precision(zd),
        recall: s.recall(zd),
        f1: s.f_beta(beta, zd),
        support: s.tp + s.fn_,
    }
}

/// Fraction of samples classified correctly; NaN when there are none.
pub fn accuracy(cm: &ConfusionMatrix) -> f64 {
    cm.correct() as f64 / cm.total() as f64
}

/// Mean recall over the classes present in `y_true` (scikit-learn's `balanced_accuracy_score`,
/// `adjusted=False`); NaN when there are no samples.
pub fn balanced_accuracy(cm: &ConfusionMatrix) -> f64 {
    let recalls: Vec<f64> = (0..cm.num_classes())
        .filter(|&c| cm.support(c) > 0)
        .map(|c| cm.get(c, c) as f64 / cm.support(c) as f64)
        .collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// Cohen's kappa between truth and predictions over `labels` (scikit-learn
/// `cohen_kappa_score(labels=labels)`, unweighted): 1 − observed / expected disagreement.
/// NaN when the expected disagreement is 0.
pub fn cohen_kappa(cm: &ConfusionMatrix, labels: &[usize]) -> f64 {
    let rows = cm.rows_for(labels);
    let true_sums: Vec<f64> = rows.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let pred_sums: Vec<f64> = (0..labels.len())
        .map(|j| rows.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let n: f64 = true_sums.iter().sum();
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..labels.len() {
        for j in (0..labels.len()).filter(|&j| j != i) {
            observed += rows[i][j] as f64;
            expected += pred_sums[i] * true_sums[j] / n;
        }
    }
    1.0 - observed / expected
}

/// Matthews correlation coefficient, multiclass (scikit-learn `matthews_corrcoef`); 0 when
/// truth or predictions hold a single class.
pub fn matthews_corrcoef(cm: &ConfusionMatrix) -> f64 {
    let k = cm.num_classes();
    let t: Vec<f64> = (0..k).map(|c| cm.support(c) as f64).collect();
    let p: Vec<f64> = (0..k).map(|c| cm.predicted(c) as f64).collect();
    let n = cm.total() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_tp = cm.correct() as f64 * n - dot(&t, &p);
    let cov_pp = n * n - dot(&p, &p);
    let cov_tt = n * n - dot(&t, &t);
    if cov_pp * cov_tt == 0.0 {
        return 0.0;
    }
    cov_tp / (cov_tt * cov_pp).sqrt()
}

/// Fraction of samples whose label is among the `k` highest scores (scikit-learn
/// `top_k_accuracy_score`). `scores` holds `num_classes` scores per sample, row-major. Ties
/// rank the higher class index first, as scikit-learn's reversed stable sort does. Errors
/// unless there are `num_classes` scores per label and every label is below `num_classes`.
pub fn top_k_accuracy<T: PartialOrd + Copy>(
    scores: &[T],
    num_classes: usize,
    labels: &[usize],
    k: usize,
) -> Result<f64, crate::EvalError> {
    if scores.len() != labels.len() * num_classes {
        return Err(crate::EvalError::LengthMismatch {
            what: "scores and labels × classes",
            left: scores.len(),
            right: labels.len() * num_classes,
        });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= num_classes) {
        return Err(crate::EvalError::LabelOutOfRange { label, num_classes });
    }
    let hits = labels
        .iter()
        .enumerate()
        .filter(|&(i, &label)| {
            let row = &scores[i * num_classes..(i + 1) * num_classes];
            let own = row[label];
            let ahead = (0..num_classes)
                .filter(|&c| row[c] > own || (row[c] == own && c > label))
                .count();
            ahead < k
        })
        .count();
    Ok(hits as f64 / labels.len() as f64)
}

/// Macro-averaged F1 over the present labels, zero_division = 0: the training log's summary.
pub fn macro_f1(cm: &ConfusionMatrix) -> f64 {
    macro_average(&per_class(cm, &cm.present_labels(), ZeroDivision::Zero)).f1
}

#[cfg(test)]
#[path = "tests/metrics.rs"]
mod tests;
