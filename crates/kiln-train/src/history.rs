//! Pooled per-epoch metrics: sums over samples, never means of batch means.

use kiln_eval::{ConfusionMatrix, metrics};
use serde::{Deserialize, Serialize};

/// Which data an epoch's metrics describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The training split, measured while training (dropout on, weights moving).
    Train,
    /// The held-out validation split, measured after the epoch.
    Valid,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Train => "train",
            Self::Valid => "valid",
        })
    }
}

/// Metrics of one phase of one epoch. Serialized with every float as a decimal string that
/// parses back to the same bits (JSON numbers do not promise that, nor NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Train or validation.
    pub phase: Phase,
    /// Σ(per-sample loss) / Σ(samples).
    #[serde(with = "exact_f64")]
    pub loss: f64,
    /// Σ(correct) / Σ(samples).
    #[serde(with = "exact_f64")]
    pub accuracy: f64,
    /// Macro F1 over the labels present (scikit-learn, zero_division = 0).
    #[serde(with = "exact_f64")]
    pub macro_f1: f64,
    /// Learning rate at the epoch's last step.
    #[serde(with = "exact_f64")]
    pub lr: f64,
    /// Wall-clock seconds the phase took.
    #[serde(with = "exact_f64")]
    pub seconds: f64,
    /// Samples seen.
    pub samples: usize,
    /// The phase's confusion counts, for any further metric ([`kiln_eval::MetricSpec`]).
    pub confusion: ConfusionMatrix,
}

/// Every epoch's metrics so far, in order.
pub type History = Vec<EpochMetrics>;

/// Gathers a phase's loss and confusion counts batch by batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseAccumulator {
    #[serde(with = "exact_f64")]
    loss_sum: f64,
    seen: usize,
    confusion: ConfusionMatrix,
}

impl PhaseAccumulator {
    /// An empty accumulator for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            loss_sum: 0.0,
            seen: 0,
            confusion: ConfusionMatrix::new(num_classes),
        }
    }

    /// Adds a batch of `batch_size` samples whose mean loss is `mean_loss`; the predictions are
    /// added to the confusion counts separately via [`confusion_mut`](Self::confusion_mut).
    pub fn add_loss(&mut self, mean_loss: f64, batch_size: usize) {
        self.loss_sum += mean_loss * batch_size as f64;
        self.seen += batch_size;
    }

    /// The confusion counts, for [`ConfusionMatrix::update`].
    pub fn confusion_mut(&mut self) -> &mut ConfusionMatrix {
        &mut self.confusion
    }

    /// The confusion counts so far.
    pub fn confusion(&self) -> &ConfusionMatrix {
        &self.confusion
    }

    /// Samples so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Pooled loss so far.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.seen as f64
    }

    /// Pooled accuracy so far.
    pub fn accuracy(&self) -> f64 {
        metrics::accuracy(&self.confusion)
    }

    /// The phase's metrics.
    pub fn finish(&self, epoch: usize, phase: Phase, lr: f64, seconds: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            phase,
            loss: self.loss(),
            accuracy: self.accuracy(),
            macro_f1: metrics::macro_f1(&self.confusion),
            lr,
            seconds,
            samples: self.seen,
            confusion: self.confusion.clone(),
        }
    }
}

/// Floats as shortest round-trip decimal strings (`f64`'s `Display`, parsed exactly by
/// `str::parse`), so a saved training state restores every value to the bit.
pub(crate) mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("not a number: {text:?}")))
    }
}
