//! Choosing a decision threshold for one positive class, and the trade-off it makes.

use serde_json::{Value, json};

use crate::curves::{check_binary, check_rows, clf_curve, one_vs_rest};
use crate::error::EvalError;

/// How to pick a decision threshold for a positive class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// The highest F1.
    BestF1,
    /// The highest recall among thresholds whose precision is at least this.
    MaxRecallAtPrecision(f64),
    /// The highest precision among thresholds whose recall is at least this.
    MaxPrecisionAtRecall(f64),
}

/// A chosen threshold and the binary confusion counts it gives (positive when
/// `score >= threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdChoice {
    /// The threshold.
    pub threshold: f64,
    /// Precision there.
    pub precision: f64,
    /// Recall there.
    pub recall: f64,
    /// F1 there.
    pub f1: f64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
}

/// The threshold satisfying `rule` (ties go to the higher threshold: fewer positives), or
/// `None` when no threshold meets the constraint or there are no positive samples. Errors when
/// the lengths differ or a score is not finite.
pub fn choose_threshold(
    y_true: &[bool],
    scores: &[f64],
    rule: ThresholdRule,
) -> Result<Option<ThresholdChoice>, EvalError> {
    let c = clf_curve(y_true, scores)?;
    let (Some(&pos), Some(&neg)) = (c.tps.last(), c.fps.last()) else {
        return Ok(None);
    };
    if pos == 0.0 {
        return Ok(None);
    }
    let choices = c
        .thresholds
        .iter()
        .zip(c.tps.iter().zip(&c.fps))
        .map(|(&t, (&tp, &fp))| {
            let precision = tp / (tp + fp);
            let recall = tp / pos;
            let f1 = 2.0 * tp / (2.0 * tp + fp + (pos - tp));
            ThresholdChoice {
                threshold: t,
                precision,
                recall,
                f1,
                tp: tp as u64,
                fp: fp as u64,
                fn_: (pos - tp) as u64,
                tn: (neg - fp) as u64,
            }
        });
    // Thresholds descend, so keeping the first of equal keys keeps the higher threshold.
    let better = |key: fn(&ThresholdChoice) -> f64| {
        move |best: Option<ThresholdChoice>, ch: ThresholdChoice| match best {
            Some(b) if key(&b) >= key(&ch) => Some(b),
            _ => Some(ch),
        }
    };
    Ok(match rule {
        ThresholdRule::BestF1 => choices.fold(None, better(|c| c.f1)),
        ThresholdRule::MaxRecallAtPrecision(p) => choices
            .filter(|c| c.precision >= p)
            .fold(None, better(|c| c.recall)),
        ThresholdRule::MaxPrecisionAtRecall(r) => choices
            .filter(|c| c.recall >= r)
            .fold(None, better(|c| c.precision)),
    })
}

/// The binary counts, precision, recall and F1 of predicting positive when
/// `score >= threshold` (0/0 reads as 0). Errors when the lengths differ or a score is not
/// finite.
pub fn at_threshold(
    y_true: &[bool],
    scores: &[f64],
    threshold: f64,
) -> Result<ThresholdChoice, EvalError> {
    check_binary(y_true, scores)?;
    let (mut tp, mut fp, mut fn_, mut tn) = (0u64, 0u64, 0u64, 0u64);
    for (&y, &s) in y_true.iter().zip(scores) {
        match (y, s >= threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(ThresholdChoice {
        threshold,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        tp,
        fp,
        fn_,
        tn,
    })
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BestF1 => write!(f, "best F1"),
            Self::MaxRecallAtPrecision(p) => write!(f, "max recall, precision >= {p}"),
            Self::MaxPrecisionAtRecall(r) => write!(f, "max precision, recall >= {r}"),
        }
    }
}

/// The operating points of one positive class under several rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdReport {
    /// The positive class's name.
    pub positive: String,
    /// Each rule with its choice (`None`: no threshold satisfies it).
    pub choices: Vec<(ThresholdRule, Option<ThresholdChoice>)>,
}

impl ThresholdReport {
    /// Best F1, max recall at precision ≥ `min_precision` and max precision at recall ≥
    /// `min_recall` for class `positive` of `num_classes`-column score rows.
    pub fn new(
        positive: (usize, &str),
        labels: &[usize],
        scores: &[f64],
        num_classes: usize,
        min_precision: f64,
        min_recall: f64,
    ) -> Result<Self, EvalError> {
        check_rows(labels, scores, num_classes)?;
        if positive.0 >= num_classes {
            return Err(EvalError::LabelOutOfRange {
                label: positive.0,
                num_classes,
            });
        }
        let (y, s) = one_vs_rest(labels, scores, num_classes, positive.0);
        let rules = [
            ThresholdRule::BestF1,
            ThresholdRule::MaxRecallAtPrecision(min_precision),
            ThresholdRule::MaxPrecisionAtRecall(min_recall),
        ];
        let choices = rules
            .into_iter()
            .map(|r| Ok((r, choose_threshold(&y, &s, r)?)))
            .collect::<Result<_, EvalError>>()?;
        Ok(Self {
            positive: positive.1.to_string(),
            choices,
        })
    }

    /// An aligned table: one row per rule.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Decision thresholds for positive class `{}` (positive when score >= threshold):\n\n{:<32} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7}\n",
            self.positive, "rule", "threshold", "precision", "recall", "f1", "tp", "fp", "fn", "tn"
        );
        for (rule, choice) in &self.choices {
            match choice {
                Some(c) => out.push_str(&format!(
                    "{:<32} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>7} {:>7} {:>7} {:>7}\n",
                    rule.to_string(),
                    c.threshold,
                    c.precision,
                    c.recall,
                    c.f1,
                    c.tp,
                    c.fp,
                    c.fn_,
                    c.tn
                )),
                None => out.push_str(&format!(
                    "{:<32} no threshold satisfies this\n",
                    rule.to_string()
                )),
            }
        }
        out
    }

    /// `{"positive_label": …, "best_f1": {…}, "max_recall_at_precision": {…},
    /// "max_precision_at_recall": {…}}`, each with the constraint (`min_precision` /
    /// `min_recall`), `threshold`, `precision`, `recall`, `f1`, `tp`, `fp`, `fn`, `tn`, or
    /// `null` when no threshold satisfies the rule.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("positive_label".into(), json!(self.positive));
        for (rule, choice) in &self.choices {
            let (key, constraint) = match *rule {
                ThresholdRule::BestF1 => ("best_f1", None),
                ThresholdRule::MaxRecallAtPrecision(p) => {
                    ("max_recall_at_precision", Some(("min_precision", p)))
                }
                ThresholdRule::MaxPrecisionAtRecall(r) => {
                    ("max_precision_at_recall", Some(("min_recall", r)))
                }
            };
            let v = match choice {
                Some(c) => {
                    let mut o = json!({"threshold": c.threshold, "precision": c.precision,
                        "recall": c.recall, "f1": c.f1, "tp": c.tp, "fp": c.fp, "fn": c.fn_, "tn": c.tn});
                    if let (Some((name, value)), Some(obj)) = (constraint, o.as_object_mut()) {
                        obj.insert(name.into(), json!(value));
                    }
                    o
                }
                None => Value::Null,
            };
            m.insert(key.into(), v);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
#[path = "tests/threshold.rs"]
mod tests;
