//! Bootstrap confidence intervals of a report's figures: accuracy, balanced accuracy,
//! macro / weighted F1, every reported class's precision and recall, the one-vs-rest macro ROC
//! AUC and the ECE (the last two when scores were added). Each resample's figures are computed
//! by the same functions as the point estimates ([`crate::metrics`]), from the resample's
//! confusion counts; the AUC by the Mann–Whitney statistic on weighted samples, the ECE from
//! weighted bin sums.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::bootstrap::{Bootstrap, Interval, LEVEL};
use crate::calibration::{bin_edges, slot, top_label};
use crate::class_counts::{ClassCounts, compact};
use crate::error::EvalError;
use crate::metrics::{self, ZeroDivision};
use crate::report::ClassificationReport;

/// The intervals of a report's figures, and how they were drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    /// The resampling.
    pub bootstrap: Bootstrap,
    /// Accuracy.
    pub accuracy: Interval,
    /// Balanced accuracy.
    pub balanced_accuracy: Interval,
    /// Macro-averaged F1 over the report's labels.
    pub macro_f1: Interval,
    /// Support-weighted F1 over the report's labels.
    pub weighted_f1: Interval,
    /// Precision of each of the report's labels, in order.
    pub precision: Vec<Interval>,
    /// Recall of each of the report's labels, in order.
    pub recall: Vec<Interval>,
    /// One-vs-rest macro ROC AUC, when scores were added.
    pub roc_auc: Option<Interval>,
    /// Expected calibration error, when the scores were probabilities.
    pub ece: Option<Interval>,
}

/// The samples a resample weighs: each sample's (truth, prediction) cell, and what the
/// score-based figures need.
struct Samples<'a> {
    num_classes: usize,
    truth: Vec<u32>,
    predicted: Vec<u32>,
    /// Per class with both positives and negatives: samples by ascending score, packed
    /// ([`Auc`]).
    auc: Vec<Auc>,
    /// When the ECE is wanted: the slot count, and each sample's top-label slot and
    /// `hit − confidence`.
    ece: Option<(usize, Vec<u8>, Vec<f64>)>,
    labels: &'a [usize],
    zero_division: ZeroDivision,
}

/// One class's samples in ascending score order, equal scores positives first: which sample
/// (low 31 bits) and whether it is positive (bit 31); and the runs of equal scores that mix
/// positives and negatives (ranges of `packed`), whose pairs tie.
struct Auc {
    packed: Vec<u32>,
    ties: Vec<std::ops::Range<usize>>,
}

/// The most samples × classes whose ROC AUC gets an interval (10 classes × 2,000,000 samples:
/// about 40 s for 1,000 resamples on two cores).
pub const AUC_INTERVAL_LIMIT: usize = 20_000_000;

const POSITIVE: u32 = 1 << 31;
const INDEX: u32 = POSITIVE - 1;

impl Auc {
    /// The packed order of one class's scores; `None` when the class has no positive or no
    /// negative sample (its AUC is undefined on every resample).
    fn new(truth: &[usize], scores: &[f64], num_classes: usize, class: usize) -> Option<Self> {
        // `+ 0.0` makes −0.0 equal to 0.0 for the sort too (`total_cmp` tells them apart).
        let score = |i: u32| scores[i as usize * num_classes + class] + 0.0;
        let positive = |i: u32| truth[i as usize] == class;
        let positives = truth.iter().filter(|&&y| y == class).count();
        if positives == 0 || positives == truth.len() {
            return None;
        }
        let mut order: Vec<u32> = (0..truth.len() as u32).collect();
        order.sort_by(|&a, &b| {
            (score(a).total_cmp(&score(b))).then_with(|| positive(b).cmp(&positive(a)))
        });
        let mut ties = Vec::new();
        let mut start = 0;
        for end in 1..=order.len() {
            if end == order.len() || score(order[end]) != score(order[start]) {
                let run = &order[start..end];
                if run.iter().any(|&i| positive(i)) && run.iter().any(|&i| !positive(i)) {
                    ties.push(start..end);
                }
                start = end;
            }
        }
        let packed = (order.iter())
            .map(|&i| if positive(i) { i | POSITIVE } else { i })
            .collect();
        Some(Self { packed, ties })
    }

    /// The Mann–Whitney AUC with sample weights `counts` (ties count one half); NaN when the
    /// resample has no positive or no negative.
    ///
    /// One pass counts, for every positive, the negatives strictly below it (equal scores put
    /// positives first, so a run's own negatives are not counted yet); the pairs within runs of
    /// equal scores then add one half each. Whether a sample is positive is data, not a branch:
    /// it would be mispredicted half the time where the classes overlap.
    fn weighted(&self, counts: &[u8]) -> f64 {
        let (mut below, mut wins, mut pos) = (0u64, 0u64, 0u64);
        for &e in &self.packed {
            let w = u64::from(counts[(e & INDEX) as usize]);
            let positive = 0u64.wrapping_sub(u64::from(e >> 31));
            let pw = w & positive;
            wins += pw * below;
            pos += pw;
            below += w & !positive;
        }
        let mut tied = 0u64;
        for run in &self.ties {
            let (mut p, mut n) = (0u64, 0u64);
            for &e in &self.packed[run.clone()] {
                let w = u64::from(counts[(e & INDEX) as usize]);
                match e & POSITIVE != 0 {
                    true => p += w,
                    false => n += w,
                }
            }
            tied += p * n;
        }
        match pos * below {
            0 => f64::NAN,
            pairs => (2 * wins + tied) as f64 / (2.0 * pairs as f64),
        }
    }
}

impl Samples<'_> {
    /// The resample's figures, in [`Intervals`]' order: accuracy, balanced accuracy, macro
    /// F1, weighted F1, precision and recall per label (NaN where the resample leaves them
    /// undefined: a class it does not hold or never predicts), then the AUC and ECE if wanted.
    fn statistics(&self, counts: &[u8], out: &mut [f64]) {
        let weights = counts.iter().map(|&w| u64::from(w));
        let c = ClassCounts::new(&self.truth, &self.predicted, self.num_classes, weights);
        let rows = c.per_class(self.labels, self.zero_division);
        out[0] = c.accuracy();
        out[1] = c.balanced_accuracy();
        out[2] = metrics::macro_average(&rows).f1;
        out[3] = metrics::weighted_average(&rows).f1;
        let per = self.labels.len();
        for (j, s) in c
            .per_class(self.labels, ZeroDivision::Nan)
            .iter()
            .enumerate()
        {
            out[4 + j] = s.precision;
            out[4 + per + j] = s.recall;
        }
        let mut next = 4 + 2 * per;
        if !self.auc.is_empty() {
            let aucs: Vec<f64> = (self.auc.iter().map(|a| a.weighted(counts)))
                .filter(|v| !v.is_nan())
                .collect();
            out[next] = aucs.iter().sum::<f64>() / aucs.len() as f64;
            next += 1;
        }
        if let Some((bins, slots, gaps)) = &self.ece {
            let mut sums = vec![0.0; bins + 1];
            for ((&slot, &gap), &w) in slots.iter().zip(gaps).zip(counts) {
                sums[usize::from(slot)] += f64::from(w) * gap;
            }
            let n: u64 = counts.iter().map(|&w| u64::from(w)).sum();
            out[next] = sums.iter().map(|g| g.abs()).sum::<f64>() / n as f64;
        }
    }
}

impl ClassificationReport {
    /// Bootstrap intervals for this report's figures ([`Intervals`]), from the samples it was
    /// made of: their `truth` and `predicted` labels and, when the report has score-based
    /// figures, their `scores` (`num_classes` per sample). Sets
    /// [`intervals`](Self::intervals).
    pub fn add_intervals(
        &mut self,
        truth: &[usize],
        predicted: &[usize],
        scores: Option<&[f64]>,
        num_classes: usize,
        bootstrap: Bootstrap,
    ) -> Result<(), EvalError> {
        if truth.len() != predicted.len() {
            return Err(EvalError::LengthMismatch {
                what: "labels and predictions",
                left: truth.len(),
                right: predicted.len(),
            });
        }
        if truth.len() >= INDEX as usize {
            return Err(EvalError::Invalid {
                what: "bootstrap",
                problem: format!("{} samples exceed its limit of {INDEX}", truth.len()),
            });
        }
        if let Some(&label) = truth.iter().chain(predicted).find(|&&l| l >= num_classes) {
            return Err(EvalError::LabelOutOfRange { label, num_classes });
        }
        let scores = scores.filter(|_| self.roc_auc.is_some());
        if let Some(s) = scores {
            crate::curves::check_rows(truth, s, num_classes)?;
        }
        // The AUC's interval costs one pass per class and resample: kept to tasks of at most
        // AUC_INTERVAL_LIMIT samples × classes.
        let auc_scores = scores.filter(|_| truth.len() * num_classes <= AUC_INTERVAL_LIMIT);
        let auc: Vec<Auc> = match auc_scores {
            Some(s) => (0..num_classes)
                .filter_map(|c| Auc::new(truth, s, num_classes, c))
                .collect(),
            None => Vec::new(),
        };
        let ece = match (scores, &self.calibration) {
            (Some(s), Some(cal)) if cal.bins < usize::from(u8::MAX) => {
                let edges = bin_edges(cal.bins);
                let (slots, gaps) = (s.chunks(num_classes).zip(truth))
                    .map(|(row, &y)| {
                        let (top, confidence) = top_label(row);
                        let hit = f64::from(u8::from(top == y));
                        (slot(&edges, confidence) as u8, hit - confidence)
                    })
                    .unzip();
                Some((cal.bins, slots, gaps))
            }
            _ => None,
        };
        let samples = Samples {
            num_classes,
            truth: compact(truth),
            predicted: compact(predicted),
            labels: &self.labels,
            zero_division: self.zero_division,
            ece,
            auc,
        };
        let per = self.labels.len();
        let has_auc = !samples.auc.is_empty();
        let stats = 4 + 2 * per + usize::from(has_auc) + usize::from(samples.ece.is_some());
        let found = bootstrap.intervals(truth.len(), stats, |counts, out| {
            samples.statistics(counts, out)
        });
        let mut extra = found[4 + 2 * per..].iter().copied();
        self.intervals = Some(Intervals {
            bootstrap,
            accuracy: found[0],
            balanced_accuracy: found[1],
            macro_f1: found[2],
            weighted_f1: found[3],
            precision: found[4..4 + per].to_vec(),
            recall: found[4 + per..4 + 2 * per].to_vec(),
            roc_auc: if has_auc { extra.next() } else { None },
            ece: if samples.ece.is_some() {
                extra.next()
            } else {
                None
            },
        });
        Ok(())
    }
}

impl Intervals {
    /// The `"ci"` object of `eval.json`: `level`, `resamples`, `seed`, then `[low, high]` per
    /// figure; `precision` and `recall` keyed as the report's per-class entries (`keys`).
    pub fn to_json(&self, keys: &[String]) -> Value {
        let per_class = |v: &[Interval]| -> Map<String, Value> {
            keys.iter()
                .cloned()
                .zip(v.iter().map(|i| json!(i)))
                .collect()
        };
        let mut doc = Map::new();
        doc.insert("method".into(), json!("percentile bootstrap"));
        doc.insert("level".into(), json!(LEVEL));
        doc.insert("resamples".into(), json!(self.bootstrap.resamples));
        doc.insert("seed".into(), json!(self.bootstrap.seed));
        doc.insert("accuracy".into(), json!(self.accuracy));
        doc.insert("balanced_accuracy".into(), json!(self.balanced_accuracy));
        doc.insert("macro_f1".into(), json!(self.macro_f1));
        doc.insert("weighted_f1".into(), json!(self.weighted_f1));
        doc.insert(
            "precision".into(),
            Value::Object(per_class(&self.precision)),
        );
        doc.insert("recall".into(), Value::Object(per_class(&self.recall)));
        if let Some(i) = self.roc_auc {
            doc.insert("roc_auc".into(), json!(i));
        }
        if let Some(i) = self.ece {
            doc.insert("ece".into(), json!(i));
        }
        Value::Object(doc)
    }
}

#[cfg(test)]
#[path = "tests/intervals.rs"]
mod tests;
