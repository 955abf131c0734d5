//! What a registered architecture is: a serializable config that builds an [`ImageClassifier`].

use std::fmt::Debug;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::classifier::ImageClassifier;

/// The data-dependent sizes every architecture is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ModelSpec {
    /// Output classes.
    pub num_classes: usize,
    /// Input channels: 1 (grayscale) or 3 (RGB).
    pub in_channels: usize,
    /// Input height and width (square images).
    pub image_size: usize,
}

impl ModelSpec {
    /// A spec for `num_classes` classes of `in_channels`×`image_size`×`image_size` images.
    pub fn new(num_classes: usize, in_channels: usize, image_size: usize) -> Self {
        Self {
            num_classes,
            in_channels,
            image_size,
        }
    }
}

/// A serializable configuration that builds a model. Implementing it (plus
/// [`ImageClassifier`] on the model) is all kiln's trainer, evaluator, importer and CLI need;
/// see `docs/extending.md`.
pub trait Architecture:
    Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The model this configuration builds.
    type Model: ImageClassifier;

    /// Builds the model on `device` (freshly initialized).
    fn init(&self, device: &Device) -> Self::Model;

    /// The name of the final classification layer's field. Importing weights for another
    /// class count replaces it; freezing the backbone leaves it trainable.
    fn head(&self) -> &'static str {
        "head"
    }

    /// `(regex, replacement)` pairs mapping PyTorch state-dict keys to this model's parameter
    /// paths where the names cannot be equal (e.g. `downsample.0.` → `downsample.conv.`).
    fn torch_key_remaps(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// `(regex, replacement)` pairs mapping this model's parameter paths to PyTorch state-dict
    /// keys for export: the inverse of [`Architecture::torch_key_remaps`].
    fn torch_export_remaps(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Learnable parameters, counted as PyTorch's `sum(p.numel() for p in model.parameters())`:
/// Burn's [`Module::num_params`] also counts batch-norm running statistics (PyTorch buffers).
pub fn trainable_params<M: Module>(model: &M) -> usize {
    #[derive(Default)]
    struct Count {
        path: Vec<String>,
        total: usize,
    }
    impl ModuleVisitor for Count {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let buffer = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            if !buffer {
                self.total += param.lazy_shape().num_elements();
            }
        }
    }
    let mut count = Count::default();
    model.visit(&mut count);
    count.total
}
