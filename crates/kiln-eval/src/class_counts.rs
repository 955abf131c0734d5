//! Per-class counts of a weighted sample — true positives, predictions, true samples — and the
//! figures of [`crate::metrics`] computed from them in O(classes), for the bootstrap: a resample
//! needs no `K × K` confusion matrix (10,000 classes would make it 800 MB).

use crate::metrics::{self, Scores, StatScores, ZeroDivision};

/// Weighted true positives, predictions and true samples of each class.
pub(crate) struct ClassCounts {
    tp: Vec<u64>,
    predicted: Vec<u64>,
    support: Vec<u64>,
}

impl ClassCounts {
    /// The counts of `truth` and `predicted` (labels below `num_classes`), sample `i` counted
    /// `weights[i]` times.
    pub(crate) fn new(
        truth: &[u32],
        predicted: &[u32],
        num_classes: usize,
        weights: impl Iterator<Item = u64>,
    ) -> Self {
        let mut c = Self {
            tp: vec![0; num_classes],
            predicted: vec![0; num_classes],
            support: vec![0; num_classes],
        };
        for ((&t, &p), w) in truth.iter().zip(predicted).zip(weights) {
            let (t, p) = (t as usize, p as usize);
            c.support[t] += w;
            c.predicted[p] += w;
            c.tp[t] += w * u64::from(t == p);
        }
        c
    }

    fn stat(&self, c: usize) -> StatScores {
        StatScores {
            tp: self.tp[c],
            fp: self.predicted[c] - self.tp[c],
            fn_: self.support[c] - self.tp[c],
        }
    }

    /// [`metrics::accuracy`].
    pub(crate) fn accuracy(&self) -> f64 {
        self.tp.iter().sum::<u64>() as f64 / self.support.iter().sum::<u64>() as f64
    }

    /// [`metrics::balanced_accuracy`]: mean recall over the classes that occur.
    pub(crate) fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = (0..self.tp.len())
            .filter(|&c| self.support[c] > 0)
            .map(|c| self.tp[c] as f64 / self.support[c] as f64)
            .collect();
        recalls.iter().sum::<f64>() / recalls.len() as f64
    }

    /// [`metrics::per_class`] for `labels`.
    pub(crate) fn per_class(&self, labels: &[usize], zd: ZeroDivision) -> Vec<Scores> {
        (labels.iter())
            .map(|&c| {
                let s = self.stat(c);
                Scores {
                    precision: s.precision(zd),
                    recall: s.recall(zd),
                    f1: s.f_beta(1.0, zd),
                    support: s.tp + s.fn_,
                }
            })
            .collect()
    }

    /// The macro-averaged F1 over `labels`.
    pub(crate) fn macro_f1(&self, labels: &[usize], zd: ZeroDivision) -> f64 {
        metrics::macro_average(&self.per_class(labels, zd)).f1
    }
}

/// Labels as `u32` (the bootstrap's compact copy).
pub(crate) fn compact(labels: &[usize]) -> Vec<u32> {
    labels.iter().map(|&l| l as u32).collect()
}
