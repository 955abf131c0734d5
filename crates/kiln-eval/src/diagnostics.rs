//! Judgments about a confusion matrix, each with the numbers that triggered it and a
//! plain-language explanation: the majority-class baseline beside accuracy, the accuracy
//! paradox (a class whose recall or precision is far below the overall accuracy) and class
//! imbalance. The thresholds are [`DiagnosticThresholds`], documented defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::confusion::ConfusionMatrix;
use crate::metrics::{StatScores, ZeroDivision, accuracy, cohen_kappa};

/// When a diagnostic becomes a warning. Every field has a documented default; a run records
/// the ones it used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnosticThresholds {
    /// Warn when accuracy is less than this many points (fraction) above the majority-class
    /// baseline. Default 0.05.
    pub baseline_margin: f64,
    /// Warn for a class whose recall or precision is at least this far (fraction) below the
    /// overall accuracy. Default 0.20.
    pub paradox_gap: f64,
    /// Warn when the largest class has at least this many times the support of the smallest
    /// present one. Default 3.0.
    pub imbalance_ratio: f64,
    /// Count a prediction as near the decision boundary when its top two class probabilities
    /// are less than this apart. Default 0.10.
    pub boundary_margin: f64,
    /// Warn when training accuracy exceeds validation accuracy by at least this much
    /// (fraction) at the last epoch and the gap has grown since the first. Default 0.05.
    pub overfit_gap: f64,
    /// Warn when the last validation loss is at least this fraction above its minimum over the
    /// run. Default 0.05.
    pub loss_rise: f64,
    /// Warn for a class whose recall's bootstrap interval is wider than this (fraction): too
    /// few images to judge it. Default 0.20.
    pub interval_width: f64,
}

/// A threshold that is not a finite number at or above its minimum.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("must be a number ≥ {minimum}, got {value}")]
pub struct InvalidThreshold {
    /// The least value the threshold may take.
    pub minimum: f64,
    /// The value given.
    pub value: f64,
}

impl DiagnosticThresholds {
    /// Checks `value` for the threshold whose field is `name`: a finite number, at least 1 for
    /// `imbalance_ratio` (a ratio of class counts) and at least 0 for the others.
    pub fn check(name: &str, value: f64) -> Result<(), InvalidThreshold> {
        let minimum = if name == "imbalance_ratio" { 1.0 } else { 0.0 };
        match value.is_finite() && value >= minimum {
            true => Ok(()),
            false => Err(InvalidThreshold { minimum, value }),
        }
    }

    /// The first threshold [`check`](Self::check) refuses, with its field name.
    pub fn invalid(&self) -> Option<(&'static str, InvalidThreshold)> {
        [
            ("baseline_margin", self.baseline_margin),
            ("paradox_gap", self.paradox_gap),
            ("imbalance_ratio", self.imbalance_ratio),
            ("boundary_margin", self.boundary_margin),
            ("overfit_gap", self.overfit_gap),
            ("loss_rise", self.loss_rise),
            ("interval_width", self.interval_width),
        ]
        .into_iter()
        .find_map(|(name, value)| Self::check(name, value).err().map(|e| (name, e)))
    }
}

impl Default for DiagnosticThresholds {
    fn default() -> Self {
        Self {
            baseline_margin: 0.05,
            paradox_gap: 0.20,
            imbalance_ratio: 3.0,
            boundary_margin: 0.10,
            overfit_gap: 0.05,
            loss_rise: 0.05,
            interval_width: 0.20,
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context worth reading (the baseline is always reported).
    Info,
    /// Something the headline accuracy hides.
    Warning,
}

/// One judgment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// `baseline`, `accuracy_paradox` or `imbalance`.
    pub kind: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The class concerned, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The sentence for a person, with the numbers.
    pub message: String,
    /// The numbers behind it, by name.
    pub numbers: BTreeMap<&'static str, f64>,
}

/// Every diagnostic of the evaluation `cm` (rows = true labels) with `class_names` indexed by
/// label: the baseline first, then per-class paradox warnings in label order, then imbalance.
pub fn diagnose(
    cm: &ConfusionMatrix,
    class_names: &[String],
    thresholds: &DiagnosticThresholds,
) -> Vec<Diagnostic> {
    let total = cm.total();
    if total == 0 {
        return Vec::new();
    }
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let acc = accuracy(cm);
    let labels: Vec<usize> = (0..cm.num_classes()).collect();
    let kappa = cohen_kappa(cm, &labels);
    let (majority, majority_support) = labels
        .iter()
        .map(|&c| (c, cm.support(c)))
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .unwrap_or((0, 0));
    let baseline = majority_support as f64 / total as f64;
    let mut out = Vec::new();

    let near = acc - baseline < thresholds.baseline_margin;
    out.push(Diagnostic {
        kind: "baseline",
        severity: if near {
            Severity::Warning
        } else {
            Severity::Info
        },
        class: None,
        message: if near {
            format!(
                "accuracy {} is within {:.1} points of the {} a model gets by always predicting \
                 `{}` (the most frequent class); Cohen's kappa {kappa:.3} measures the agreement \
                 beyond that chance level",
                pct(acc),
                100.0 * thresholds.baseline_margin,
                pct(baseline),
                name(majority)
            )
        } else {
            format!(
                "accuracy {} against a majority-class baseline of {} (always `{}`); Cohen's \
                 kappa {kappa:.3}",
                pct(acc),
                pct(baseline),
                name(majority)
            )
        },
        numbers: BTreeMap::from([
            ("accuracy", acc),
            ("baseline", baseline),
            ("cohen_kappa", kappa),
        ]),
    });

    let paradox = (labels.iter().copied().filter(|&c| cm.support(c) > 0))
        .filter_map(|c| accuracy_paradox(cm, c, &name(c), acc, thresholds));
    out.extend(paradox);

    let supports: Vec<u64> = labels.iter().map(|&c| cm.support(c)).collect();
    out.extend(imbalance("test", &supports, class_names, thresholds));
    out
}

/// The accuracy paradox for class `c` (called `name`): its recall or precision at least
/// `paradox_gap` below the overall accuracy `acc`.
fn accuracy_paradox(
    cm: &ConfusionMatrix,
    c: usize,
    name: &str,
    acc: f64,
    thresholds: &DiagnosticThresholds,
) -> Option<Diagnostic> {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let scores = StatScores::of(cm, c);
    let recall = scores.recall(ZeroDivision::Zero);
    let precision = scores.precision(ZeroDivision::Zero);
    let share = cm.support(c) as f64 / cm.total() as f64;
    let mut parts = Vec::new();
    if acc - recall >= thresholds.paradox_gap {
        parts.push(format!(
            "recall of class `{name}` is {} (it is {} of the test set): {} of its cases are \
             missed",
            pct(recall),
            pct(share),
            pct(1.0 - recall)
        ));
    }
    if cm.predicted(c) > 0 && acc - precision >= thresholds.paradox_gap {
        parts.push(format!(
            "precision of class `{name}` is {}: {} of the images predicted `{name}` are \
             something else",
            pct(precision),
            pct(1.0 - precision),
        ));
    }
    (!parts.is_empty()).then(|| Diagnostic {
        kind: "accuracy_paradox",
        severity: Severity::Warning,
        class: Some(name.to_string()),
        message: format!("accuracy {} but {}", pct(acc), parts.join("; and ")),
        numbers: BTreeMap::from([
            ("accuracy", acc),
            ("recall", recall),
            ("precision", precision),
            ("share", share),
        ]),
    })
}

/// A warning when the class counts of `split` (indexed by label) are imbalanced beyond
/// `thresholds.imbalance_ratio` (classes with no images left out).
pub fn imbalance(
    split: &str,
    counts: &[u64],
    class_names: &[String],
    thresholds: &DiagnosticThresholds,
) -> Option<Diagnostic> {
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let total: u64 = counts.iter().sum();
    let present = counts.iter().copied().filter(|&s| s > 0);
    let (smallest, largest) = (present.clone().min()?, present.max()?);
    let ratio = largest as f64 / smallest as f64;
    if ratio < thresholds.imbalance_ratio {
        return None;
    }
    let rarest = counts.iter().position(|&s| s == smallest).unwrap_or(0);
    let share = smallest as f64 / total as f64;
    Some(Diagnostic {
        kind: "imbalance",
        severity: Severity::Warning,
        class: Some(name(rarest)),
        message: format!(
            "the {split} set is imbalanced: the largest class has {ratio:.1}× the images of the \
             smallest (`{}`, {:.1}% of the set); read per-class recall and the macro averages, \
             not accuracy alone",
            name(rarest),
            100.0 * share
        ),
        numbers: BTreeMap::from([("imbalance_ratio", ratio), ("smallest_share", share)]),
    })
}

/// How many predictions sit near the decision boundary: `margins` holds each prediction's
/// top-1 minus top-2 probability (the decision is the argmax, so a margin near 0 is a
/// prediction that a small change to the model flips).
pub fn decision_boundary(margins: &[f64], thresholds: &DiagnosticThresholds) -> Diagnostic {
    let near = margins
        .iter()
        .filter(|&&m| m < thresholds.boundary_margin)
        .count();
    let share = near as f64 / margins.len().max(1) as f64;
    Diagnostic {
        kind: "decision_boundary",
        severity: Severity::Info,
        class: None,
        message: format!(
            "decision: the most probable class (argmax); {near} of {} predictions ({:.1}%) have \
             their top two probabilities less than {:.2} apart",
            margins.len(),
            100.0 * share,
            thresholds.boundary_margin
        ),
        numbers: BTreeMap::from([
            ("boundary_margin", thresholds.boundary_margin),
            ("near_boundary", near as f64),
            ("near_boundary_share", share),
        ]),
    }
}

impl crate::ClassificationReport {
    /// [`diagnose`] on this report's confusion matrix (its labels, in order) and class names
    /// with its [`thresholds`](crate::ClassificationReport::thresholds), then the
    /// [`decision_boundary`] note when scores were added, then the caller's
    /// [`extra_diagnostics`](crate::ClassificationReport::extra_diagnostics).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let k = self.labels.len();
        let mut cm = ConfusionMatrix::new(k);
        for (t, row) in self.confusion.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                // Rows and columns index `labels`, so they are in range by construction.
                if cm.add(t, p, n).is_err() {
                    return Vec::new();
                }
            }
        }
        let mut out = diagnose(&cm, &self.names, &self.thresholds);
        if let Some(margins) = &self.margins {
            let mut d = decision_boundary(margins, &self.thresholds);
            if let Some(decision) = &self.decision {
                let number = |k: &str| d.numbers.get(k).copied().unwrap_or(0.0);
                let (near, share) = (number("near_boundary"), number("near_boundary_share"));
                let row = self.names.iter().position(|n| *n == decision.positive);
                let scores = row.and_then(|r| self.rows.get(r));
                let here = scores.map_or(String::new(), |s| {
                    format!(
                        ": here precision {:.1}% at recall {:.1}%",
                        100.0 * s.precision,
                        100.0 * s.recall
                    )
                });
                d.message = format!(
                    "decision: `{}` when its probability is at least {:.4} ({}){here}; {} of {} \
                     predictions ({:.1}%) are less than {:.2} from it",
                    decision.positive,
                    decision.threshold,
                    decision.how,
                    near,
                    margins.len(),
                    100.0 * share,
                    self.thresholds.boundary_margin
                );
                d.numbers.insert("threshold", decision.threshold);
                if let Some(s) = scores {
                    d.numbers.insert("precision", s.precision);
                    d.numbers.insert("recall", s.recall);
                }
            }
            out.push(d);
        }
        out.extend(self.wide_intervals());
        out.extend(self.extra_diagnostics.iter().cloned());
        out
    }
}

impl crate::ClassificationReport {
    /// A warning for each class whose recall interval is wider than
    /// [`interval_width`](DiagnosticThresholds::interval_width).
    fn wide_intervals(&self) -> Vec<Diagnostic> {
        let Some(ci) = &self.intervals else {
            return Vec::new();
        };
        let limit = self.thresholds.interval_width;
        (self.names.iter().zip(&self.rows).zip(&ci.recall))
            .filter(|(_, i)| i.width() > limit)
            .map(|((name, s), i)| Diagnostic {
                kind: "wide_interval",
                severity: Severity::Warning,
                class: Some(name.clone()),
                message: format!(
                    "recall of class `{name}` is {:.3} with a 95% interval of {i:.3} from {} \
                     images: too few to say much about it (the interval is {:.0} points wide)",
                    s.recall,
                    s.support,
                    100.0 * i.width()
                ),
                numbers: BTreeMap::from([
                    ("recall", s.recall),
                    ("low", i.low),
                    ("high", i.high),
                    ("support", s.support as f64),
                    ("interval_width", limit),
                ]),
            })
            .collect()
    }
}

/// The diagnostics as text lines (`warning: …` / `note: …`), for the printed report.
pub fn diagnostics_text(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            let tag = match d.severity {
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            format!("{tag}: {}\n", d.message)
        })
        .collect()
}

#[cfg(test)]
#[path = "tests/diagnostics.rs"]
mod tests;
