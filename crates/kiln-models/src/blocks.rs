//! The residual blocks of the ResNet family, with torchvision's layout and parameter names.

use burn::module::Initializer;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Relu};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::conv_block::{conv_bn, conv_bn_add_relu, conv_bn_onnx};
use crate::onnx::{ExportError, OnnxGraph, ToOnnx};
use crate::shortcut::{Downsample, ShortcutKind};
use crate::torch_init::conv;

/// Which block a stage repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    /// Two 3×3 convolutions; expansion 1 (ResNet-18/34, the CIFAR ResNets).
    Basic,
    /// 1×1 → 3×3 (strided) → 1×1 ×4; expansion 4 (ResNet-50/101/152, torchvision "V1.5").
    Bottleneck,
}

impl BlockKind {
    /// Output channels per unit of `planes`.
    pub fn expansion(self) -> usize {
        match self {
            Self::Basic => 1,
            Self::Bottleneck => 4,
        }
    }
}

/// Configuration of one residual block.
#[derive(Config, Debug)]
pub struct ResidualBlockConfig {
    /// Which block.
    pub kind: BlockKind,
    /// Input channels.
    pub in_channels: usize,
    /// Width of the block; it outputs `planes × expansion` channels.
    pub planes: usize,
    /// Stride of the block (on the 3×3 convolution).
    #[config(default = 1)]
    pub stride: usize,
    /// How the shortcut matches shapes when needed.
    #[config(default = "ShortcutKind::Projection")]
    pub shortcut: ShortcutKind,
    /// Initialize the last batch norm's γ to zero, so the block starts as the identity
    /// (torchvision's `zero_init_residual`).
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl ResidualBlockConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.planes * self.kind.expansion()
    }

    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> ResidualBlock {
        let (p, out) = (self.planes, self.out_channels());
        let downsample = Downsample::new(self.shortcut, self.in_channels, out, self.stride, device);
        let mut last_bn = BatchNormConfig::new(out).init(device);
        if self.zero_init_residual {
            last_bn.gamma = Initializer::Zeros.init([out], device);
        }
        match self.kind {
            BlockKind::Basic => ResidualBlock::Basic(BasicBlock {
                conv1: conv(self.in_channels, p, 3, self.stride, 1).init(device),
                bn1: BatchNormConfig::new(p).init(device),
                conv2: conv(p, p, 3, 1, 1).init(device),
                bn2: last_bn,
                downsample,
                relu: Relu::new(),
            }),
            BlockKind::Bottleneck => ResidualBlock::Bottleneck(Bottleneck {
                conv1: conv(self.in_channels, p, 1, 1, 0).init(device),
                bn1: BatchNormConfig::new(p).init(device),
                conv2: conv(p, p, 3, self.stride, 1).init(device),
                bn2: BatchNormConfig::new(p).init(device),
                conv3: conv(p, out, 1, 1, 0).init(device),
                bn3: last_bn,
                downsample,
                relu: Relu::new(),
            }),
        }
    }
}

/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    downsample: Option<Downsample>,
    relu: Relu,
}

/// `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))`, stride on `conv2`.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<Downsample>,
    relu: Relu,
}

/// A basic or bottleneck block (the variant name is not part of the parameter paths PyTorch
/// imports match against).
// Built once per model and never moved in a hot loop: the size of the largest variant costs
// nothing, and boxing it would change Burn's module paths.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// [`BasicBlock`].
    Basic(BasicBlock),
    /// [`Bottleneck`].
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, planes × expansion, ⌈height / stride⌉, ⌈width / stride⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // The body up to its last convolution, which runs below with its batch norm, the
        // addition and the ReLU (one fused operation on Flex).
        let (y, (conv, norm), downsample) = match self {
            Self::Basic(b) => {
                let y = conv_bn(&b.conv1, &b.bn1, true, x.clone());
                (y, (&b.conv2, &b.bn2), &b.downsample)
            }
            Self::Bottleneck(b) => {
                let y = conv_bn(&b.conv1, &b.bn1, true, x.clone());
                let y = conv_bn(&b.conv2, &b.bn2, true, y);
                (y, (&b.conv3, &b.bn3), &b.downsample)
            }
        };
        let identity = match downsample {
            Some(d) => d.forward(x),
            None => x,
        };
        conv_bn_add_relu(conv, norm, y, identity)
    }
}

impl ToOnnx for ResidualBlock {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let (out, downsample) = match self {
            Self::Basic(b) => {
                let y = conv_bn_onnx(graph, ("conv1", &b.conv1), ("bn1", &b.bn1), true, input)?;
                let y = conv_bn_onnx(graph, ("conv2", &b.conv2), ("bn2", &b.bn2), false, &y)?;
                (y, &b.downsample)
            }
            Self::Bottleneck(b) => {
                let y = conv_bn_onnx(graph, ("conv1", &b.conv1), ("bn1", &b.bn1), true, input)?;
                let y = conv_bn_onnx(graph, ("conv2", &b.conv2), ("bn2", &b.bn2), true, &y)?;
                let y = conv_bn_onnx(graph, ("conv3", &b.conv3), ("bn3", &b.bn3), false, &y)?;
                (y, &b.downsample)
            }
        };
        let identity = match downsample {
            Some(d) => graph.layer("downsample", d, input)?,
            None => input.to_string(),
        };
        let sum = graph.add(&out, &identity);
        Ok(graph.node("Relu", &[&sum], vec![]))
    }
}
