//! Data parallelism over several devices, the way Burn's multi-device training strategy does
//! it (burn-train's `MultiDevice` with the optimizer on the main device): each batch is split
//! into one shard per device, a replica of the model ([`Module::fork`]) runs forward and
//! backward on each in its own thread, the gradients are moved to the main device
//! ([`GradientsParams::to_device`]) and summed, and one optimizer step updates the main model,
//! which the next batch forks again. Replicas on one device (the CPU backends' only device)
//! take turns instead of running in threads, so the run stays deterministic.
//!
//! Each shard's mean loss is weighted by its share of the batch (its share of the class weight
//! when the loss is class-weighted), so the summed gradient is the gradient of the batch's mean
//! loss: the same step as on one device, up to float summation order. Batch normalization
//! normalizes each shard by its own statistics (as PyTorch's DDP without `SyncBatchNorm`).

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor};
use kiln_models::ImageClassifier;

use crate::error::TrainError;

/// One batch's loss, logits and gradients.
pub(crate) struct BatchGrads {
    /// The batch's mean loss.
    pub loss: f64,
    /// Logits `[batch, classes]` on the main device, detached.
    pub logits: Tensor<2>,
    /// Gradients of `loss / group` on the main device.
    pub grads: GradientsParams,
}

/// Shard sizes of a batch of `n` over `k` devices: as equal as possible, the first ones larger.
pub(crate) fn shard_sizes(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n).max(1);
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

/// Forward and backward of one batch (`images` `[batch, c, h, w]` and `targets` `[batch]` on
/// the main device) split over `devices` (autodiff devices, one loss function each), each
/// shard's weight in the batch's mean loss given by `weights` (one per sample: its class weight,
/// or 1), the loss divided by `group` (gradient accumulation).
pub(crate) fn backward<M: ImageClassifier>(
    model: &M,
    images: Tensor<4>,
    targets: Tensor<1, Int>,
    weights: &[f64],
    devices: &[(Device, CrossEntropyLoss)],
    group: usize,
) -> Result<BatchGrads, TrainError> {
    let main = images.device();
    let total: f64 = weights.iter().sum();
    let mut start = 0;
    let shards: Vec<_> = shard_sizes(weights.len(), devices.len())
        .into_iter()
        .zip(devices)
        .map(|(len, (device, loss_fn))| {
            let range = start..start + len;
            start += len;
            let share = weights[range.clone()].iter().sum::<f64>() / total;
            let x = images.clone().slice(range.clone()).to_device(device);
            let y = targets.clone().slice(range).to_device(device);
            (model.clone().fork(device), x, y, share, loss_fn)
        })
        .collect();
    let work = |(replica, x, y, share, loss_fn): (
        M,
        Tensor<4>,
        Tensor<1, Int>,
        f64,
        &CrossEntropyLoss,
    )| {
        let logits = replica.forward(x);
        let loss = loss_fn.forward(logits.clone(), y);
        let value = loss.clone().into_scalar::<f64>();
        let scaled = loss.mul_scalar(share).div_scalar(group as f64);
        let grads = GradientsParams::from_grads(scaled.backward(), &replica);
        (value * share, logits.detach(), grads, replica)
    };
    // Replicas of one device take turns: a CPU backend already spreads each operation over
    // every core, and its random stream (dropout) is one per process, which threads would draw
    // from in an order that changes from run to run.
    let one_device = devices.iter().all(|(d, _)| *d == devices[0].0);
    let outputs = match one_device {
        true => shards.into_iter().map(work).collect(),
        false => std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .into_iter()
                .map(|shard| scope.spawn(move || work(shard)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join())
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|_| TrainError::Config("a data-parallel worker thread panicked".into()))?,
    };
    let mut loss = 0.0;
    let mut logits = Vec::with_capacity(outputs.len());
    let mut summed = GradientsAccumulator::new();
    for (value, shard_logits, grads, replica) in outputs {
        loss += value;
        logits.push(shard_logits.to_device(&main));
        summed.accumulate(model, grads.to_device(&main, &replica));
    }
    Ok(BatchGrads {
        loss,
        logits: Tensor::cat(logits, 0),
        grads: summed.grads(),
    })
}
