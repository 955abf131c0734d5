//! The shortcut of a residual block whose output shape differs from its input's.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::s;
use serde::{Deserialize, Serialize};

use crate::conv_block::{conv_bn, conv_bn_onnx};
use crate::onnx::{ExportError, OnnxGraph, ToOnnx, attr_string};
use crate::torch_init::conv;

/// How a residual block matches shapes when it changes stride or width (He et al. 2016, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShortcutKind {
    /// Option A: subsample spatially and zero-pad the extra channels; no parameters
    /// (the CIFAR ResNets of the paper).
    ZeroPad,
    /// Option B: 1×1 strided convolution + batch norm (torchvision's `downsample`).
    #[default]
    Projection,
}

/// Option B: `downsample.conv` (1×1, strided) → `downsample.bn`, torchvision's
/// `downsample.0` / `downsample.1`.
#[derive(Module, Debug)]
pub struct Projection {
    conv: Conv2d,
    bn: BatchNorm,
}

/// Option A: keep every `stride`-th pixel, append `pad` zero channels on each side.
#[derive(Module, Debug)]
pub struct ZeroPad {
    stride: usize,
    pad: usize,
}

/// A block's shortcut when the identity does not fit.
// Built once per model and never moved in a hot loop: the size of the largest variant costs
// nothing, and boxing it would change Burn's module paths.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Downsample {
    /// Option B.
    Projection(Projection),
    /// Option A.
    ZeroPad(ZeroPad),
}

impl Downsample {
    /// The shortcut from `in_channels` to `out_channels` at `stride`, or `None` when the
    /// identity fits.
    pub fn new(
        kind: ShortcutKind,
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        device: &Device,
    ) -> Option<Self> {
        if stride == 1 && in_channels == out_channels {
            return None;
        }
        Some(match kind {
            ShortcutKind::Projection => Self::Projection(Projection {
                conv: conv(in_channels, out_channels, 1, stride, 0).init(device),
                bn: BatchNormConfig::new(out_channels).init(device),
            }),
            // Option A pads equally on both sides, as the paper's (and every common) CIFAR
            // implementation: the width must grow by an even number of channels.
            ShortcutKind::ZeroPad => Self::ZeroPad(ZeroPad {
                stride,
                pad: out_channels.saturating_sub(in_channels) / 2,
            }),
        })
    }

    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, ⌈height / stride⌉, ⌈width / stride⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Projection(p) => conv_bn(&p.conv, &p.bn, false, x),
            Self::ZeroPad(z) => {
                let x = if z.stride > 1 {
                    let s = z.stride as isize;
                    x.slice(s![.., .., ..;s, ..;s])
                } else {
                    x
                };
                if z.pad == 0 {
                    return x;
                }
                let [b, _, h, w] = x.dims();
                let zeros = Tensor::zeros([b, z.pad, h, w], &x.device());
                Tensor::cat(vec![zeros.clone(), x, zeros], 1)
            }
        }
    }
}

impl ToOnnx for Downsample {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        match self {
            Self::Projection(p) => {
                conv_bn_onnx(graph, ("conv", &p.conv), ("bn", &p.bn), false, input)
            }
            Self::ZeroPad(z) => {
                let mut x = input.to_string();
                if z.stride > 1 {
                    // Every `stride`-th row and column from the first: `x[:, :, ::s, ::s]`.
                    let starts = graph.constant_i64("starts", &[0, 0]);
                    let ends = graph.constant_i64("ends", &[i64::MAX, i64::MAX]);
                    let axes = graph.constant_i64("axes", &[2, 3]);
                    let s = z.stride as i64;
                    let steps = graph.constant_i64("steps", &[s, s]);
                    x = graph.node("Slice", &[&x, &starts, &ends, &axes, &steps], vec![]);
                }
                if z.pad > 0 {
                    // `pad` zero channels before and after: [begin n, c, h, w, end n, c, h, w].
                    let p = z.pad as i64;
                    let pads = graph.constant_i64("pads", &[0, p, 0, 0, 0, p, 0, 0]);
                    x = graph.node("Pad", &[&x, &pads], vec![attr_string("mode", "constant")]);
                }
                Ok(x)
            }
        }
    }
}
