//! scikit-learn's `classification_report`: as text, and as the `eval.json` document.

use serde_json::{Map, Value, json};

use crate::confusion::ConfusionMatrix;
use crate::curves::{self, OvrScore};
use crate::diagnostics::{Diagnostic, DiagnosticThresholds};
use crate::error::EvalError;
use crate::metrics::{self, Scores, ZeroDivision};

/// Per-class and averaged scores over a set of labels, with the confusion matrix they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// The labels reported on, in order (sorted union of true and predicted by default).
    pub labels: Vec<usize>,
    /// Display name of each label (the label's number when no names are given).
    pub names: Vec<String>,
    /// Scores of each label.
    pub rows: Vec<Scores>,
    /// Whether `labels` covers every label present, so that the micro average *is* the
    /// accuracy: scikit-learn then reports an `accuracy` row, and a `micro avg` row otherwise.
    pub micro_is_accuracy: bool,
    /// Balanced accuracy.
    pub balanced_accuracy: f64,
    /// Cohen's kappa over `labels`.
    pub cohen_kappa: f64,
    /// Matthews correlation coefficient.
    pub matthews_corrcoef: f64,
    /// Top-k accuracy by k, when scores were available (see [`Predictions::top_k_accuracy`]).
    ///
    /// [`Predictions::top_k_accuracy`]: crate::Predictions::top_k_accuracy
    pub top_k_accuracy: std::collections::BTreeMap<usize, f64>,
    /// One-vs-rest ROC AUC, when scores were available.
    pub roc_auc: Option<OvrScore>,
    /// One-vs-rest average precision, when scores were available.
    pub average_precision: Option<OvrScore>,
    /// Micro average over `labels`.
    pub micro: Scores,
    /// Macro average over `labels`.
    pub macro_avg: Scores,
    /// Support-weighted average over `labels`.
    pub weighted: Scores,
    /// Confusion counts restricted to `labels`, rows = true label.
    pub confusion: Vec<Vec<u64>>,
    /// When diagnostics become warnings ([`ClassificationReport::diagnostics`]).
    pub thresholds: DiagnosticThresholds,
    /// Each sample's top-1 minus top-2 score, when scores were added.
    pub margins: Option<Vec<f64>>,
    /// Diagnostics the caller knows more about than the confusion matrix: the training set's
    /// imbalance, over- or underfitting from the training curves.
    pub extra_diagnostics: Vec<Diagnostic>,
    /// A binary decision by a threshold instead of the argmax ([`ClassificationReport::set_decision`]).
    pub decision: Option<Decision>,
}

/// A binary task's decision: the positive class when its probability reaches a threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// The threshold on the positive class's probability.
    pub threshold: f64,
    /// The positive class's name.
    pub positive: String,
    /// How the threshold was set (`fixed`, `chosen on the validation split: recall ≥ 0.9`).
    pub how: String,
}

impl ClassificationReport {
    /// The report over `labels` (default: the labels present in truth or predictions, as
    /// scikit-learn), naming label `i` `class_names[i]` when given.
    pub fn new(
        cm: &ConfusionMatrix,
        labels: Option<&[usize]>,
        class_names: Option<&[String]>,
        zero_division: ZeroDivision,
    ) -> Result<Self, EvalError> {
        let labels = match labels {
            Some(l) => l.to_vec(),
            None => cm.present_labels(),
        };
        if labels.is_empty() {
            return Err(EvalError::Empty);
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= cm.num_classes()) {
            return Err(EvalError::LabelOutOfRange {
                label: bad,
                num_classes: cm.num_classes(),
            });
        }
        let names = labels
            .iter()
            .map(|&l| match class_names.and_then(|n| n.get(l)) {
                Some(n) => n.clone(),
                None => l.to_string(),
            })
            .collect();
        let rows = metrics::per_class(cm, &labels, zero_division);
        let micro_is_accuracy = cm.present_labels().iter().all(|l| labels.contains(l));
        Ok(Self {
            micro_is_accuracy,
            names,
            balanced_accuracy: metrics::balanced_accuracy(cm),
            cohen_kappa: metrics::cohen_kappa(cm, &labels),
            matthews_corrcoef: metrics::matthews_corrcoef(cm),
            top_k_accuracy: Default::default(),
            roc_auc: None,
            average_precision: None,
            micro: metrics::micro_average(cm, &labels, zero_division),
            macro_avg: metrics::macro_average(&rows),
            weighted: metrics::weighted_average(&rows),
            confusion: cm.rows_for(&labels),
            rows,
            labels,
            thresholds: DiagnosticThresholds::default(),
            margins: None,
            extra_diagnostics: Vec::new(),
            decision: None,
        })
    }

    /// Adds what only scores can tell: top-k accuracy for k ∈ {1, 3, 5} below the class count,
    /// one-vs-rest ROC AUC and average precision. `scores` holds `num_classes` scores for each
    /// of `labels`, row-major; an error (and the report unchanged) unless every score is finite
    /// and every label below `num_classes`.
    pub fn add_scores(
        &mut self,
        labels: &[usize],
        scores: &[f64],
        num_classes: usize,
    ) -> Result<(), EvalError> {
        let roc_auc = curves::roc_auc_ovr(labels, scores, num_classes)?;
        let average_precision = curves::average_precision_ovr(labels, scores, num_classes)?;
        self.top_k_accuracy = [1, 3, 5]
            .into_iter()
            .filter(|&top| top < num_classes)
            .map(|top| {
                Ok((
                    top,
                    metrics::top_k_accuracy(scores, num_classes, labels, top)?,
                ))
            })
            .collect::<Result<_, EvalError>>()?;
        self.roc_auc = Some(roc_auc);
        self.average_precision = Some(average_precision);
        self.margins = Some(
            scores
                .chunks(num_classes.max(1))
                .map(|row| {
                    let (mut first, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
                    for &v in row {
                        if v > first {
                            (first, second) = (v, first);
                        } else if v > second {
                            second = v;
                        }
                    }
                    if second.is_finite() {
                        first - second
                    } else {
                        first
                    }
                })
                .collect(),
        );
        Ok(())
    }

    /// Records a thresholded binary decision; `positive_scores` (the positive class's
    /// probability of every sample) replace the argmax margins by the distance to the threshold.
    pub fn set_decision(&mut self, decision: Decision, positive_scores: &[f64]) {
        self.margins = Some(
            positive_scores
                .iter()
                .map(|p| (p - decision.threshold).abs())
                .collect(),
        );
        self.decision = Some(decision);
    }

    /// The per-class table as CSV: `class,precision,recall,f1-score,support`, then the
    /// `accuracy` (or `micro avg`), `macro avg` and `weighted avg` rows; full precision.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("class,precision,recall,f1-score,support\n");
        for (name, row) in self.table_rows() {
            match row {
                Some(s) => out.push_str(&format!(
                    "{},{},{},{},{}\n",
                    csv_field(&name),
                    s.precision,
                    s.recall,
                    s.f1,
                    s.support
                )),
                None => out.push_str(&format!(
                    "accuracy,,,{},{}\n",
                    self.micro.f1, self.micro.support
                )),
            }
        }
        out
    }

    /// The per-class table as Markdown (4 decimals), plus the summary scores.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| class | precision | recall | f1-score | support |\n|---|---:|---:|---:|---:|\n",
        );
        for (name, row) in self.table_rows() {
            match row {
                Some(s) => out.push_str(&format!(
                    "| {} | {:.4} | {:.4} | {:.4} | {} |\n",
                    name.replace('|', "\\|"),
                    s.precision,
                    s.recall,
                    s.f1,
                    s.support
                )),
                None => out.push_str(&format!(
                    "| **accuracy** | | | {:.4} | {} |\n",
                    self.micro.f1, self.micro.support
                )),
            }
        }
        out.push_str(&format!(
            "\nbalanced accuracy {:.4} · Cohen's kappa {:.4} · Matthews corr. {:.4}\n",
            self.balanced_accuracy, self.cohen_kappa, self.matthews_corrcoef
        ));
        out
    }

    /// Rows of the table in scikit-learn's order; `None` stands for the accuracy row.
    fn table_rows(&self) -> Vec<(String, Option<Scores>)> {
        let mut rows: Vec<(String, Option<Scores>)> = self
            .names
            .iter()
            .cloned()
            .zip(self.rows.iter().copied().map(Some))
            .collect();
        if self.micro_is_accuracy {
            rows.push(("accuracy".into(), None));
        } else {
            rows.push(("micro avg".into(), Some(self.micro)));
        }
        rows.push(("macro avg".into(), Some(self.macro_avg)));
        rows.push(("weighted avg".into(), Some(self.weighted)));
        rows
    }

    /// The text table of `sklearn.metrics.classification_report(digits=digits)`, character for
    /// character.
    pub fn to_text(&self, digits: usize) -> String {
        let heading = "weighted avg";
        let width = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .chain([heading.len(), digits])
            .max()
            .unwrap_or(heading.len());
        let mut out = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        // Python prints NaN as `nan`; Rust as `NaN`.
        let num = |v: f64| {
            if v.is_nan() {
                "nan".to_string()
            } else {
                format!("{v:.digits$}")
            }
        };
        let row = |name: &str, s: &Scores| {
            format!(
                "{name:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
                num(s.precision),
                num(s.recall),
                num(s.f1),
                s.support
            )
        };
        for (name, s) in self.names.iter().zip(&self.rows) {
            out.push_str(&row(name, s));
        }
        out.push('\n');
        if self.micro_is_accuracy {
            out.push_str(&format!(
                "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n",
                "accuracy",
                "",
                "",
                num(self.micro.f1),
                self.micro.support
            ));
        } else {
            out.push_str(&row("micro avg", &self.micro));
        }
        out.push_str(&row("macro avg", &self.macro_avg));
        out.push_str(&row(heading, &self.weighted));
        out
    }

    /// The confusion matrix as an aligned text table with class names (rows = true label).
    pub fn confusion_text(&self) -> String {
        let cell = self
            .confusion
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .chain(self.labels.iter().map(|l| l.to_string().len()))
            .max()
            .unwrap_or(1);
        let name_w = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let mut out = format!("{:>name_w$}  pred→\n{:>name_w$}", "true↓", "");
        for l in &self.labels {
            out.push_str(&format!(" {l:>cell$}"));
        }
        out.push('\n');
        for (name, row) in self.names.iter().zip(&self.confusion) {
            out.push_str(&format!("{name:>name_w$}"));
            for c in row {
                out.push_str(&format!(" {c:>cell$}"));
            }
            out.push('\n');
        }
        out
    }

    /// The `eval.json` document: scikit-learn's `classification_report(output_dict=True)`
    /// (keys = label numbers, then `accuracy` — or `micro avg` when `labels` leaves out a label
    /// present — then `macro avg`, `weighted avg`), plus `micro avg` (always),
    /// `balanced_accuracy`, `cohen_kappa`, `matthews_corrcoef`, `top_k_accuracy` (`{"k": v}`,
    /// when set), `roc_auc` (`macro`, `weighted`, one key per class) and `average_precision`
    /// (`macro`, one key per class) when scores were added, `confusion_matrix` (rows = true
    /// label), `labels` and `class_names`.
    /// NaN scores (`zero_division = nan`) are written as `null`.
    pub fn to_json(&self) -> Value {
        let scores = |s: &Scores| json!({"precision": s.precision, "recall": s.recall, "f1-score": s.f1, "support": s.support});
        let mut doc = Map::new();
        for (label, s) in self.labels.iter().zip(&self.rows) {
            doc.insert(label.to_string(), scores(s));
        }
        if self.micro_is_accuracy {
            doc.insert("accuracy".into(), json!(self.micro.f1));
        } else {
            doc.insert("micro avg".into(), scores(&self.micro));
        }
        doc.insert("macro avg".into(), scores(&self.macro_avg));
        doc.insert("weighted avg".into(), scores(&self.weighted));
        if self.micro_is_accuracy {
            // An extension: scikit-learn writes the micro average only in place of accuracy.
            doc.insert("micro avg".into(), scores(&self.micro));
        }
        doc.insert("balanced_accuracy".into(), json!(self.balanced_accuracy));
        doc.insert("cohen_kappa".into(), json!(self.cohen_kappa));
        doc.insert("matthews_corrcoef".into(), json!(self.matthews_corrcoef));
        if !self.top_k_accuracy.is_empty() {
            let top_k: Map<String, Value> = self
                .top_k_accuracy
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            doc.insert("top_k_accuracy".into(), Value::Object(top_k));
        }
        let ovr = |o: &OvrScore, weighted: bool| {
            let mut m = Map::new();
            m.insert("macro".into(), json!(o.macro_avg));
            if weighted {
                m.insert("weighted".into(), json!(o.weighted));
            }
            for (c, v) in o.per_class.iter().enumerate() {
                m.insert(c.to_string(), json!(v));
            }
            Value::Object(m)
        };
        if let Some(o) = &self.roc_auc {
            doc.insert("roc_auc".into(), ovr(o, true));
        }
        if let Some(o) = &self.average_precision {
            doc.insert("average_precision".into(), ovr(o, false));
        }
        doc.insert("confusion_matrix".into(), json!(self.confusion));
        doc.insert("labels".into(), json!(self.labels));
        doc.insert("class_names".into(), json!(self.names));
        if let Some(d) = &self.decision {
            doc.insert("decision_threshold".into(), json!(d));
        }
        let diagnostics = self.diagnostics();
        doc.insert("diagnostics".into(), json!(diagnostics));
        Value::Object(doc)
    }
}

/// Quotes a CSV field when it holds a comma, quote or newline.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
#[path = "tests/report.rs"]
mod tests;
