//! The one interface the trainer and evaluator need from a model.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::onnx::{ExportError, OnnxGraph};

/// A module mapping a batch of images to class logits.
pub trait ImageClassifier: Module {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`, normalized
    /// - output: `[batch, num_classes]` logits (unnormalized)
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;

    /// Writes [`ImageClassifier::forward`] as ONNX operators reading the value `images` and
    /// returns the logits' value: the layers' [`crate::onnx::ToOnnx`] in the order `forward`
    /// calls them (see `docs/extending.md`). By default the model has no export, an error
    /// naming its type.
    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let _ = images;
        Err(graph.unsupported(std::any::type_name::<Self>()))
    }
}
