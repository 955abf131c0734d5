//! Your own architecture in kiln, outside its crates: TinyVGG (the CNN Explainer network)
//! defined here, registered under `tiny-vgg`, and trained, evaluated, listed and used for
//! prediction by kiln's unchanged command line. `docs/extending.md` walks through this file.
//!
//! ```text
//! cargo run --release --example custom_model                       # train tiny-vgg on Fashion-MNIST
//! cargo run --release --example custom_model -- models             # tiny-vgg listed with the built-ins
//! cargo run --release --example custom_model -- train --model tiny-vgg --epochs 3 [kiln train flags]
//! cargo run --release --example custom_model -- eval --artifact-dir artifacts/fashion-mnist
//! cargo run --release --example custom_model -- export --artifact-dir artifacts/fashion-mnist
//! ```

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use kiln::models::onnx::{ExportError, OnnxGraph};
use kiln::models::{Architecture, ImageClassifier, ModelSpec};
use kiln::train::Registry;

/// Configuration of [`TinyVgg`]: everything needed to rebuild the model, saved with every run.
#[derive(Config, Debug)]
pub struct TinyVggConfig {
    /// Output classes.
    pub num_classes: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub image_size: usize,
    /// Channels of every convolution.
    #[config(default = 16)]
    pub hidden: usize,
}

impl TinyVggConfig {
    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> TinyVgg {
        let conv = |input: usize| {
            Conv2dConfig::new([input, self.hidden], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let features = self.hidden * (self.image_size / 4).pow(2);
        TinyVgg {
            conv1: conv(self.in_channels),
            conv2: conv(self.hidden),
            conv3: conv(self.hidden),
            conv4: conv(self.hidden),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            relu: Relu::new(),
            head: LinearConfig::new(features, self.num_classes).init(device),
        }
    }
}

/// TinyVGG: two blocks of (3×3 conv → ReLU → 3×3 conv → ReLU → 2×2 max-pool), then a linear
/// head.
#[derive(Module, Debug)]
pub struct TinyVgg {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    conv4: Conv2d,
    pool: MaxPool2d,
    relu: Relu,
    head: Linear,
}

impl ImageClassifier for TinyVgg {
    /// # Shapes
    /// - images: `[batch, in_channels, image_size, image_size]`
    /// - output: `[batch, num_classes]` logits
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.relu.forward(self.conv1.forward(images));
        let x = self.relu.forward(self.conv2.forward(x));
        let x = self.pool.forward(x); // [batch, hidden, size / 2, size / 2]
        let x = self.relu.forward(self.conv3.forward(x));
        let x = self.relu.forward(self.conv4.forward(x));
        let x = self.pool.forward(x); // [batch, hidden, size / 4, size / 4]
        self.head.forward(x.flatten(1, 3))
    }

    /// `forward`'s layers in the same order, as ONNX operators (for `kiln export`).
    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = graph.layer("conv1", &self.conv1, images)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("conv2", &self.conv2, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("pool", &self.pool, &x)?;
        let x = graph.layer("conv3", &self.conv3, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("conv4", &self.conv4, &x)?;
        let x = graph.layer("relu", &self.relu, &x)?;
        let x = graph.layer("pool", &self.pool, &x)?;
        let x = graph.flatten(&x, 1);
        graph.layer("head", &self.head, &x)
    }
}

impl Architecture for TinyVggConfig {
    type Model = TinyVgg;

    fn init(&self, device: &Device) -> TinyVgg {
        TinyVggConfig::init(self, device)
    }
}

/// kiln's built-in architectures plus `tiny-vgg`.
pub fn registry() -> Registry {
    Registry::builtin().with(
        "tiny-vgg",
        "TinyVGG: 2 × (conv-ReLU-conv-ReLU-pool), linear head",
        |s: &ModelSpec| TinyVggConfig::new(s.num_classes, s.in_channels, s.image_size),
    )
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        args.extend(["train", "--model", "tiny-vgg", "--epochs", "1"].map(String::from));
    }
    std::process::exit(kiln::cli::main(&registry(), args));
}
