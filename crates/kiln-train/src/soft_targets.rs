//! Cross-entropy against soft targets — a Mixup/CutMix batch's ([`kiln_data::mix`]) — as
//! PyTorch's `cross_entropy(logits, targets, weight, label_smoothing)` computes it for
//! probability targets: the targets smoothed to `(1 − α)·t + α/K`, each sample's loss
//! `−Σ_c w_c · t_c · log softmax(z)_c`, and the mean over the batch's *samples* (with class
//! weights PyTorch divides by the number of samples here, not by the sum of the weights as it
//! does for hard labels).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

/// The loss's settings, with the class weights on the loss's device.
#[derive(Debug, Clone)]
pub(crate) struct SoftCrossEntropy {
    weights: Option<Tensor<2>>,
    smoothing: Option<f32>,
}

impl SoftCrossEntropy {
    /// The loss with per-class `weights` and label smoothing `smoothing`, on `device`.
    pub(crate) fn new(weights: Option<&[f32]>, smoothing: Option<f32>, device: &Device) -> Self {
        let weights = weights.map(|w| {
            Tensor::<1>::from_data(TensorData::new(w.to_vec(), [w.len()]), device).unsqueeze()
        });
        Self { weights, smoothing }
    }

    /// The mean loss of `logits` against `targets`.
    ///
    /// # Shapes
    /// - logits: `[batch, classes]`
    /// - targets: `[batch, classes]`, rows summing to 1
    /// - output: `[1]`
    pub(crate) fn forward(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        let [batch, classes] = logits.dims();
        let targets = match self.smoothing {
            Some(a) if a > 0.0 => targets.mul_scalar(1.0 - a).add_scalar(a / classes as f32),
            _ => targets,
        };
        let mut terms = targets * log_softmax(logits, 1);
        if let Some(w) = &self.weights {
            terms = terms * w.clone();
        }
        terms.sum().div_scalar(batch.max(1) as f32).neg()
    }
}

#[cfg(test)]
#[path = "tests/soft_targets.rs"]
mod tests;
