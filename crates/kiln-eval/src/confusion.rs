//! The confusion matrix: the counts every classification metric is computed from.

use serde::{Deserialize, Serialize};

/// What a normalized confusion matrix divides by (scikit-learn's `normalize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Each row by its sum: rows are the recall distribution of each true class.
    True,
    /// Each column by its sum: columns are the precision distribution of each prediction.
    Pred,
    /// Everything by the total.
    All,
}

/// A `K × K` count matrix, rows = true label, columns = predicted label (scikit-learn's
/// `confusion_matrix` orientation).
///
/// Accumulators only add counts ([`add`](Self::add), [`merge`](Self::merge), or
/// [`update`](Self::update) from logits on a device); every score is a pure function of the
/// counts (see [`crate::metrics`]), so pooled epoch metrics never average per-batch values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    num_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero matrix over labels `0..num_classes`.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    /// Counts pairs of `(true, predicted)` labels; both must be below `num_classes`.
    pub fn from_labels(
        y_true: &[usize],
        y_pred: &[usize],
        num_classes: usize,
    ) -> Result<Self, crate::EvalError> {
        if y_true.len() != y_pred.len() {
            return Err(crate::EvalError::LengthMismatch {
                what: "y_true and y_pred",
                left: y_true.len(),
                right: y_pred.len(),
            });
        }
        let mut cm = Self::new(num_classes);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            cm.add(t, p, 1)?;
        }
        Ok(cm)
    }

    /// Adds `n` samples of true label `t` predicted as `p`.
    pub fn add(&mut self, t: usize, p: usize, n: u64) -> Result<(), crate::EvalError> {
        let k = self.num_classes;
        if t >= k || p >= k {
            return Err(crate::EvalError::LabelOutOfRange {
                label: t.max(p),
                num_classes: k,
            });
        }
        self.counts[t * k + p] += n;
        Ok(())
    }

    /// Adds another matrix's counts (e.g. from another batch, worker or device).
    pub fn merge(&mut self, other: &Self) -> Result<(), crate::EvalError> {
        if other.num_classes != self.num_classes {
            return Err(crate::EvalError::LengthMismatch {
                what: "confusion matrices' class counts",
                left: self.num_classes,
                right: other.num_classes,
            });
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    /// Sets every count to zero.
    pub fn reset(&mut self) {
        self.counts.fill(0);
    }

    /// Number of classes `K`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Samples of true label `t` predicted as `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.num_classes + p]
    }

    /// Row `t`: how samples of true label `t` were predicted.
    pub fn row(&self, t: usize) -> &[u64] {
        &self.counts[t * self.num_classes..(t + 1) * self.num_classes]
    }

    /// Samples whose true label is `t` (the class's support).
    pub fn support(&self, t: usize) -> u64 {
        self.row(t).iter().sum()
    }

    /// Samples predicted as `p`.
    pub fn predicted(&self, p: usize) -> u64 {
        (0..self.num_classes).map(|t| self.get(t, p)).sum()
    }

    /// All samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Correctly classified samples (the trace).
    pub fn correct(&self) -> u64 {
        (0..self.num_classes).map(|i| self.get(i, i)).sum()
    }

    /// Labels that occur as a true or a predicted label, sorted: scikit-learn's default
    /// `labels=unique_labels(y_true, y_pred)`.
    pub fn present_labels(&self) -> Vec<usize> {
        (0..self.num_classes)
            .filter(|&c| self.support(c) + self.predicted(c) > 0)
            .collect()
    }

    /// The matrix restricted to `labels`, divided as `normalize` says; a 0/0 share is 0
    /// (scikit-learn's `confusion_matrix(normalize=…)`).
    pub fn normalized(&self, labels: &[usize], normalize: Normalize) -> Vec<Vec<f64>> {
        let rows = self.rows_for(labels);
        let row_sums: Vec<u64> = rows.iter().map(|r| r.iter().sum()).collect();
        let col_sums: Vec<u64> = (0..labels.len())
            .map(|j| rows.iter().map(|r| r[j]).sum())
            .collect();
        let total: u64 = row_sums.iter().sum();
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, &c)| {
                        let den = match normalize {
                            Normalize::True => row_sums[i],
                            Normalize::Pred => col_sums[j],
                            Normalize::All => total,
                        };
                        if den == 0 { 0.0 } else { c as f64 / den as f64 }
                    })
                    .collect()
            })
            .collect()
    }

    /// The matrix restricted to `labels` (rows and columns in that order), as nested rows.
    pub fn rows_for(&self, labels: &[usize]) -> Vec<Vec<u64>> {
        labels
            .iter()
            .map(|&t| labels.iter().map(|&p| self.get(t, p)).collect())
            .collect()
    }
}

#[cfg(test)]
#[path = "tests/confusion.rs"]
mod tests;
