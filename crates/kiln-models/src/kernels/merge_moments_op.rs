//! The merge of replicas' batch statistics as a differentiable Flex operation, for batch norms
//! through Burn's ops ([`crate::batch_norm`]) inside a replica. Its inputs come from whatever
//! device the replica runs on, through Burn's differentiable transfers: per-channel numbers
//! only.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;

use super::conv_block_op::{flex, values};
use crate::replicas::moments::Moments;
use crate::replicas::{LayerLink, current};

/// The whole batch's per-channel mean and biased variance from each replica's.
#[backend_extension(Flex, Autodiff)]
pub trait MergeMoments: Backend {
    /// `mean` and `m2` (`[channels]`): this replica's mean and Σ(x − mean)² over `count`
    /// values per channel. Returns `[2, channels]`: the mean and biased variance over the
    /// values of every replica meeting at batch norm number `layer` of the thread's replica
    /// ([`crate::replicas::with_replica`]); outside a replica, this replica's own.
    fn merge_moments(
        mean: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        count: usize,
        layer: usize,
    ) -> FloatTensor<Self>;
}

/// `[2, channels]` mean and variance on `mean`'s device (`[channels]`); see [`MergeMoments`].
pub(crate) fn merge_moments(
    mean: Tensor<1>,
    m2: Tensor<1>,
    count: usize,
    layer: usize,
) -> Tensor<2> {
    let device = mean.device();
    let host = match device.is_autodiff() {
        true => Device::flex().autodiff(),
        false => Device::flex(),
    };
    let merged = <Dispatch as MergeMoments>::merge_moments(
        mean.to_device(&host).into_dispatch(),
        m2.to_device(&host).into_dispatch(),
        count,
        layer,
    );
    Tensor::from_dispatch(merged).to_device(&device)
}

/// This replica's moments, the merged ones, and the link they were merged through.
fn merge(mean: &FlexTensor, m2: &FlexTensor, count: usize, layer: usize) -> Merged {
    let link = current().map(|replica| replica.layer(layer));
    let local: Vec<Moments> = values(mean)
        .iter()
        .zip(values(m2).iter())
        .map(|(&mean, &m2)| Moments {
            count: count as f64,
            mean: f64::from(mean),
            m2: f64::from(m2),
        })
        .collect();
    let batch = match &link {
        Some(link) => link.merge_moments(&local),
        None => local.clone(),
    };
    Merged { link, local, batch }
}

/// What [`MergeMomentsBackward`] keeps from the forward.
#[derive(Clone, Debug)]
pub struct Merged {
    link: Option<LayerLink>,
    local: Vec<Moments>,
    batch: Vec<Moments>,
}

impl Merged {
    /// `[2, channels]`: the batch's means, then its variances.
    fn output(&self) -> FlexTensor {
        let means = self.batch.iter().map(|m| m.mean as f32);
        let variances = self.batch.iter().map(|m| m.biased_variance() as f32);
        flex(means.chain(variances).collect(), [2, self.batch.len()])
    }
}

impl MergeMoments for Flex {
    fn merge_moments(mean: FlexTensor, m2: FlexTensor, count: usize, layer: usize) -> FlexTensor {
        merge(&mean, &m2, count, layer).output()
    }
}

/// The backward of [`MergeMoments`]; its parents are `[mean, m2]`.
#[derive(Debug)]
pub struct MergeMomentsBackward;

impl Backward<Flex, 2> for MergeMomentsBackward {
    type State = Merged;

    /// With `G` the gradients of the batch's mean and variance summed over the replicas and
    /// `n`, `N` this replica's and the batch's counts: `∂/∂mean_r = (n/N)·(G_mean + 2·G_var·
    /// (mean_r − mean))` and `∂/∂m2_r = G_var / N` (the variance's dependence through the batch
    /// mean vanishes: the counts' weighted deviations from it sum to zero).
    fn backward(self, ops: Ops<Merged, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [mean_node, m2_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let s = ops.state;
        let channels = s.batch.len();
        let grad = values(&grad);
        let local: Vec<(f64, f64)> = (0..channels)
            .map(|c| (f64::from(grad[c]), f64::from(grad[channels + c])))
            .collect();
        let total = match &s.link {
            Some(link) => link.sum_pairs(&local),
            None => local,
        };
        let (mut d_mean, mut d_m2) = (Vec::with_capacity(channels), Vec::with_capacity(channels));
        for ((&(g_mean, g_var), mine), batch) in total.iter().zip(&s.local).zip(&s.batch) {
            let share = mine.count / batch.count;
            d_mean.push((share * (g_mean + 2.0 * g_var * (mine.mean - batch.mean))) as f32);
            d_m2.push((g_var / batch.count) as f32);
        }
        if let Some(node) = mean_node {
            grads.register::<Flex>(node.id, flex(d_mean, [channels]));
        }
        if let Some(node) = m2_node {
            grads.register::<Flex>(node.id, flex(d_m2, [channels]));
        }
    }
}

impl<C: CheckpointStrategy> MergeMoments for Autodiff<Flex, C> {
    fn merge_moments(
        mean: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        count: usize,
        layer: usize,
    ) -> FloatTensor<Self> {
        let nodes = [mean.node(), m2.node()];
        let merged = merge(&mean.into_primitive(), &m2.into_primitive(), count, layer);
        let output = merged.output();
        match MergeMomentsBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(merged, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}
