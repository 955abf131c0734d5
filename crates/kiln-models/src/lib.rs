//! Model architectures for kiln.
//!
//! - [`ImageClassifier`]: what the trainer needs — images `[batch, channels, height, width]` to
//!   logits `[batch, num_classes]`.
//! - [`MnistCnn`] / [`MnistCnnConfig`]: the reference CNN (Burn's MNIST example layers).
//! - [`ModelConfig`] / [`Model`]: the registry — architectures by name, serializable configs,
//!   `init(device)`.

mod classifier;
mod conv_block;
mod mnist_cnn;
mod registry;

pub use classifier::ImageClassifier;
pub use conv_block::{ConvBlock, ConvBlockConfig};
pub use mnist_cnn::{MnistCnn, MnistCnnConfig};
pub use registry::{MODEL_NAMES, Model, ModelConfig, UnknownModel};

#[cfg(test)]
#[path = "tests/mnist_cnn.rs"]
mod tests;
