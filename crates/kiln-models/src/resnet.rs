//! The ImageNet ResNets (`resnet18` … `resnet152`), torchvision's layout and parameter names:
//! `conv1` (7×7/2) → `bn1` → ReLU → max-pool 3×3/2 → `layer1` … `layer4` → global average pool
//! → `fc`. A torchvision state dict maps onto it 1:1 (`downsample.0/1` ↔ `downsample.conv/bn`).

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use crate::blocks::{BlockKind, ResidualBlock};
use crate::classifier::ImageClassifier;
use crate::conv_block::{conv_bn, conv_bn_onnx};
use crate::onnx::{ExportError, OnnxGraph};
use crate::stage::{StageConfig, forward_stage};
use crate::torch_init::conv;

/// Configuration of [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Output classes (1000 for ImageNet weights).
    pub num_classes: usize,
    /// Block of every stage.
    pub block: BlockKind,
    /// Blocks per stage.
    pub layers: [usize; 4],
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Stage widths (`planes`); torchvision's are 64, 128, 256, 512. The stem outputs the
    /// first.
    #[config(default = "[64, 128, 256, 512]")]
    pub widths: [usize; 4],
    /// Zero-initialize the last batch norm of every block (torchvision's
    /// `zero_init_residual`).
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl ResNetConfig {
    /// ResNet-18: basic blocks, 2-2-2-2.
    pub fn resnet18(num_classes: usize) -> Self {
        Self::new(num_classes, BlockKind::Basic, [2, 2, 2, 2])
    }
    /// ResNet-34: basic blocks, 3-4-6-3.
    pub fn resnet34(num_classes: usize) -> Self {
        Self::new(num_classes, BlockKind::Basic, [3, 4, 6, 3])
    }
    /// ResNet-50: bottlenecks, 3-4-6-3.
    pub fn resnet50(num_classes: usize) -> Self {
        Self::new(num_classes, BlockKind::Bottleneck, [3, 4, 6, 3])
    }
    /// ResNet-101: bottlenecks, 3-4-23-3.
    pub fn resnet101(num_classes: usize) -> Self {
        Self::new(num_classes, BlockKind::Bottleneck, [3, 4, 23, 3])
    }
    /// ResNet-152: bottlenecks, 3-8-36-3.
    pub fn resnet152(num_classes: usize) -> Self {
        Self::new(num_classes, BlockKind::Bottleneck, [3, 8, 36, 3])
    }

    /// Builds the model on `device`, initialized as torchvision (Kaiming normal fan-out convs,
    /// batch norm γ = 1, β = 0, PyTorch's default `Linear` init for `fc`).
    pub fn init(&self, device: &Device) -> ResNet {
        let stem = self.widths[0];
        let mut in_channels = stem;
        let mut stage = |i: usize| {
            let config = StageConfig::new(self.block, in_channels, self.widths[i], self.layers[i])
                .with_stride(if i == 0 { 1 } else { 2 })
                .with_zero_init_residual(self.zero_init_residual);
            in_channels = config.out_channels();
            config.init(device)
        };
        let (layer1, layer2, layer3, layer4) = (stage(0), stage(1), stage(2), stage(3));
        ResNet {
            conv1: conv(self.in_channels, stem, 7, 2, 3).init(device),
            bn1: BatchNormConfig::new(stem).init(device),
            relu: Relu::new(),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(in_channels, self.num_classes).init(device),
        }
    }
}

/// An ImageNet-style ResNet. Build it with [`ResNetConfig::init`].
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    relu: Relu,
    maxpool: MaxPool2d,
    layer1: Vec<ResidualBlock>,
    layer2: Vec<ResidualBlock>,
    layer3: Vec<ResidualBlock>,
    layer4: Vec<ResidualBlock>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl ResNet {
    /// # Shapes
    /// - images: `[batch, in_channels, height, width]`, any size ≥ 1 (224×224 for ImageNet;
    ///   the feature map is `⌈height / 32⌉` before pooling)
    /// - output: `[batch, num_classes]` logits
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = conv_bn(&self.conv1, &self.bn1, true, images);
        let x = self.maxpool.forward(x);
        let x = forward_stage(&self.layer1, x);
        let x = forward_stage(&self.layer2, x);
        let x = forward_stage(&self.layer3, x);
        let x = forward_stage(&self.layer4, x);
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        self.fc.forward(x)
    }
}

impl ImageClassifier for ResNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        ResNet::forward(self, images)
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = conv_bn_onnx(
            graph,
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            true,
            images,
        )?;
        let x = graph.layer("maxpool", &self.maxpool, &x)?;
        let x = graph.layer("layer1", &self.layer1, &x)?;
        let x = graph.layer("layer2", &self.layer2, &x)?;
        let x = graph.layer("layer3", &self.layer3, &x)?;
        let x = graph.layer("layer4", &self.layer4, &x)?;
        let x = graph.layer("avgpool", &self.avgpool, &x)?;
        let x = graph.flatten(&x, 1);
        graph.layer("fc", &self.fc, &x)
    }
}
