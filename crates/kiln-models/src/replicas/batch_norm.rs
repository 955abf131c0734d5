//! Batch norm through Burn's ops, inside a replica or not.

use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorData;

use super::ReplicaNorm;
use super::context::{LayerLink, current};

/// `norm` applied to `x` (4-D: the convolutional batch norm), as [`BatchNorm::forward`] —
/// unless this thread runs a replica
/// ([`super::with_replica`]) and `norm` trains: then the batch's statistics come from all the
/// replicas of the group ([`ReplicaNorm`]) and only replica 0 updates the running statistics.
/// Models of your own that should train on several devices normalize through this function
/// (or [`crate::ConvNormBlock`]) instead of calling `BatchNorm::forward`.
///
/// # Shapes
/// - `x`: `[batch, channels, height, width]`
/// - output: the same
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    match current().filter(|_| training) {
        Some(replica) => {
            let link = replica.next_layer();
            match link.norm() {
                ReplicaNorm::Synchronized => synchronized(norm, x, &link),
                ReplicaNorm::PerReplica => per_replica(norm, x, &link),
            }
        }
        None => norm.forward(x),
    }
}

/// Normalized with this shard's statistics, the running statistics moved by replica 0 towards
/// the replicas' average.
fn per_replica(norm: &BatchNorm, x: Tensor<4>, link: &LayerLink) -> Tensor<4> {
    let [n, _, h, w] = x.dims();
    let result =
        burn::tensor::module::batch_norm_train(x, norm.gamma.val(), norm.beta.val(), norm.epsilon);
    update_running(norm, Some(link), n * h * w, result.mean, result.variance);
    result.output
}

/// Normalized with the whole batch's statistics, merged from every replica's count, mean and
/// squared deviations; the merge's backward sums the replicas' gradients of the batch's mean
/// and variance.
fn synchronized(norm: &BatchNorm, x: Tensor<4>, link: &LayerLink) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let count = n * h * w;
    let rows = x.clone().swap_dims(0, 1).reshape([c, count]);
    let mean = rows.clone().mean_dim(1);
    let deviations = rows - mean.clone();
    let m2 = (deviations.clone() * deviations).sum_dim(1);
    let stats = merged_statistics(mean.reshape([c]), m2.reshape([c]), count, link);
    let batch_mean = stats.clone().slice([0..1, 0..c]).reshape([1, c, 1, 1]);
    let batch_var = stats.slice([1..2, 0..c]).reshape([1, c, 1, 1]);
    let scale = batch_var.clone().add_scalar(norm.epsilon).sqrt().recip()
        * norm.gamma.val().reshape([1, c, 1, 1]);
    let y = (x - batch_mean.clone()) * scale + norm.beta.val().reshape([1, c, 1, 1]);
    let (batch_mean, batch_var) = (batch_mean.reshape([c]), batch_var.reshape([c]));
    update_running(norm, Some(link), count, batch_mean, batch_var);
    y
}

/// The batch's mean and biased variance `[2, channels]`, on `mean`'s device, from this
/// replica's `mean` and squared deviations `m2` (`[channels]`, over `count` values each).
#[cfg(feature = "flex")]
fn merged_statistics(mean: Tensor<1>, m2: Tensor<1>, count: usize, link: &LayerLink) -> Tensor<2> {
    crate::kernels::merge_moments(mean, m2, count, link.layer())
}

#[cfg(not(feature = "flex"))]
fn merged_statistics(_: Tensor<1>, _: Tensor<1>, _: usize, link: &LayerLink) -> Tensor<2> {
    link.fail("synchronized batch norm needs kiln-models' `flex` feature".into())
}

/// Moves `norm`'s running statistics towards a batch's `mean` and biased `variance`
/// (`[channels]`, over `count` values per channel) with its momentum, as
/// [`BatchNorm::forward`] does. Inside a replica (`link`) only replica 0 does, towards the
/// whole batch's statistics (synchronized: `mean` and `variance` already are) or the replicas'
/// average (per replica: gathered here).
pub(crate) fn update_running(
    norm: &BatchNorm,
    link: Option<&LayerLink>,
    count: usize,
    mean: Tensor<1>,
    variance: Tensor<1>,
) {
    let (mean, variance) = match link {
        Some(link) if link.norm() == ReplicaNorm::PerReplica => {
            let device = mean.device();
            let [mean, variance] =
                link.average_statistics(count as f64, &host(mean), &host(variance));
            (on(&mean, &device), on(&variance, &device))
        }
        _ => (mean, variance),
    };
    if link.is_some_and(|link| !link.updates_running_statistics()) {
        return;
    }
    let momentum = norm.momentum;
    // Kept on the device the statistics live on: a replica's is another (`fork_replica`).
    let update = |state: &RunningState<Tensor<1>>, batch: Tensor<1>| {
        let running = state.value_sync();
        let home = running.device();
        let value = running
            .to_device(&batch.device())
            .mul_scalar(1.0 - momentum)
            .add(batch.detach().mul_scalar(momentum));
        state.update(value.detach().to_device(&home));
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
}

fn host(tensor: Tensor<1>) -> Vec<f64> {
    tensor.detach().into_data().iter::<f64>().collect()
}

fn on(values: &[f64], device: &Device) -> Tensor<1> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}
