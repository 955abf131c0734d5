//! scikit-learn's `classification_report`: as text, and as the `eval.json` document.

use serde_json::{Map, Value, json};

use crate::calibration::{Calibration, DEFAULT_BINS, is_probability_rows};
use crate::confusion::ConfusionMatrix;
use crate::curves::{self, OvrScore};
use crate::diagnostics::{Diagnostic, DiagnosticThresholds};
use crate::error::EvalError;
use crate::intervals::Intervals;
use crate::metrics::{self, Scores, ZeroDivision};
use crate::temperature;

/// The top-k accuracies reported unless others are asked for (those below the class count).
pub const DEFAULT_TOP_K: [usize; 3] = [1, 3, 5];

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
    /// The value a 0/0 score takes.
    pub zero_division: ZeroDivision,
    /// How well the probabilities are calibrated, when the added scores were probabilities.
    pub calibration: Option<Calibration>,
    /// The temperature the probabilities were scaled by, and their calibration before it
    /// ([`ClassificationReport::set_temperature`]).
    pub temperature: Option<(f64, Calibration)>,
    /// Bootstrap intervals of the figures ([`ClassificationReport::add_intervals`]).
    pub intervals: Option<Intervals>,
    /// The JSON key of each class index's per-class entries (the labels as the input spells
    /// them, as scikit-learn's `output_dict`); by default the index itself.
    pub class_keys: Option<Vec<String>>,
}

/// The top-k accuracies to report for `num_classes` classes: `asked` (each k from 1 to
/// `num_classes − 1`, else [`EvalError::TopK`]), or [`DEFAULT_TOP_K`] below the class count.
pub fn top_k_list(asked: Option<&[usize]>, num_classes: usize) -> Result<Vec<usize>, EvalError> {
    match asked {
        None => Ok(DEFAULT_TOP_K
            .into_iter()
            .filter(|&k| k < num_classes)
            .collect()),
        Some(ks) => {
            if let Some(&k) = ks.iter().find(|&&k| k == 0 || k >= num_classes) {
                return Err(EvalError::TopK { k, num_classes });
            }
            let mut ks = ks.to_vec();
            ks.sort_unstable();
            ks.dedup();
            Ok(ks)
        }
    }
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
            zero_division,
            calibration: None,
            temperature: None,
            intervals: None,
            class_keys: None,
        })
    }

    /// Adds what only scores can tell: the top-k accuracies of `top_k` (see [`top_k_list`]),
    /// one-vs-rest ROC AUC and average precision, and — when the scores are probabilities —
    /// their calibration in [`DEFAULT_BINS`] bins. `scores` holds `num_classes` scores for each
    /// of `labels`, row-major; an error (and the report unchanged) unless every score is finite,
    /// every label below `num_classes` and every k valid.
    pub fn add_scores(
        &mut self,
        labels: &[usize],
        scores: &[f64],
        num_classes: usize,
        top_k: Option<&[usize]>,
    ) -> Result<(), EvalError> {
        let ks = top_k_list(top_k, num_classes)?;
        let roc_auc = curves::roc_auc_ovr(labels, scores, num_classes)?;
        let average_precision = curves::average_precision_ovr(labels, scores, num_classes)?;
        let calibration = match is_probability_rows(scores, num_classes) && !labels.is_empty() {
            true => Some(Calibration::new(labels, scores, num_classes, DEFAULT_BINS)?),
            false => None,
        };
        self.top_k_accuracy = ks
            .into_iter()
            .map(|top| {
                Ok((
                    top,
                    metrics::top_k_accuracy(scores, num_classes, labels, top)?,
                ))
            })
            .collect::<Result<_, EvalError>>()?;
        self.roc_auc = Some(roc_auc);
        self.average_precision = Some(average_precision);
        self.calibration = calibration;
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

    /// Records that the added probabilities were scaled by `temperature`, with the calibration
    /// of the unscaled ones (recovered from `scores`, [`temperature::unscaled`]) beside theirs.
    pub fn set_temperature(
        &mut self,
        temperature: f64,
        labels: &[usize],
        scores: &[f64],
        num_classes: usize,
    ) -> Result<(), EvalError> {
        let Some(after) = &self.calibration else {
            return Ok(());
        };
        let before = temperature::unscaled(scores, num_classes, temperature);
        let before = Calibration::new(labels, &before, num_classes, after.bins)?;
        self.temperature = Some((temperature, before));
        Ok(())
    }

    /// The JSON key of class index `c` ([`class_keys`](Self::class_keys)).
    pub fn key(&self, c: usize) -> String {
        match self.class_keys.as_ref().and_then(|keys| keys.get(c)) {
            Some(key) => key.clone(),
            None => c.to_string(),
        }
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

    /// The calibration figures and the bootstrap intervals as text (empty when the report has
    /// neither): what the summary scores are worth.
    pub fn uncertainty_text(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.calibration {
            out.push_str(&format!(
                "calibration ({} bins): ECE {:.4}   MCE {:.4}   class-wise ECE {:.4}   Brier {:.4}   \
                 log loss {:.4}\n",
                c.bins, c.ece, c.mce, c.classwise_ece, c.brier, c.log_loss
            ));
            if let Some((t, before)) = &self.temperature {
                out.push_str(&format!(
                    "temperature {t:.4} (fitted on the validation split): ECE {:.4} → {:.4}, log \
                     loss {:.4} → {:.4}\n",
                    before.ece, c.ece, before.log_loss, c.log_loss
                ));
            }
        }
        let Some(ci) = &self.intervals else {
            return out;
        };
        out.push_str(&format!(
            "95% intervals (percentile bootstrap, {} resamples, seed {}):\n",
            ci.bootstrap.resamples, ci.bootstrap.seed
        ));
        let mut line = vec![
            format!("accuracy {:.4} {:.4}", self.micro.f1, ci.accuracy),
            format!(
                "balanced accuracy {:.4} {:.4}",
                self.balanced_accuracy, ci.balanced_accuracy
            ),
        ];
        line.push(format!(
            "macro F1 {:.4} {:.4}",
            self.macro_avg.f1, ci.macro_f1
        ));
        line.push(format!(
            "weighted F1 {:.4} {:.4}",
            self.weighted.f1, ci.weighted_f1
        ));
        if let (Some(auc), Some(i)) = (&self.roc_auc, ci.roc_auc) {
            line.push(format!("ROC AUC {:.4} {i:.4}", auc.macro_avg));
        }
        if let (Some(c), Some(i)) = (&self.calibration, ci.ece) {
            line.push(format!("ECE {:.4} {i:.4}", c.ece));
        }
        for pair in line.chunks(2) {
            out.push_str(&format!("  {}\n", pair.join("   ")));
        }
        let width = (self.names.iter().map(|n| n.chars().count()))
            .chain([5])
            .max()
            .unwrap_or(5);
        out.push_str(&format!(
            "  {:>width$}  {:>24}  {:>24}\n",
            "class", "precision [95%]", "recall [95%]"
        ));
        for (j, (name, s)) in self.names.iter().zip(&self.rows).enumerate() {
            let cell = |v: f64, i: &crate::Interval| format!("{v:.4} {i:.4}");
            out.push_str(&format!(
                "  {name:>width$}  {:>24}  {:>24}\n",
                cell(s.precision, &ci.precision[j]),
                cell(s.recall, &ci.recall[j]),
            ));
        }
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
    /// (keys = the labels as the input spells them ([`key`](Self::key)), then `accuracy` — or `micro avg` when `labels` leaves out a label
    /// present — then `macro avg`, `weighted avg`), plus `micro avg` (always),
    /// `balanced_accuracy`, `cohen_kappa`, `matthews_corrcoef`, `top_k_accuracy` (`{"k": v}`,
    /// when set), `roc_auc` (`macro`, `weighted`, one key per class) and `average_precision`
    /// (`macro`, one key per class) when scores were added, `calibration` when they were
    /// probabilities (with `temperature` and `before_temperature` when scaled), `ci` with
    /// bootstrap intervals, `confusion_matrix` (rows = true label), `labels` and
    /// `class_names`.
    /// NaN scores (`zero_division = nan`) are written as `null`.
    pub fn to_json(&self) -> Value {
        let scores = |s: &Scores| json!({"precision": s.precision, "recall": s.recall, "f1-score": s.f1, "support": s.support});
        let mut doc = Map::new();
        for (&label, s) in self.labels.iter().zip(&self.rows) {
            doc.insert(self.key(label), scores(s));
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
                m.insert(self.key(c), json!(v));
            }
            Value::Object(m)
        };
        if let Some(o) = &self.roc_auc {
            doc.insert("roc_auc".into(), ovr(o, true));
        }
        if let Some(o) = &self.average_precision {
            doc.insert("average_precision".into(), ovr(o, false));
        }
        if let Some(c) = &self.calibration {
            let mut cal = json!(c);
            if let (Some((t, before)), Some(obj)) = (&self.temperature, cal.as_object_mut()) {
                obj.insert("temperature".into(), json!(t));
                obj.insert("before_temperature".into(), json!(before));
            }
            doc.insert("calibration".into(), cal);
        }
        if let Some(ci) = &self.intervals {
            let keys: Vec<String> = self.labels.iter().map(|&l| self.key(l)).collect();
            doc.insert("ci".into(), ci.to_json(&keys));
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
