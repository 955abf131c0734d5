//! Judgments about a confusion matrix, each with the numbers that triggered it and a
//! plain-language explanation: the majority-class baseline beside accuracy, the accuracy
//! paradox (a class whose recall or precision is far below the overall accuracy) and class
//! imbalance. The thresholds are [`DiagnosticThresholds`], documented defaults.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::confusion::ConfusionMatrix;
use crate::metrics::{StatScores, ZeroDivision, accuracy, cohen_kappa};

/// When a diagnostic becomes a warning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
}

impl Default for DiagnosticThresholds {
    fn default() -> Self {
        Self {
            baseline_margin: 0.05,
            paradox_gap: 0.20,
            imbalance_ratio: 3.0,
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

    for c in labels.iter().copied().filter(|&c| cm.support(c) > 0) {
        let scores = StatScores::of(cm, c);
        let recall = scores.recall(ZeroDivision::Zero);
        let precision = scores.precision(ZeroDivision::Zero);
        let share = cm.support(c) as f64 / total as f64;
        let mut parts = Vec::new();
        if acc - recall >= thresholds.paradox_gap {
            parts.push(format!(
                "recall of class `{}` is {} (it is {} of the test set): {} of its cases are \
                 missed",
                name(c),
                pct(recall),
                pct(share),
                pct(1.0 - recall)
            ));
        }
        if cm.predicted(c) > 0 && acc - precision >= thresholds.paradox_gap {
            parts.push(format!(
                "precision of class `{}` is {}: {} of the images predicted `{}` are something \
                 else",
                name(c),
                pct(precision),
                pct(1.0 - precision),
                name(c)
            ));
        }
        if !parts.is_empty() {
            out.push(Diagnostic {
                kind: "accuracy_paradox",
                severity: Severity::Warning,
                class: Some(name(c)),
                message: format!("accuracy {} but {}", pct(acc), parts.join("; and ")),
                numbers: BTreeMap::from([
                    ("accuracy", acc),
                    ("recall", recall),
                    ("precision", precision),
                    ("share", share),
                ]),
            });
        }
    }

    let supports: Vec<u64> = labels
        .iter()
        .map(|&c| cm.support(c))
        .filter(|&s| s > 0)
        .collect();
    let (smallest, largest) = (
        supports.iter().copied().min().unwrap_or(0),
        supports.iter().copied().max().unwrap_or(0),
    );
    let ratio = largest as f64 / smallest.max(1) as f64;
    if ratio >= thresholds.imbalance_ratio {
        let rarest = labels
            .iter()
            .copied()
            .find(|&c| cm.support(c) == smallest)
            .unwrap_or(0);
        out.push(Diagnostic {
            kind: "imbalance",
            severity: Severity::Warning,
            class: Some(name(rarest)),
            message: format!(
                "the test set is imbalanced: the largest class has {ratio:.1}× the images of the \
                 smallest (`{}`, {} of the set); read per-class recall and the macro averages, \
                 not accuracy alone",
                name(rarest),
                pct(smallest as f64 / total as f64)
            ),
            numbers: BTreeMap::from([
                ("imbalance_ratio", ratio),
                ("smallest_share", smallest as f64 / total as f64),
            ]),
        });
    }
    out
}

impl crate::ClassificationReport {
    /// [`diagnose`] on this report's confusion matrix (its labels, in order) and class names.
    pub fn diagnostics(&self, thresholds: &DiagnosticThresholds) -> Vec<Diagnostic> {
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
        diagnose(&cm, &self.names, thresholds)
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
