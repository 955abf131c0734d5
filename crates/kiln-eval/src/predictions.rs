//! Per-sample predictions: true label, predicted label and the class probabilities.

use std::io::Write;
use std::path::Path;

use crate::error::EvalError;

/// Every evaluated sample's label and softmax probabilities, in evaluation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predictions {
    num_classes: usize,
    labels: Vec<usize>,
    probs: Vec<f32>,
    /// With two classes: class 1 is predicted when its probability is at least this.
    threshold: Option<f64>,
}

impl Predictions {
    /// An empty collection for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            ..Self::default()
        }
    }

    /// Appends a batch: `labels.len()` samples with `num_classes` probabilities each.
    pub fn extend(&mut self, labels: &[usize], probs: &[f32]) -> Result<(), EvalError> {
        if probs.len() != labels.len() * self.num_classes {
            return Err(EvalError::LengthMismatch {
                what: "probabilities and labels × classes",
                left: probs.len(),
                right: labels.len() * self.num_classes,
            });
        }
        self.labels.extend_from_slice(labels);
        self.probs.extend_from_slice(probs);
        Ok(())
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether no samples were added.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The probabilities of sample `i`.
    pub fn scores(&self, i: usize) -> &[f32] {
        &self.probs[i * self.num_classes..(i + 1) * self.num_classes]
    }

    /// The same predictions decided by a threshold on class 1's probability (two classes):
    /// class 1 when `score_1 >= threshold`, else class 0.
    pub fn with_threshold(self, threshold: f64) -> Result<Self, EvalError> {
        match self.num_classes {
            2 => Ok(Self {
                threshold: Some(threshold),
                ..self
            }),
            k => Err(EvalError::LengthMismatch {
                what: "classes of a thresholded (binary) decision",
                left: k,
                right: 2,
            }),
        }
    }

    /// The predicted label of sample `i`: the first class of highest probability, or with a
    /// threshold ([`with_threshold`](Self::with_threshold)) class 1 when its probability
    /// reaches it.
    pub fn predicted(&self, i: usize) -> usize {
        let s = self.scores(i);
        if let Some(t) = self.threshold {
            return usize::from(f64::from(s[1]) >= t);
        }
        (0..s.len()).fold(0, |best, c| if s[c] > s[best] { c } else { best })
    }

    /// Every sample's predicted label ([`predicted`](Self::predicted)).
    pub fn predictions(&self) -> Vec<usize> {
        (0..self.len()).map(|i| self.predicted(i)).collect()
    }

    /// Number of classes (scores per sample).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The true labels, in order.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// All probabilities as `f64`, row-major.
    pub fn scores_f64(&self) -> Vec<f64> {
        self.probs.iter().map(|&p| f64::from(p)).collect()
    }

    /// Writes `index,label,prediction,score_0,…,score_{K-1}`, probabilities at full (round-trip)
    /// precision.
    pub fn write_csv(&self, path: &Path) -> Result<(), EvalError> {
        let io = |source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        let mut header = String::from("index,label,prediction");
        for c in 0..self.num_classes {
            header.push_str(&format!(",score_{c}"));
        }
        writeln!(w, "{header}").map_err(io)?;
        for (i, label) in self.labels.iter().enumerate() {
            write!(w, "{i},{label},{}", self.predicted(i)).map_err(io)?;
            for p in self.scores(i) {
                write!(w, ",{p}").map_err(io)?;
            }
            writeln!(w).map_err(io)?;
        }
        w.flush().map_err(io)
    }
}

#[cfg(test)]
#[path = "tests/predictions.rs"]
mod tests;
