//! Your own architecture in kiln, outside its crates: TinyVGG (the CNN Explainer network, with
//! a batch norm after each convolution) built from kiln's `ConvNormBlock` and defined here, registered under `tiny-vgg`, and trained, evaluated, listed and used for
//! prediction by kiln's unchanged command line. `docs/extending.md` walks through this file.
//!
//! ```text
//! cargo run --release --example custom_model                       # train tiny-vgg on Fashion-MNIST
//! cargo run --release --example custom_model -- models             # tiny-vgg listed with the built-ins
//! cargo run --release --example custom_model -- train --model tiny-vgg --epochs 3 [kiln train flags]
//! cargo run --release --example custom_model -- eval --artifact-dir artifacts/fashion-mnist
//! cargo run --release --example custom_model -- export --artifact-dir artifacts/fashion-mnist
//! ```

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use kiln::models::onnx::{ExportError, OnnxGraph};
use kiln::models::{Architecture, ConvNormBlock, ConvNormBlockConfig, ImageClassifier, ModelSpec};
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
        // 3×3 conv (padding 1) → batch norm → ReLU, then a 2×2 max-pool where `pool` is set.
        let block = |input: usize, pool: bool| {
            ConvNormBlockConfig::new(input, self.hidden)
                .with_pool(pool)
                .init(device)
        };
        let features = self.hidden * (self.image_size / 4).pow(2);
        TinyVgg {
            block1: block(self.in_channels, false),
            block2: block(self.hidden, true),
            block3: block(self.hidden, false),
            block4: block(self.hidden, true),
            head: LinearConfig::new(features, self.num_classes).init(device),
        }
    }
}

/// TinyVGG: two stages of (3×3 conv → BN → ReLU → 3×3 conv → BN → ReLU → 2×2 max-pool), then
/// a linear head.
#[derive(Module, Debug)]
pub struct TinyVgg {
    block1: ConvNormBlock,
    block2: ConvNormBlock,
    block3: ConvNormBlock,
    block4: ConvNormBlock,
    head: Linear,
}

impl ImageClassifier for TinyVgg {
    /// # Shapes
    /// - images: `[batch, in_channels, image_size, image_size]`
    /// - output: `[batch, num_classes]` logits
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.block1.forward(images); // [batch, hidden, size, size]
        let x = self.block2.forward(x); // [batch, hidden, size / 2, size / 2]
        let x = self.block3.forward(x);
        let x = self.block4.forward(x); // [batch, hidden, size / 4, size / 4]
        self.head.forward(x.flatten(1, 3))
    }

    /// `forward`'s layers in the same order, as ONNX operators (for `kiln export`).
    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = graph.layer("block1", &self.block1, images)?;
        let x = graph.layer("block2", &self.block2, &x)?;
        let x = graph.layer("block3", &self.block3, &x)?;
        let x = graph.layer("block4", &self.block4, &x)?;
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
        "TinyVGG: 2 × (conv-BN-ReLU, conv-BN-ReLU-pool), linear head",
        |s: &ModelSpec| TinyVggConfig::new(s.num_classes, s.in_channels, s.image_size),
    )
}

/// Large blocks on transparent huge pages ([`kiln::allocator::HugePages`]). (Not in the tests,
/// which include this file as a module of their own binary.)
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: kiln::allocator::HugePages = kiln::allocator::HugePages;

fn main() {
    kiln::allocator::keep_freed_memory();
    let mut args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        args.extend(["train", "--model", "tiny-vgg", "--epochs", "1"].map(String::from));
    }
    std::process::exit(kiln::cli::main(&registry(), args));
}
