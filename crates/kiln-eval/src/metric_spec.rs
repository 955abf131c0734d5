//! Naming one scalar of a confusion matrix — `macro_f1`, `recall:Shirt` — so that training can
//! log it per epoch and monitor it.

use crate::confusion::ConfusionMatrix;
use crate::error::EvalError;
use crate::metrics::{self, StatScores, ZeroDivision};

/// A per-class score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassScore {
    /// TP / (TP + FP).
    Precision,
    /// TP / (TP + FN).
    Recall,
    /// Harmonic mean of precision and recall.
    F1,
    /// TN / (TN + FP).
    Specificity,
}

/// A scalar computed from a confusion matrix (scikit-learn definitions, zero_division = 0, over
/// the labels present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Accuracy.
    Accuracy,
    /// Balanced accuracy (mean recall).
    BalancedAccuracy,
    /// Macro-averaged precision.
    MacroPrecision,
    /// Macro-averaged recall.
    MacroRecall,
    /// Macro-averaged F1.
    MacroF1,
    /// Support-weighted F1.
    WeightedF1,
    /// Cohen's kappa.
    CohenKappa,
    /// Matthews correlation coefficient.
    Mcc,
    /// One class's score.
    Class(ClassScore, usize),
}

/// A named metric: what `--metric` and `--monitor` accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpec {
    /// The canonical name (`macro_f1`, `recall:Shirt`): the `metrics.csv` column.
    pub name: String,
    /// What it computes.
    pub kind: MetricKind,
}

/// The names [`MetricSpec::parse`] accepts without a class.
pub const GLOBAL_METRICS: [&str; 8] = [
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_f1",
    "cohen_kappa",
    "mcc",
];

impl MetricSpec {
    /// Parses one of [`GLOBAL_METRICS`], or `precision|recall|f1|specificity:<class>` where
    /// `<class>` is a name from `class_names` or a class index.
    pub fn parse(spec: &str, class_names: &[String]) -> Result<Self, EvalError> {
        let bad = |problem: String| EvalError::UnknownMetric {
            spec: spec.to_string(),
            problem,
        };
        let kind = match spec.split_once(':') {
            None => match spec {
                "accuracy" => MetricKind::Accuracy,
                "balanced_accuracy" => MetricKind::BalancedAccuracy,
                "macro_precision" => MetricKind::MacroPrecision,
                "macro_recall" => MetricKind::MacroRecall,
                "macro_f1" => MetricKind::MacroF1,
                "weighted_f1" => MetricKind::WeightedF1,
                "cohen_kappa" => MetricKind::CohenKappa,
                "mcc" => MetricKind::Mcc,
                _ => {
                    return Err(bad(format!(
                        "expected one of {} or precision|recall|f1|specificity:<class>",
                        GLOBAL_METRICS.join(", ")
                    )));
                }
            },
            Some((score, class)) => {
                let score = match score {
                    "precision" => ClassScore::Precision,
                    "recall" => ClassScore::Recall,
                    "f1" => ClassScore::F1,
                    "specificity" => ClassScore::Specificity,
                    other => {
                        return Err(bad(format!(
                            "`{other}` is not a per-class score (precision, recall, f1, specificity)"
                        )));
                    }
                };
                let index = class_index(class, class_names).ok_or_else(|| {
                    bad(format!(
                        "`{class}` is not a class ({} or 0..{})",
                        class_names.join(", "),
                        class_names.len()
                    ))
                })?;
                MetricKind::Class(score, index)
            }
        };
        Ok(Self {
            name: spec.to_string(),
            kind,
        })
    }

    /// The metric's value on `cm` (NaN when `cm` is empty).
    pub fn compute(&self, cm: &ConfusionMatrix) -> f64 {
        if cm.total() == 0 {
            return f64::NAN;
        }
        let zd = ZeroDivision::Zero;
        let present = || cm.present_labels();
        let rows = || metrics::per_class(cm, &present(), zd);
        match self.kind {
            MetricKind::Accuracy => metrics::accuracy(cm),
            MetricKind::BalancedAccuracy => metrics::balanced_accuracy(cm),
            MetricKind::MacroPrecision => metrics::macro_average(&rows()).precision,
            MetricKind::MacroRecall => metrics::macro_average(&rows()).recall,
            MetricKind::MacroF1 => metrics::macro_average(&rows()).f1,
            MetricKind::WeightedF1 => metrics::weighted_average(&rows()).f1,
            MetricKind::CohenKappa => metrics::cohen_kappa(cm, &present()),
            MetricKind::Mcc => metrics::matthews_corrcoef(cm),
            MetricKind::Class(score, c) => {
                let s = StatScores::of(cm, c);
                match score {
                    ClassScore::Precision => s.precision(zd),
                    ClassScore::Recall => s.recall(zd),
                    ClassScore::F1 => s.f_beta(1.0, zd),
                    ClassScore::Specificity => metrics::specificity(cm, &[c], zd)[0],
                }
            }
        }
    }
}

/// The index of the class called `name`, or numbered `name`, among `class_names`.
pub fn class_index(name: &str, class_names: &[String]) -> Option<usize> {
    class_names
        .iter()
        .position(|n| n == name)
        .or_else(|| name.parse().ok().filter(|&i: &usize| i < class_names.len()))
}

#[cfg(test)]
#[path = "tests/metric_spec.rs"]
mod tests;
