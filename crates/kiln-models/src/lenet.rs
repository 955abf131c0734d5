//! LeNet-5 (LeCun et al. 1998) in its common modern form: ReLU and max-pooling in place of the
//! scaled tanh and trainable sub-sampling, a 10-way linear head instead of RBF units.
//!
//! `conv1` 5×5 (6, padding 2) → ReLU → max-pool 2 → `conv2` 5×5 (16) → ReLU → max-pool 2 →
//! flatten (16·5·5 = 400 for 28×28) → `fc1` 120 → ReLU → `fc2` 84 → ReLU → `head`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use crate::classifier::ImageClassifier;
use crate::onnx::{ExportError, OnnxGraph};

/// Configuration of [`LeNet5`].
#[derive(Config, Debug)]
pub struct LeNet5Config {
    /// Output classes.
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Input height and width (28 for the MNIST family, 32 for CIFAR).
    #[config(default = 28)]
    pub image_size: usize,
}

impl LeNet5Config {
    /// Spatial size entering `fc1`: conv1 keeps the size, pool halves, conv2 removes 4, pool
    /// halves.
    fn feature_size(&self) -> usize {
        (self.image_size / 2).saturating_sub(4) / 2
    }

    /// Builds the model on `device` (Burn's default initializers: PyTorch's defaults).
    pub fn init(&self, device: &Device) -> LeNet5 {
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        LeNet5 {
            conv1: Conv2dConfig::new([self.in_channels, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            fc1: LinearConfig::new(16 * self.feature_size().pow(2), 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            head: LinearConfig::new(84, self.num_classes).init(device),
            pool,
            relu: Relu::new(),
        }
    }
}

/// LeNet-5. Build it with [`LeNet5Config::init`].
#[derive(Module, Debug)]
pub struct LeNet5 {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    head: Linear,
    pool: MaxPool2d,
    relu: Relu,
}

impl LeNet5 {
    /// # Shapes
    /// - images: `[batch, in_channels, image_size, image_size]`, normalized
    /// - output: `[batch, num_classes]` logits
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.relu.forward(self.conv1.forward(images)));
        let x = self.pool.forward(self.relu.forward(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.relu.forward(self.fc1.forward(x));
        let x = self.relu.forward(self.fc2.forward(x));
        self.head.forward(x)
    }
}

impl ImageClassifier for LeNet5 {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        LeNet5::forward(self, images)
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = graph.layer("conv1", &self.conv1, images)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("pool", &self.pool, &x)?;
        let x = graph.layer("conv2", &self.conv2, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("pool", &self.pool, &x)?;
        let x = graph.flatten(&x, 1);
        let x = graph.layer("fc1", &self.fc1, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("fc2", &self.fc2, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        graph.layer("head", &self.head, &x)
    }
}
