//! The one interface the trainer and evaluator need from a model.

use burn::module::Module;
use burn::tensor::Tensor;

/// A module mapping a batch of images to class logits.
pub trait ImageClassifier: Module {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`, normalized
    /// - output: `[batch, num_classes]` logits (unnormalized)
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;
}
