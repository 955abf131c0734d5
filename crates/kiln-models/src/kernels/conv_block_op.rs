//! The fused block as Burn backend-extension operations: a Flex forward for inference, a Flex
//! forward for training, and on `Autodiff<Flex>` the training forward with a handwritten
//! backward ([`ConvBlockBackward`]) registered in Burn's autodiff graph.

use std::borrow::Cow;
use std::sync::Arc;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, ExtensionType, Flex, backend_extension};
use burn::tensor::TensorData;

use super::buffers::SavedConv;
use super::conv_block_cpu::{self, BlockParams, Saved};
use super::geometry::BlockGeometry;
use crate::replicas::{LayerLink, current};

/// The hyper-parameters of a block that its tensors do not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpec {
    /// Stride, both axes.
    pub stride: usize,
    /// Zero padding, all four sides.
    pub padding: usize,
    /// ReLU after the batch norm.
    pub relu: bool,
    /// Max-pool 2×2, stride 2, after the ReLU.
    pub pool: bool,
}

impl BlockSpec {
    /// The geometry of this block for input shape `x` (`[N, C, H, W]`) and weight shape `w`
    /// (`[out, C, kh, kw]`).
    pub fn geometry(&self, x: &[usize], w: &[usize]) -> BlockGeometry {
        let dim = |dims: &[usize], i: usize| dims.get(i).copied().unwrap_or(0);
        BlockGeometry {
            batch: dim(x, 0),
            in_channels: dim(x, 1),
            height: dim(x, 2),
            width: dim(x, 3),
            out_channels: dim(w, 0),
            kernel: [dim(w, 2), dim(w, 3)],
            stride: self.stride,
            padding: self.padding,
            relu: self.relu,
            pool: self.pool,
        }
    }
}

/// A training forward's result: the block output and the batch statistics (for the running
/// averages; they carry no gradient).
#[derive(ExtensionType)]
pub struct BlockOutput<B: Backend> {
    /// `[batch, out_channels, out_h, out_w]`.
    pub output: FloatTensor<B>,
    /// Batch mean per channel, `[out_channels]`.
    pub mean: FloatTensor<B>,
    /// Biased batch variance per channel, `[out_channels]`.
    pub variance: FloatTensor<B>,
}

/// What a block adds to its normalized values before the ReLU.
#[derive(ExtensionType)]
pub enum Residual<B: Backend> {
    /// Nothing.
    None,
    /// A tensor of the output's shape, `[batch, out_channels, conv_h, conv_w]` (never with a
    /// pool).
    Add(FloatTensor<B>),
}

impl<B: Backend> Residual<B> {
    /// The tensor added, if any.
    fn tensor(self) -> Option<FloatTensor<B>> {
        match self {
            Self::None => None,
            Self::Add(tensor) => Some(tensor),
        }
    }
}

/// Conv → batch norm with batch statistics → (+ residual) → ReLU → max-pool, differentiable on
/// `Autodiff<Flex>`. With `replica_layer`, the block is batch norm number `replica_layer` of
/// the thread's replica ([`crate::replicas::with_replica`]): its statistics are exchanged with
/// the other replicas' as [`crate::replicas::ReplicaNorm`] says.
#[backend_extension(Flex, Autodiff)]
pub trait ConvBlockTrain: Backend {
    /// Shapes: `x` `[N, C, H, W]`, `residual` the output's (never with a pool), `weight`
    /// `[out, C, kh, kw]`, `bias`/`gamma`/`beta` `[out]`.
    #[allow(clippy::too_many_arguments)]
    fn conv_block_train(
        x: FloatTensor<Self>,
        #[extension_type] residual: Residual<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        spec: BlockSpec,
        epsilon: f64,
        replica_layer: Option<usize>,
    ) -> BlockOutput<Self>;
}

/// Conv → batch norm with running statistics → (+ residual) → ReLU → max-pool, forward only
/// (Flex).
#[backend_extension(Flex)]
pub trait ConvBlockInfer: Backend {
    /// Shapes: as [`ConvBlockTrain::conv_block_train`], `running_mean`/`running_var` `[out]`.
    #[allow(clippy::too_many_arguments)]
    fn conv_block_infer(
        x: FloatTensor<Self>,
        #[extension_type] residual: Residual<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        spec: BlockSpec,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// A Flex tensor's elements as f32, borrowed when it is already a contiguous f32 buffer.
pub(super) fn values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        // Any element type, converted element by element.
        None => Cow::Owned(tensor.clone().into_data().iter::<f32>().collect()),
    }
}

/// A contiguous f32 Flex tensor of `shape` owning `data`.
pub(super) fn flex(data: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.into()))
}

/// `[N, out, out_h, out_w]` for `g`.
fn output_shape(g: &BlockGeometry) -> [usize; 4] {
    let [h, w] = g.output_size().unwrap_or([0, 0]);
    [g.batch, g.out_channels, h, w]
}

/// Runs `f` with the block's parameters as f32 slices.
fn with_params<R>(
    [weight, bias, gamma, beta]: [&FlexTensor; 4],
    f: impl FnOnce(&BlockParams<'_>) -> R,
) -> R {
    let (w, b, gm, bt) = (values(weight), values(bias), values(gamma), values(beta));
    f(&BlockParams {
        weight: &w,
        bias: &b,
        gamma: &gm,
        beta: &bt,
    })
}

/// The link of batch norm number `layer` of the thread's replica.
fn replica_link(layer: Option<usize>) -> Option<LayerLink> {
    Some(current()?.layer(layer?))
}

/// The Flex training forward, returning the saved convolution output too.
fn train_forward(
    x: &FlexTensor,
    residual: Option<&FlexTensor>,
    [weight, bias, gamma, beta]: [&FlexTensor; 4],
    spec: BlockSpec,
    epsilon: f64,
    link: Option<&LayerLink>,
) -> (BlockGeometry, conv_block_cpu::TrainForward) {
    let g = spec.geometry(x.layout().shape(), weight.layout().shape());
    let residual = residual.map(values);
    let forward = with_params([weight, bias, gamma, beta], |params| {
        let residual = residual.as_deref();
        conv_block_cpu::forward_train(&g, &values(x), residual, params, epsilon, link)
    });
    (g, forward)
}

impl ConvBlockTrain for Flex {
    fn conv_block_train(
        x: FlexTensor,
        residual: Residual<Self>,
        weight: FlexTensor,
        bias: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        spec: BlockSpec,
        epsilon: f64,
        replica_layer: Option<usize>,
    ) -> BlockOutput<Self> {
        let link = replica_link(replica_layer);
        let weights = [&weight, &bias, &gamma, &beta];
        let residual = residual.tensor();
        let (g, forward) =
            train_forward(&x, residual.as_ref(), weights, spec, epsilon, link.as_ref());
        BlockOutput {
            output: flex(forward.output, output_shape(&g)),
            mean: flex(forward.mean, [g.out_channels]),
            variance: flex(forward.variance, [g.out_channels]),
        }
    }
}

impl ConvBlockInfer for Flex {
    fn conv_block_infer(
        x: FlexTensor,
        residual: Residual<Self>,
        weight: FlexTensor,
        bias: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        running_mean: FlexTensor,
        running_var: FlexTensor,
        spec: BlockSpec,
        epsilon: f64,
    ) -> FlexTensor {
        let g = spec.geometry(x.layout().shape(), weight.layout().shape());
        let residual = residual.tensor();
        let residual = residual.as_ref().map(values);
        let output = with_params([&weight, &bias, &gamma, &beta], |params| {
            conv_block_cpu::forward_infer(
                &g,
                &values(&x),
                residual.as_deref(),
                params,
                &values(&running_mean),
                &values(&running_var),
                epsilon,
            )
        });
        flex(output, output_shape(&g))
    }
}

/// The backward step of [`ConvBlockTrain`] on `Autodiff<Flex>`; its `N` parents are `[x,
/// weight, bias, gamma, beta]` and, when the block adds one, the residual (`N` = 6).
#[derive(Debug)]
pub struct ConvBlockBackward<const N: usize>;

/// What [`ConvBlockBackward`] keeps from the forward.
#[derive(Clone, Debug)]
pub struct SavedBlock {
    geometry: BlockGeometry,
    epsilon: f64,
    x: FlexTensor,
    weight: FlexTensor,
    bias: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    /// The convolution output.
    conv: Arc<SavedConv>,
    conv_mean: FlexTensor,
    variance: FlexTensor,
    /// The number of values the statistics are over (every replica's, synchronized).
    count: f64,
    /// The residual the forward added.
    residual: Option<FlexTensor>,
    /// Where the block meets the other replicas, inside one.
    link: Option<LayerLink>,
}

impl<const N: usize> Backward<Flex, N> for ConvBlockBackward<N> {
    type State = SavedBlock;

    fn backward(self, ops: Ops<SavedBlock, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let mut parents = ops.parents.into_iter();
        let mut parent = || parents.next().flatten();
        let [
            x_node,
            weight_node,
            bias_node,
            gamma_node,
            beta_node,
            residual_node,
        ] = std::array::from_fn(|_| parent());
        let grad = grads.consume::<Flex>(&ops.node);
        let s = ops.state;
        let g = s.geometry;
        let (x, conv, mean, variance) = (
            values(&s.x),
            Cow::Borrowed(&s.conv.0[..]),
            values(&s.conv_mean),
            values(&s.variance),
        );
        let residual = s.residual.as_ref().map(values);
        let saved = Saved {
            x: &x,
            conv: &conv,
            mean: &mean,
            variance: &variance,
            count: s.count,
            link: s.link.as_ref(),
            residual: residual.as_deref(),
        };
        let result = with_params([&s.weight, &s.bias, &s.gamma, &s.beta], |params| {
            let grad = values(&grad);
            conv_block_cpu::backward(&g, params, &saved, s.epsilon, &grad, x_node.is_some())
        });
        let channels = [g.out_channels];
        if let (Some(node), Some(input)) = (x_node, result.input) {
            let shape = [g.batch, g.in_channels, g.height, g.width];
            grads.register::<Flex>(node.id, flex(input, shape));
        }
        if let (Some(node), Some(residual)) = (residual_node, result.residual) {
            grads.register::<Flex>(node.id, flex(residual, output_shape(&g)));
        }
        let weight_shape = [g.out_channels, g.in_channels, g.kernel[0], g.kernel[1]];
        for (node, value, shape) in [
            (weight_node, result.weight, &weight_shape[..]),
            (bias_node, result.bias, &channels[..]),
            (gamma_node, result.gamma, &channels[..]),
            (beta_node, result.beta, &channels[..]),
        ] {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, flex(value, shape));
            }
        }
    }
}

/// Records the block in the autodiff graph with `N` parents ([`ConvBlockBackward`]) and
/// returns its output; the convolution output is kept only when the block is tracked.
fn record<const N: usize, C: CheckpointStrategy>(
    nodes: [NodeGuard; N],
    output: FlexTensor,
    conv: Vec<f32>,
    save: impl FnOnce(Arc<SavedConv>) -> SavedBlock,
) -> FloatTensor<Autodiff<Flex, C>> {
    match ConvBlockBackward::<N>
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(save(Arc::new(SavedConv(conv))), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

impl<C: CheckpointStrategy> ConvBlockTrain for Autodiff<Flex, C> {
    fn conv_block_train(
        x: FloatTensor<Self>,
        residual: Residual<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        spec: BlockSpec,
        epsilon: f64,
        replica_layer: Option<usize>,
    ) -> BlockOutput<Self> {
        let link = replica_link(replica_layer);
        let nodes = [
            x.node(),
            weight.node(),
            bias.node(),
            gamma.node(),
            beta.node(),
        ];
        let residual = residual.tensor();
        let residual_node = residual.as_ref().map(|r| r.node());
        let residual = residual.map(|r| r.into_primitive());
        let inner = [&weight, &bias, &gamma, &beta].map(|t| t.primitive().clone());
        let x = x.into_primitive();
        let [w, b, gm, bt] = &inner;
        let (g, forward) = train_forward(
            &x,
            residual.as_ref(),
            [w, b, gm, bt],
            spec,
            epsilon,
            link.as_ref(),
        );
        let mean = flex(forward.mean, [g.out_channels]);
        let variance = flex(forward.variance, [g.out_channels]);
        let output = flex(forward.output, output_shape(&g));
        let [weight, bias, gamma, beta] = inner;
        let save = |conv| SavedBlock {
            geometry: g,
            epsilon,
            x,
            weight,
            bias,
            gamma,
            beta,
            conv,
            conv_mean: flex(forward.conv_mean, [g.out_channels]),
            variance: variance.clone(),
            count: forward.count,
            link,
            residual,
        };
        let output = match residual_node {
            Some(residual_node) => {
                let [x, w, b, gm, bt] = nodes;
                record::<6, C>([x, w, b, gm, bt, residual_node], output, forward.conv, save)
            }
            None => record::<5, C>(nodes, output, forward.conv, save),
        };
        BlockOutput {
            output,
            mean: Self::from_inner(mean),
            variance: Self::from_inner(variance),
        }
    }
}
