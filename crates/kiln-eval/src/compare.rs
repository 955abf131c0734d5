//! Is run B really better than run A? Two models' predictions on the same test samples,
//! compared as paired data:
//! - **McNemar's exact test** on the disagreements: `b` samples only A gets right, `c` only B
//!   does; under "equally accurate" each disagreement is a fair coin, so the two-sided p-value
//!   is `min(1, 2·P[Binomial(b + c, ½) ≤ min(b, c)])` (statsmodels' `mcnemar(exact=True)`,
//!   scipy's `binomtest`).
//! - **Paired bootstrap** intervals of B − A in accuracy, macro F1 and each class's recall: both
//!   runs scored on the same resample ([`crate::bootstrap`]).
//!
//! A difference is called significant when its interval excludes 0 (and, for accuracy, when
//! McNemar's p is below 0.05 as well); several per-class intervals at 95% each will exclude 0 by
//! chance now and then, which the verdict says.

use serde::Serialize;
use serde_json::{Value, json};

use crate::bootstrap::{Bootstrap, Interval};
use crate::class_counts::{ClassCounts, compact};
use crate::confusion::ConfusionMatrix;
use crate::error::EvalError;
use crate::metrics::{self, ZeroDivision};

/// The significance level of the verdict.
pub const ALPHA: f64 = 0.05;

/// One figure of both runs and the interval of their difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    /// Run A's value.
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// B − A.
    pub difference: f64,
    /// The paired bootstrap interval of B − A.
    pub interval: Interval,
}

impl Paired {
    /// Whether the interval of the difference is defined and excludes 0.
    pub fn significant(&self) -> bool {
        let i = &self.interval;
        i.low.is_finite() && i.high.is_finite() && !i.contains(0.0)
    }
}

/// Two runs compared on the same samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The runs' names (paths, as given).
    pub names: [String; 2],
    /// Samples compared.
    pub samples: usize,
    /// Samples only A classifies right.
    pub only_a: u64,
    /// Samples only B classifies right.
    pub only_b: u64,
    /// McNemar's exact two-sided p-value.
    pub mcnemar_p: f64,
    /// Accuracy.
    pub accuracy: Paired,
    /// Macro-averaged F1 over the labels either run predicts or the truth holds.
    pub macro_f1: Paired,
    /// Recall of each class present in the truth: its name and figures.
    pub recall: Vec<(String, Paired)>,
    /// The resampling.
    pub bootstrap: Bootstrap,
}

/// McNemar's exact two-sided p-value for `b` and `c` discordant pairs.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    // P[X ≤ m] for X ~ Binomial(n, ½), summed in log space: C(n, i+1) = C(n, i)·(n − i)/(i + 1).
    let m = b.min(c);
    let half_n = n as f64 * std::f64::consts::LN_2;
    let (mut log_c, mut log_sum) = (0.0f64, f64::NEG_INFINITY);
    for i in 0..=m {
        if i > 0 {
            log_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        let t = log_c - half_n;
        let hi = log_sum.max(t);
        log_sum = hi + ((log_sum - hi).exp() + (t - hi).exp()).ln();
    }
    (2.0 * log_sum.exp()).min(1.0)
}

/// Compares predictions `a` and `b` of the same `truth` (`num_classes` classes named
/// `class_names`) by McNemar's test and the paired bootstrap.
pub fn compare(
    names: [String; 2],
    truth: &[usize],
    a: &[usize],
    b: &[usize],
    class_names: &[String],
    bootstrap: Bootstrap,
) -> Result<Comparison, EvalError> {
    let k = class_names.len();
    for (what, other) in [
        ("labels and run A's predictions", a),
        ("labels and run B's", b),
    ] {
        if other.len() != truth.len() {
            return Err(EvalError::LengthMismatch {
                what,
                left: truth.len(),
                right: other.len(),
            });
        }
    }
    if truth.is_empty() {
        return Err(EvalError::Empty);
    }
    let cm_a = ConfusionMatrix::from_labels(truth, a, k)?;
    let cm_b = ConfusionMatrix::from_labels(truth, b, k)?;
    let mut labels = cm_a.present_labels();
    labels.extend(cm_b.present_labels());
    labels.sort_unstable();
    labels.dedup();
    let recalled: Vec<usize> = (0..k).filter(|&c| cm_a.support(c) > 0).collect();
    let (t, pa, pb) = (compact(truth), compact(a), compact(b));
    let figures = |ca: &ClassCounts, cb: &ClassCounts, out: &mut [f64]| {
        out[0] = cb.accuracy() - ca.accuracy();
        out[1] =
            cb.macro_f1(&labels, ZeroDivision::Zero) - ca.macro_f1(&labels, ZeroDivision::Zero);
        let (ra, rb) = (
            ca.per_class(&recalled, ZeroDivision::Nan),
            cb.per_class(&recalled, ZeroDivision::Nan),
        );
        for (j, (x, y)) in ra.iter().zip(&rb).enumerate() {
            out[2 + j] = y.recall - x.recall;
        }
    };
    let counts = |p: &[u32], weights: &[u8]| {
        let w = weights.iter().map(|&w| u64::from(w));
        ClassCounts::new(&t, p, k, w)
    };
    let mut point = vec![0.0; 2 + recalled.len()];
    let ones = vec![1u8; truth.len()];
    figures(&counts(&pa, &ones), &counts(&pb, &ones), &mut point);
    let intervals = bootstrap.intervals(truth.len(), point.len(), |weights, out| {
        figures(&counts(&pa, weights), &counts(&pb, weights), out);
    });
    let (only_a, only_b) = (truth.iter().zip(a).zip(b)).fold((0, 0), |(oa, ob), ((t, x), y)| {
        (
            oa + u64::from(x == t && y != t),
            ob + u64::from(y == t && x != t),
        )
    });
    let paired = |j: usize, va: f64, vb: f64| Paired {
        a: va,
        b: vb,
        difference: point[j],
        interval: intervals[j],
    };
    let rows = |cm| metrics::per_class(cm, &recalled, ZeroDivision::Nan);
    let f1 = |cm| metrics::macro_average(&metrics::per_class(cm, &labels, ZeroDivision::Zero)).f1;
    let recall = (recalled
        .iter()
        .zip(rows(&cm_a).iter().zip(rows(&cm_b)))
        .enumerate())
    .map(|(j, (&c, (x, y)))| (class_names[c].clone(), paired(2 + j, x.recall, y.recall)))
    .collect();
    Ok(Comparison {
        names,
        samples: truth.len(),
        only_a,
        only_b,
        mcnemar_p: mcnemar_exact(only_a, only_b),
        accuracy: paired(0, metrics::accuracy(&cm_a), metrics::accuracy(&cm_b)),
        macro_f1: paired(1, f1(&cm_a), f1(&cm_b)),
        recall,
        bootstrap,
    })
}

/// A p-value as text: four decimals, or two significant digits below 0.0001.
pub(crate) fn p_text(p: f64) -> String {
    match p < 1e-4 {
        true => format!("{p:.1e}"),
        false => format!("{p:.4}"),
    }
}

/// `+1.23` points from a fraction.
fn points(x: f64) -> String {
    format!("{:+.2}", 100.0 * x)
}

impl Comparison {
    /// The sentences that say what is and is not significant.
    pub fn verdict(&self) -> Vec<String> {
        let acc = &self.accuracy;
        let mut out = Vec::new();
        let what = format!(
            "B − A = {} points of accuracy [{}, {}], McNemar p = {} ({} vs {} samples only \
             one run gets right)",
            points(acc.difference),
            points(acc.interval.low),
            points(acc.interval.high),
            p_text(self.mcnemar_p),
            self.only_b,
            self.only_a
        );
        out.push(
            match (
                acc.significant() && self.mcnemar_p < ALPHA,
                acc.difference > 0.0,
            ) {
                (true, true) => format!("B is significantly more accurate than A: {what}."),
                (true, false) => format!("B is significantly less accurate than A: {what}."),
                (false, _) => format!(
                    "No significant difference in accuracy at the {:.0}% level: {what}.",
                    100.0 * ALPHA
                ),
            },
        );
        let f1 = &self.macro_f1;
        out.push(format!(
            "Macro F1: B − A = {} points [{}, {}]: {}.",
            points(f1.difference),
            points(f1.interval.low),
            points(f1.interval.high),
            match f1.significant() {
                true => "significant",
                false => "not significant",
            }
        ));
        let differing: Vec<String> = (self.recall.iter())
            .filter(|(_, p)| p.significant())
            .map(|(name, p)| {
                format!(
                    "`{name}` {} [{}, {}]",
                    points(p.difference),
                    points(p.interval.low),
                    points(p.interval.high)
                )
            })
            .collect();
        out.push(match differing.is_empty() {
            true => format!(
                "No class's recall differs significantly ({} classes).",
                self.recall.len()
            ),
            false => format!(
                "Recall differs significantly for {} of {} classes: {} (with {} intervals at 95%, \
                 about {:.1} would exclude 0 by chance alone).",
                differing.len(),
                self.recall.len(),
                differing.join(", "),
                self.recall.len(),
                ALPHA * self.recall.len() as f64
            ),
        });
        out
    }

    /// The table's rows, in order: accuracy, macro F1, then each class's recall.
    pub fn rows(&self) -> Vec<(String, &Paired)> {
        let mut rows = vec![
            ("accuracy".to_string(), &self.accuracy),
            ("macro F1".to_string(), &self.macro_f1),
        ];
        rows.extend((self.recall.iter()).map(|(name, p)| (format!("recall {name}"), p)));
        rows
    }

    /// The comparison as text: both runs' figures, the differences with intervals, the verdict.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "A: {}\nB: {}\n{} samples; paired bootstrap: {} resamples, seed {}\n\n",
            self.names[0],
            self.names[1],
            self.samples,
            self.bootstrap.resamples,
            self.bootstrap.seed
        );
        let rows = self.rows();
        let width = (rows.iter().map(|(n, _)| n.chars().count()))
            .chain([14])
            .max()
            .unwrap_or(14);
        out.push_str(&format!(
            "{:<width$}  {:>8} {:>8} {:>9}  95% interval of B − A\n",
            "", "A", "B", "B − A"
        ));
        let line = |name: &str, p: &Paired| {
            format!(
                "{name:<width$}  {:>8.4} {:>8.4} {:>+9.4}  {:.4}{}\n",
                p.a,
                p.b,
                p.difference,
                p.interval,
                if p.significant() { "  *" } else { "" }
            )
        };
        for (name, p) in rows {
            out.push_str(&line(&name, p));
        }
        out.push_str(&format!(
            "\nMcNemar's exact test: only A right {}, only B right {}, p = {}\n\n",
            self.only_a,
            self.only_b,
            p_text(self.mcnemar_p)
        ));
        for sentence in self.verdict() {
            out.push_str(&sentence);
            out.push('\n');
        }
        out
    }

    /// The comparison as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "**A**: `{}` · **B**: `{}` · {} samples\n\n| | A | B | B − A | 95% interval |\n\
             |---|---:|---:|---:|---|\n",
            self.names[0], self.names[1], self.samples
        );
        let row = |name: &str, p: &Paired| {
            format!(
                "| {} | {:.4} | {:.4} | {:+.4} | {:.4}{} |\n",
                name.replace('|', "\\|"),
                p.a,
                p.b,
                p.difference,
                p.interval,
                if p.significant() { " *" } else { "" }
            )
        };
        for (name, p) in self.rows() {
            out.push_str(&row(&name, p));
        }
        out.push_str(&format!(
            "\nMcNemar's exact test: b = {} (only A right), c = {} (only B right), p = {}\n\n",
            self.only_a,
            self.only_b,
            p_text(self.mcnemar_p)
        ));
        for sentence in self.verdict() {
            out.push_str(&format!("- {sentence}\n"));
        }
        out
    }

    /// The comparison as JSON: `a`, `b`, `samples`, `mcnemar` (`b`, `c`, `p_value`),
    /// `accuracy` and `macro_f1` (`a`, `b`, `difference`, `interval`), `recall` by class,
    /// `bootstrap`, `verdict`.
    pub fn to_json(&self) -> Value {
        let recall: serde_json::Map<String, Value> = (self.recall.iter())
            .map(|(name, p)| (name.clone(), json!(p)))
            .collect();
        json!({
            "a": self.names[0],
            "b": self.names[1],
            "samples": self.samples,
            "mcnemar": {"b": self.only_a, "c": self.only_b, "p_value": self.mcnemar_p},
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "recall": recall,
            "bootstrap": self.bootstrap,
            "verdict": self.verdict(),
        })
    }
}

#[cfg(test)]
#[path = "tests/compare.rs"]
mod tests;
