//! Fused CPU kernels for the Flex backend, through Burn's backend-extension mechanism.
//!
//! [`conv_block`] runs conv → batch norm → ReLU → max-pool as one operation
//! ([`ConvBlockTrain`] with a handwritten backward on `Autodiff<Flex>`, [`ConvBlockInfer`] for
//! evaluation) when the tensors live on Flex and are f32; on every other backend, dtype or
//! configuration it answers `None` and the caller runs Burn's own ops. Set
//! `KILN_FAST_KERNELS=0` to turn the fused path off for a whole process (to compare), or wrap
//! code in [`with_reference_ops`] for one thread (tests); `KILN_DIRECT_CONV=0` keeps the fused
//! path but convolves 3×3 padding-1 layers (stride 1 and 2) with im2col + GEMM instead of the
//! direct kernels. [`conv_block_add_relu`] is the same block with a residual added before the
//! ReLU: the end of a ResNet block.

mod buffers;
mod conv_block_cpu;
mod conv_block_op;
mod direct3x3;
mod geometry;
mod matmul;
mod merge_moments_op;
mod patches;
pub(crate) mod pool_route;
mod simd;

use std::cell::Cell;
use std::sync::OnceLock;

use burn::backend::Dispatch;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::DType;

pub use conv_block_op::{BlockOutput, BlockSpec, ConvBlockInfer, ConvBlockTrain, Residual};
pub use geometry::BlockGeometry;
pub use merge_moments_op::MergeMoments;
pub(crate) use merge_moments_op::merge_moments;

/// The environment variable that disables the fused kernels when set to `0`.
pub const FAST_KERNELS_ENV: &str = "KILN_FAST_KERNELS";

/// The environment variable that, set to `0`, makes the fused kernels run 3×3 padding-1
/// convolutions (stride 1 and 2) through im2col + GEMM instead of the direct kernels (to
/// compare the two).
pub const DIRECT_CONV_ENV: &str = "KILN_DIRECT_CONV";

/// Whether 3×3 padding-1 convolutions take the direct kernels: not disabled by
/// [`DIRECT_CONV_ENV`] (read once per process).
pub(crate) fn direct_conv_enabled() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    *FROM_ENV
        .get_or_init(|| std::env::var(DIRECT_CONV_ENV).map_or(true, |value| value.trim() != "0"))
}

thread_local! {
    static REFERENCE_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Whether the fused kernels may run on this thread: not disabled by [`FAST_KERNELS_ENV`]
/// (read once per process) nor by [`with_reference_ops`].
pub fn fast_kernels_enabled() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    let from_env = *FROM_ENV
        .get_or_init(|| std::env::var(FAST_KERNELS_ENV).map_or(true, |value| value.trim() != "0"));
    from_env && !REFERENCE_ONLY.with(Cell::get)
}

/// Runs `f` with the fused kernels off on this thread: every layer takes Burn's generic ops.
pub fn with_reference_ops<R>(f: impl FnOnce() -> R) -> R {
    // Restored on the way out, unwinding included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            REFERENCE_ONLY.with(|flag| flag.set(previous));
        }
    }
    let _restore = Restore(REFERENCE_ONLY.with(|flag| flag.replace(true)));
    f()
}

/// The symmetric padding `conv` applies, when it is one number for all four sides.
fn symmetric_padding(conv: &Conv2d) -> Option<usize> {
    match conv.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && left == bottom && bottom == right =>
        {
            Some(top)
        }
        PaddingConfig2d::Same
            if conv.stride == [1, 1]
                && conv.kernel_size[0] == conv.kernel_size[1]
                && conv.kernel_size[0] % 2 == 1 =>
        {
            Some(conv.kernel_size[0] / 2)
        }
        _ => None,
    }
}

/// `conv` → `norm` → (ReLU) → (max-pool 2×2, stride 2) as one fused Flex operation, with the
/// batch norm's running statistics updated as [`BatchNorm::forward`] does (inside a replica,
/// as [`crate::replicas`] describes). `None` when the
/// fused path does not apply (another backend, not f32, grouped/dilated/asymmetric conv, a
/// frozen batch norm on an autodiff device, or disabled); the caller then runs the layers.
///
/// # Shapes
/// - `x`: `[batch, in_channels, height, width]`
/// - output: `[batch, out_channels, out_h, out_w]`, `out_*` the conv output (halved if `pool`)
pub fn conv_block(
    conv: &Conv2d,
    norm: &BatchNorm,
    relu: bool,
    pool: bool,
    x: &Tensor<4>,
) -> Option<Tensor<4>> {
    fused_block(conv, norm, relu, pool, x, None)
}

/// `relu(norm(conv(x)) + residual)`, the end of a residual block, as one fused Flex operation
/// (the addition and the ReLU happen where the normalized values are written, and their
/// backward where the gradient is routed). `None` when [`conv_block`] would be, or when
/// `residual` is not an f32 tensor of the output's shape on the same device.
///
/// # Shapes
/// - `x`: `[batch, in_channels, height, width]`
/// - `residual` and output: `[batch, out_channels, conv_h, conv_w]`
pub fn conv_block_add_relu(
    conv: &Conv2d,
    norm: &BatchNorm,
    x: &Tensor<4>,
    residual: &Tensor<4>,
) -> Option<Tensor<4>> {
    fused_block(conv, norm, true, false, x, Some(residual))
}

/// `residual` for the fused operations.
fn residual_of(residual: Option<&Tensor<4>>) -> Residual<Dispatch> {
    match residual {
        Some(r) => Residual::Add(r.clone().into_dispatch()),
        None => Residual::None,
    }
}

/// [`conv_block`] with an optional residual added before the ReLU (never with `pool`).
fn fused_block(
    conv: &Conv2d,
    norm: &BatchNorm,
    relu: bool,
    pool: bool,
    x: &Tensor<4>,
    residual: Option<&Tensor<4>>,
) -> Option<Tensor<4>> {
    if !fast_kernels_enabled() {
        return None;
    }
    let device = x.device();
    let autodiff = device.is_autodiff();
    let training = autodiff && norm.training.is_enabled();
    let weight = conv.weight.val();
    let [out_channels, in_channels, kh, kw] = weight.dims();
    let spec = BlockSpec {
        stride: conv.stride[0],
        padding: symmetric_padding(conv)?,
        relu,
        pool,
    };
    let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
    let [batch, channels, height, width] = x.dims();
    let geometry = spec.geometry(
        &[batch, channels, height, width],
        &[out_channels, in_channels, kh, kw],
    );
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([out_channels], &device),
    };
    let per_channel = [
        bias.dims(),
        gamma.dims(),
        beta.dims(),
        norm.running_mean.value().dims(),
        norm.running_var.value().dims(),
    ]
    .iter()
    .all(|dims| *dims == [out_channels]);
    let supported = crate::has_fused_kernels(&device)
        && (training || !autodiff)
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && conv.groups == 1
        && conv.dilation == [1, 1]
        && conv.stride[0] == conv.stride[1]
        && channels == in_channels
        && per_channel
        && geometry.output_size().is_some_and(|[h, w]| h > 0 && w > 0);
    let residual_fits = residual.is_none_or(|r| {
        let [h, w] = geometry.output_size().unwrap_or([0, 0]);
        !pool
            && r.dims() == [batch, out_channels, h, w]
            && r.dtype() == DType::F32
            && r.device() == device
    });
    if !supported || !residual_fits {
        return None;
    }
    if training {
        // Inside a replica, this block is its next batch norm.
        let link = crate::replicas::current().map(|replica| replica.next_layer());
        let result = <Dispatch as ConvBlockTrain>::conv_block_train(
            x.clone().into_dispatch(),
            residual_of(residual),
            weight.into_dispatch(),
            bias.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            spec,
            norm.epsilon,
            link.as_ref().map(|link| link.layer()),
        );
        let count = geometry.batch * geometry.conv_positions();
        crate::replicas::update_running(
            norm,
            link.as_ref(),
            count,
            Tensor::from_dispatch(result.mean),
            Tensor::from_dispatch(result.variance),
        );
        Some(Tensor::from_dispatch(result.output))
    } else {
        let output = <Dispatch as ConvBlockInfer>::conv_block_infer(
            x.clone().into_dispatch(),
            residual_of(residual),
            weight.into_dispatch(),
            bias.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            norm.running_mean.value().to_device(&device).into_dispatch(),
            norm.running_var.value().to_device(&device).into_dispatch(),
            spec,
            norm.epsilon,
        );
        Some(Tensor::from_dispatch(output))
    }
}
