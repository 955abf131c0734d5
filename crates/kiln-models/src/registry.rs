//! The built-in architectures by name. Adding one = its file + one [`ModelConfig`] /
//! [`Model`] variant + a line per name in [`ARCHITECTURES`]. Architectures defined outside
//! this crate implement [`Architecture`] themselves (see `docs/extending.md`).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::architecture::{Architecture, ModelSpec};
use crate::cifar_resnet::{CifarResNet, CifarResNetConfig};
use crate::classifier::ImageClassifier;
use crate::lenet::{LeNet5, LeNet5Config};
use crate::mnist_cnn::{MnistCnn, MnistCnnConfig};
use crate::onnx::{ExportError, OnnxGraph};
use crate::resnet::{ResNet, ResNetConfig};

/// An unknown architecture name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{name}` (known: {})", known.join(", "))]
pub struct UnknownModel {
    /// The name asked for.
    pub name: String,
    /// The names known.
    pub known: Vec<String>,
}

/// A named architecture: how to configure it for a dataset.
#[derive(Debug, Clone, Copy)]
pub struct ArchitectureInfo {
    /// The name (`--model`).
    pub name: &'static str,
    /// One line for `kiln models`.
    pub summary: &'static str,
    /// Its default configuration for a dataset.
    pub build: fn(&ModelSpec) -> ModelConfig,
}

fn resnet(config: ResNetConfig, spec: &ModelSpec) -> ModelConfig {
    ModelConfig::ResNet(config.with_in_channels(spec.in_channels))
}

fn cifar_resnet(blocks: usize, spec: &ModelSpec) -> ModelConfig {
    ModelConfig::CifarResNet(
        CifarResNetConfig::new(spec.num_classes, blocks).with_in_channels(spec.in_channels),
    )
}

/// Every built-in architecture.
pub const ARCHITECTURES: &[ArchitectureInfo] = &[
    ArchitectureInfo {
        name: "mnist-cnn",
        summary: "Burn's MNIST-example CNN: 2 conv-BN-ReLU-pool blocks, 3 linear layers",
        build: |s| {
            ModelConfig::MnistCnn(
                MnistCnnConfig::new(s.num_classes)
                    .with_in_channels(s.in_channels)
                    .with_image_size(s.image_size),
            )
        },
    },
    ArchitectureInfo {
        name: "lenet5",
        summary: "LeNet-5 (ReLU, max-pool): 2 conv, 3 linear layers",
        build: |s| {
            ModelConfig::LeNet5(
                LeNet5Config::new(s.num_classes)
                    .with_in_channels(s.in_channels)
                    .with_image_size(s.image_size),
            )
        },
    },
    ArchitectureInfo {
        name: "resnet18",
        summary: "torchvision ResNet-18: basic blocks 2-2-2-2, ImageNet stem",
        build: |s| resnet(ResNetConfig::resnet18(s.num_classes), s),
    },
    ArchitectureInfo {
        name: "resnet34",
        summary: "torchvision ResNet-34: basic blocks 3-4-6-3, ImageNet stem",
        build: |s| resnet(ResNetConfig::resnet34(s.num_classes), s),
    },
    ArchitectureInfo {
        name: "resnet50",
        summary: "torchvision ResNet-50 (V1.5): bottlenecks 3-4-6-3, ImageNet stem",
        build: |s| resnet(ResNetConfig::resnet50(s.num_classes), s),
    },
    ArchitectureInfo {
        name: "resnet101",
        summary: "torchvision ResNet-101 (V1.5): bottlenecks 3-4-23-3, ImageNet stem",
        build: |s| resnet(ResNetConfig::resnet101(s.num_classes), s),
    },
    ArchitectureInfo {
        name: "resnet152",
        summary: "torchvision ResNet-152 (V1.5): bottlenecks 3-8-36-3, ImageNet stem",
        build: |s| resnet(ResNetConfig::resnet152(s.num_classes), s),
    },
    ArchitectureInfo {
        name: "resnet20",
        summary: "CIFAR ResNet-20 (He et al. 2016): 3×3 stem, 3 stages of 3 blocks, option A",
        build: |s| cifar_resnet(3, s),
    },
    ArchitectureInfo {
        name: "resnet32",
        summary: "CIFAR ResNet-32: 3 stages of 5 basic blocks (16/32/64), option A",
        build: |s| cifar_resnet(5, s),
    },
    ArchitectureInfo {
        name: "resnet44",
        summary: "CIFAR ResNet-44: 3 stages of 7 basic blocks (16/32/64), option A",
        build: |s| cifar_resnet(7, s),
    },
    ArchitectureInfo {
        name: "resnet56",
        summary: "CIFAR ResNet-56: 3 stages of 9 basic blocks (16/32/64), option A",
        build: |s| cifar_resnet(9, s),
    },
    ArchitectureInfo {
        name: "resnet110",
        summary: "CIFAR ResNet-110: 3 stages of 18 basic blocks (16/32/64), option A",
        build: |s| cifar_resnet(18, s),
    },
];

/// The built-in architecture called `name`.
pub fn architecture(name: &str) -> Result<&'static ArchitectureInfo, UnknownModel> {
    ARCHITECTURES
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| UnknownModel {
            name: name.to_string(),
            known: ARCHITECTURES.iter().map(|a| a.name.to_string()).collect(),
        })
}

/// A built-in architecture with its configuration (serialized with an `architecture` tag).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// [`MnistCnn`].
    MnistCnn(MnistCnnConfig),
    /// [`LeNet5`].
    #[serde(rename = "lenet5")]
    LeNet5(LeNet5Config),
    /// [`ResNet`].
    #[serde(rename = "resnet")]
    ResNet(ResNetConfig),
    /// [`CifarResNet`].
    #[serde(rename = "cifar-resnet")]
    CifarResNet(CifarResNetConfig),
}

impl ModelConfig {
    /// The default configuration of the built-in architecture `name` for `spec`.
    pub fn from_name(name: &str, spec: &ModelSpec) -> Result<Self, UnknownModel> {
        Ok((architecture(name)?.build)(spec))
    }

    /// The name of the registered architecture this configuration equals, if any (e.g.
    /// `resnet50`), else its family (`resnet`, `cifar-resnet`).
    pub fn name(&self) -> String {
        let spec = self.spec();
        ARCHITECTURES
            .iter()
            .find(|a| {
                serde_json::to_value((a.build)(&spec)).ok() == serde_json::to_value(self).ok()
            })
            .map(|a| a.name.to_string())
            .unwrap_or_else(|| self.family().to_string())
    }

    /// The architecture family (the serialized `architecture` tag).
    pub fn family(&self) -> &'static str {
        match self {
            Self::MnistCnn(_) => "mnist-cnn",
            Self::LeNet5(_) => "lenet5",
            Self::ResNet(_) => "resnet",
            Self::CifarResNet(_) => "cifar-resnet",
        }
    }

    /// The sizes the configuration was built for (ResNets accept any image size; 224 is
    /// reported for them).
    pub fn spec(&self) -> ModelSpec {
        match self {
            Self::MnistCnn(c) => ModelSpec::new(c.num_classes, c.in_channels, c.image_size),
            Self::LeNet5(c) => ModelSpec::new(c.num_classes, c.in_channels, c.image_size),
            Self::ResNet(c) => ModelSpec::new(c.num_classes, c.in_channels, 224),
            Self::CifarResNet(c) => ModelSpec::new(c.num_classes, c.in_channels, 32),
        }
    }
}

impl Architecture for ModelConfig {
    type Model = Model;

    fn init(&self, device: &Device) -> Model {
        match self {
            Self::MnistCnn(c) => Model::MnistCnn(c.init(device)),
            Self::LeNet5(c) => Model::LeNet5(c.init(device)),
            Self::ResNet(c) => Model::ResNet(c.init(device)),
            Self::CifarResNet(c) => Model::CifarResNet(c.init(device)),
        }
    }

    fn head(&self) -> &'static str {
        match self {
            Self::MnistCnn(_) | Self::LeNet5(_) => "head",
            Self::ResNet(_) | Self::CifarResNet(_) => "fc",
        }
    }

    fn torch_key_remaps(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ResNet(_) | Self::CifarResNet(_) => &[
                (r"\.downsample\.0\.", ".downsample.conv."),
                (r"\.downsample\.1\.", ".downsample.bn."),
            ],
            Self::MnistCnn(_) | Self::LeNet5(_) => &[],
        }
    }

    fn torch_export_remaps(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ResNet(_) | Self::CifarResNet(_) => &[
                (r"\.downsample\.conv\.", ".downsample.0."),
                (r"\.downsample\.bn\.", ".downsample.1."),
            ],
            Self::MnistCnn(_) | Self::LeNet5(_) => &[],
        }
    }
}

impl std::fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Any built-in architecture.
// Built once per run: the size of the largest variant costs nothing, and boxing it would
// change Burn's module paths.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// [`MnistCnn`].
    MnistCnn(MnistCnn),
    /// [`LeNet5`].
    LeNet5(LeNet5),
    /// [`ResNet`].
    ResNet(ResNet),
    /// [`CifarResNet`].
    CifarResNet(CifarResNet),
}

impl ImageClassifier for Model {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Self::MnistCnn(m) => m.forward(images),
            Self::LeNet5(m) => m.forward(images),
            Self::ResNet(m) => m.forward(images),
            Self::CifarResNet(m) => m.forward(images),
        }
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        match self {
            Self::MnistCnn(m) => ImageClassifier::to_onnx(m, graph, images),
            Self::LeNet5(m) => ImageClassifier::to_onnx(m, graph, images),
            Self::ResNet(m) => ImageClassifier::to_onnx(m, graph, images),
            Self::CifarResNet(m) => ImageClassifier::to_onnx(m, graph, images),
        }
    }
}
