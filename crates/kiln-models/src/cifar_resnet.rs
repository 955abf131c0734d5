//! The CIFAR ResNets of He et al. 2016 §4.2 (`resnet20/32/44/56/110`): a 3×3 stem of 16
//! channels, three stages of `n` basic blocks with 16, 32, 64 channels (depth = 6n + 2), global
//! average pool, `fc`. Option A (zero-padding, parameter-free) shortcuts by default, as the
//! paper; option B (projection) as a switch.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use crate::blocks::{BlockKind, ResidualBlock};
use crate::classifier::ImageClassifier;
use crate::conv_block::{conv_bn, conv_bn_onnx};
use crate::onnx::{ExportError, OnnxGraph};
use crate::shortcut::ShortcutKind;
use crate::stage::{StageConfig, forward_stage};
use crate::torch_init::conv;

/// Configuration of [`CifarResNet`].
#[derive(Config, Debug)]
pub struct CifarResNetConfig {
    /// Output classes.
    pub num_classes: usize,
    /// Basic blocks per stage, `n`; the depth is 6n + 2.
    pub blocks: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Stage widths.
    #[config(default = "[16, 32, 64]")]
    pub widths: [usize; 3],
    /// Option A (zero-pad) or B (projection) shortcuts.
    #[config(default = "ShortcutKind::ZeroPad")]
    pub shortcut: ShortcutKind,
    /// Zero-initialize the last batch norm of every block.
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl CifarResNetConfig {
    /// The network of depth 6n + 2 (20, 32, 44, 56, 110, …), or `None` for another depth.
    pub fn with_depth(num_classes: usize, depth: usize) -> Option<Self> {
        (depth >= 8 && (depth - 2).is_multiple_of(6))
            .then(|| Self::new(num_classes, (depth - 2) / 6))
    }

    /// Layers with weights: 6n + 2.
    pub fn depth(&self) -> usize {
        6 * self.blocks + 2
    }

    /// Builds the model on `device`, initialized as torchvision's ResNets.
    pub fn init(&self, device: &Device) -> CifarResNet {
        let n = self.blocks;
        let mut in_channels = self.widths[0];
        let mut stage = |i: usize| {
            let config = StageConfig::new(BlockKind::Basic, in_channels, self.widths[i], n)
                .with_stride(if i == 0 { 1 } else { 2 })
                .with_shortcut(self.shortcut)
                .with_zero_init_residual(self.zero_init_residual);
            in_channels = config.out_channels();
            config.init(device)
        };
        let (layer1, layer2, layer3) = (stage(0), stage(1), stage(2));
        CifarResNet {
            conv1: conv(self.in_channels, self.widths[0], 3, 1, 1).init(device),
            bn1: BatchNormConfig::new(self.widths[0]).init(device),
            relu: Relu::new(),
            layer1,
            layer2,
            layer3,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(in_channels, self.num_classes).init(device),
        }
    }
}

/// A CIFAR-style ResNet. Build it with [`CifarResNetConfig::init`].
#[derive(Module, Debug)]
pub struct CifarResNet {
    pub(crate) conv1: Conv2d,
    bn1: BatchNorm,
    relu: Relu,
    layer1: Vec<ResidualBlock>,
    layer2: Vec<ResidualBlock>,
    layer3: Vec<ResidualBlock>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl CifarResNet {
    /// # Shapes
    /// - images: `[batch, in_channels, height, width]` (32×32 for CIFAR, 28×28 for MNIST)
    /// - output: `[batch, num_classes]` logits
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = conv_bn(&self.conv1, &self.bn1, true, images);
        let x = forward_stage(&self.layer1, x);
        let x = forward_stage(&self.layer2, x);
        let x = forward_stage(&self.layer3, x);
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        self.fc.forward(x)
    }
}

impl ImageClassifier for CifarResNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        CifarResNet::forward(self, images)
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = conv_bn_onnx(
            graph,
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            true,
            images,
        )?;
        let x = graph.layer("layer1", &self.layer1, &x)?;
        let x = graph.layer("layer2", &self.layer2, &x)?;
        let x = graph.layer("layer3", &self.layer3, &x)?;
        let x = graph.layer("avgpool", &self.avgpool, &x)?;
        let x = graph.flatten(&x, 1);
        graph.layer("fc", &self.fc, &x)
    }
}
