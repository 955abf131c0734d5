//! Architectures by name: one line per architecture in [`ModelConfig`].

use std::fmt;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classifier::ImageClassifier;
use crate::mnist_cnn::{MnistCnn, MnistCnnConfig};

/// An unknown architecture name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{name}` (known: {})", known.join(", "))]
pub struct UnknownModel {
    /// The name asked for.
    pub name: String,
    /// The names kiln knows.
    pub known: Vec<&'static str>,
}

/// A serializable choice of architecture with its configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// [`MnistCnn`].
    MnistCnn(MnistCnnConfig),
}

/// Names accepted by [`ModelConfig::from_name`].
pub const MODEL_NAMES: &[&str] = &["mnist-cnn"];

impl ModelConfig {
    /// The default configuration of the architecture called `name` for `num_classes` classes,
    /// `in_channels` channels and square images of `image_size` pixels.
    pub fn from_name(
        name: &str,
        num_classes: usize,
        in_channels: usize,
        image_size: usize,
    ) -> Result<Self, UnknownModel> {
        match name {
            "mnist-cnn" => Ok(Self::MnistCnn(
                MnistCnnConfig::new(num_classes)
                    .with_in_channels(in_channels)
                    .with_image_size(image_size),
            )),
            _ => Err(UnknownModel {
                name: name.to_string(),
                known: MODEL_NAMES.to_vec(),
            }),
        }
    }

    /// The architecture's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MnistCnn(_) => "mnist-cnn",
        }
    }

    /// Builds the model on `device`.
    pub fn init(&self, device: &Device) -> Model {
        match self {
            Self::MnistCnn(c) => Model::MnistCnn(c.init(device)),
        }
    }
}

impl fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Any registered architecture.
#[derive(Module, Debug)]
pub enum Model {
    /// [`MnistCnn`].
    MnistCnn(MnistCnn),
}

impl ImageClassifier for Model {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Self::MnistCnn(m) => m.forward(images),
        }
    }
}
