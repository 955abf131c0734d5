//! `mnist-cnn`: the layers of Burn's own MNIST example, the reference for kiln's benchmarks.
//!
//! Conv2d(1→64, 3×3) → BN → ReLU → MaxPool 2×2 → Conv2d(64→64, 3×3) → BN → ReLU → MaxPool 2×2 →
//! flatten (64·5·5 = 1600 for 28×28 input) → Linear 128 → GELU → Dropout → Linear 128 → GELU →
//! Dropout → Linear(num_classes).

use burn::nn::{Dropout, DropoutConfig, Gelu, Linear, LinearConfig};
use burn::prelude::*;

use crate::classifier::ImageClassifier;
use crate::conv_block::{ConvBlock, ConvBlockConfig};
use crate::onnx::{ExportError, OnnxGraph};

/// Configuration of [`MnistCnn`].
#[derive(Config, Debug)]
pub struct MnistCnnConfig {
    /// Number of output classes.
    pub num_classes: usize,
    /// Input channels (1 for grayscale).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Input height and width; 28 for the MNIST family.
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of both convolutions.
    #[config(default = 64)]
    pub channels: usize,
    /// Width of the two hidden linear layers.
    #[config(default = 128)]
    pub hidden: usize,
    /// Dropout probability after each hidden linear layer.
    #[config(default = 0.25)]
    pub dropout: f64,
}

impl MnistCnnConfig {
    /// Spatial size after the two conv blocks: each is a valid 3×3 conv then a 2×2 pool.
    fn feature_size(&self) -> usize {
        let block = |s: usize| (s.saturating_sub(2)) / 2;
        block(block(self.image_size))
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> MnistCnn {
        let flat = self.channels * self.feature_size().pow(2);
        MnistCnn {
            block1: ConvBlockConfig::new(self.in_channels, self.channels).init(device),
            block2: ConvBlockConfig::new(self.channels, self.channels).init(device),
            fc1: LinearConfig::new(flat, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.hidden).init(device),
            head: LinearConfig::new(self.hidden, self.num_classes).init(device),
            activation: Gelu::new(),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// The reference CNN. Build it with [`MnistCnnConfig::init`].
#[derive(Module, Debug)]
pub struct MnistCnn {
    pub(crate) block1: ConvBlock,
    block2: ConvBlock,
    fc1: Linear,
    fc2: Linear,
    head: Linear,
    activation: Gelu,
    dropout: Dropout,
}

impl MnistCnn {
    /// # Shapes
    /// - images: `[batch, in_channels, image_size, image_size]`, normalized
    /// - output: `[batch, num_classes]` logits
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.block2.forward(self.block1.forward(images));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self
            .dropout
            .forward(self.activation.forward(self.fc1.forward(x)));
        let x = self
            .dropout
            .forward(self.activation.forward(self.fc2.forward(x)));
        self.head.forward(x)
    }
}

impl ImageClassifier for MnistCnn {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        MnistCnn::forward(self, images)
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = graph.layer("block1", &self.block1, images)?;
        let x = graph.layer("block2", &self.block2, &x)?;
        let x = graph.flatten(&x, 1);
        let x = graph.layer("fc1", &self.fc1, &x)?;
        let x = graph.layer("activation", &self.activation, &x)?;
        let x = graph.layer("dropout", &self.dropout, &x)?;
        let x = graph.layer("fc2", &self.fc2, &x)?;
        let x = graph.layer("activation", &self.activation, &x)?;
        let x = graph.layer("dropout", &self.dropout, &x)?;
        graph.layer("head", &self.head, &x)
    }
}
