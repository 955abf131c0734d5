//! How one training batch's loss and gradients are computed: on the model's device, or split
//! over several devices ([`crate::data_parallel`]) — the way burn-train separates its single-
//! and multi-device training strategies. The epoch loop ([`crate::fit`]) does the rest (the
//! optimizer step, accumulation, metrics, callbacks) the same way for both.

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::GradientsParams;
use kiln_data::Batch;
use kiln_models::ImageClassifier;

use crate::data_parallel::{BatchGrads, Replicas};
use crate::error::TrainError;
use crate::soft_targets::SoftCrossEntropy;

/// Computes a training batch's loss, logits and gradients for the model as it stands.
pub(crate) trait StepStrategy<M> {
    /// The gradients of `batch` (the dataset rows `indices`) for `model`, the loss divided by
    /// `group_len` (the batches whose gradients are summed into one optimizer step); `seed`
    /// seeds the batch's random draws (dropout) on every device it runs on.
    fn gradients(
        &mut self,
        model: &M,
        batch: Batch,
        indices: &[usize],
        group_len: usize,
        seed: u64,
    ) -> Result<BatchGrads, TrainError>;
}

/// The whole batch on the model's device: cross-entropy (class-weighted, label-smoothed as
/// configured; against a mixed batch's soft targets when it has them) or, with a one-logit
/// head, binary cross-entropy with `pos_weight`.
pub(crate) struct OneDevice {
    pub(crate) loss: CrossEntropyLoss,
    pub(crate) soft: SoftCrossEntropy,
    pub(crate) binary_pos_weight: Option<f64>,
}

impl<M: ImageClassifier> StepStrategy<M> for OneDevice {
    fn gradients(
        &mut self,
        model: &M,
        batch: Batch,
        _indices: &[usize],
        group_len: usize,
        _seed: u64,
    ) -> Result<BatchGrads, TrainError> {
        let logits = crate::binary::class_logits(model.forward(batch.images));
        let targets = batch.targets;
        let loss = match (self.binary_pos_weight, batch.soft_targets) {
            (Some(w), _) => crate::binary::binary_loss(logits.clone(), targets, w),
            (None, Some(soft)) => self.soft.forward(logits.clone(), soft),
            (None, None) => self.loss.forward(logits.clone(), targets),
        };
        let value = loss.clone().into_scalar::<f64>();
        let loss = match group_len {
            1 => loss,
            n => loss.div_scalar(n as f64),
        };
        Ok(BatchGrads {
            loss: value,
            logits: logits.detach(),
            grads: GradientsParams::from_grads(loss.backward(), model),
        })
    }
}

/// The batch split over replicas of the model, one per device, their gradients summed on the
/// first ([`Replicas`]). Each shard's loss is weighted by its share of the batch's (class)
/// weight, so the step is the one-device step.
pub(crate) struct DataParallel<M> {
    pub(crate) replicas: Replicas<M>,
    /// The training split's labels, by dataset row.
    pub(crate) labels: Vec<u8>,
    /// The loss's class weights, if any.
    pub(crate) class_weights: Option<Vec<f32>>,
}

impl<M: ImageClassifier + 'static> StepStrategy<M> for DataParallel<M> {
    fn gradients(
        &mut self,
        model: &M,
        batch: Batch,
        indices: &[usize],
        group_len: usize,
        seed: u64,
    ) -> Result<BatchGrads, TrainError> {
        let weight = |&i: &usize| {
            let class = usize::from(self.labels[i]);
            self.class_weights
                .as_ref()
                .map_or(1.0, |w| f64::from(w[class]))
        };
        let sample_weights: Vec<f64> = indices.iter().map(weight).collect();
        self.replicas.backward(
            model,
            batch.images,
            batch.targets,
            &sample_weights,
            group_len,
            seed,
        )
    }
}
