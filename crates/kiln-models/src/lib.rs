//! Model architectures for kiln.
//!
//! - [`ImageClassifier`]: what the trainer needs — images `[batch, channels, height, width]` to
//!   logits `[batch, num_classes]`; [`Architecture`]: a serializable config that builds one.
//! - Built-ins ([`ARCHITECTURES`], [`ModelConfig`] / [`Model`]): [`MnistCnn`] (the reference
//!   CNN), [`LeNet5`], the torchvision [`ResNet`]s (`resnet18` … `resnet152`) and the CIFAR
//!   [`CifarResNet`]s (`resnet20` … `resnet110`), built from [`ResidualBlock`]s
//!   ([`BasicBlock`], [`Bottleneck`]) in [`StageConfig`] stages.
//! - [`import_weights`]: torchvision/PyTorch state dicts (`.pth`, `.safetensors`) and kiln
//!   checkpoints, with the head replaced for another class count; [`freeze_backbone`].
//! - [`onnx`]: export to ONNX ([`onnx::export_onnx`], every built-in architecture and
//!   kiln's blocks); [`torch_safetensors`]: the weights with PyTorch's (torchvision's) names.
//! - [`replicas`]: batch norm across the replicas of a data-parallel step ([`batch_norm`]:
//!   synchronized like PyTorch's `SyncBatchNorm`, or per replica).
//! - `kernels` (feature `flex`): conv → batch norm → ReLU → max-pool as one fused Flex operation
//!   with a handwritten backward, which [`ConvBlock`] and the ResNet blocks use on Flex.
//!
//! An architecture by name, built for a dataset's sizes, with PyTorch's parameter count:
//!
//! ```
//! use burn::tensor::Device;
//! use kiln_models::{Architecture, ModelConfig, ModelSpec, trainable_params};
//!
//! let config = ModelConfig::from_name("resnet20", &ModelSpec::new(10, 3, 32))?;
//! let model = config.init(&Device::default());
//! assert_eq!(trainable_params(&model), 269_722); // He et al.'s 0.27M
//! # Ok::<(), kiln_models::UnknownModel>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod architecture;
mod blocks;
mod cifar_resnet;
mod classifier;
mod conv_block;
#[cfg(feature = "flex")]
pub mod kernels;
mod lenet;
mod mnist_cnn;
pub mod onnx;
mod pretrained;
mod registry;
pub mod replicas;
mod resnet;
mod shortcut;
mod stage;
mod torch_export;
mod torch_init;

pub use architecture::{Architecture, ModelSpec, trainable_params};
pub use blocks::{BasicBlock, BlockKind, Bottleneck, ResidualBlock, ResidualBlockConfig};
pub use cifar_resnet::{CifarResNet, CifarResNetConfig};
pub use classifier::ImageClassifier;
pub use conv_block::{ConvBlock, ConvBlockConfig, ConvNormBlock, ConvNormBlockConfig};
pub use lenet::{LeNet5, LeNet5Config};
pub use mnist_cnn::{MnistCnn, MnistCnnConfig};
pub use pretrained::{ImportError, ImportReport, WeightsFormat, freeze_backbone, import_weights};
pub use registry::{
    ARCHITECTURES, ArchitectureInfo, Model, ModelConfig, UnknownModel, architecture,
};
pub use replicas::batch_norm;
pub use resnet::{ResNet, ResNetConfig};
pub use shortcut::{Downsample, Projection, ShortcutKind, ZeroPad};
pub use stage::{StageConfig, forward_stage};
pub use torch_export::{TorchTensor, torch_safetensors, torch_state_dict};

/// Whether kiln's fused kernels can run on `device` (a Flex device, with the `flex` feature).
pub fn has_fused_kernels(device: &burn::tensor::Device) -> bool {
    #[cfg(feature = "flex")]
    return device.clone().inner() == burn::tensor::Device::flex();
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// Runs `f` with kiln's fused Flex kernels off on this thread: every layer takes Burn's ops
/// (without the `flex` feature there are none to turn off).
pub fn with_reference_ops<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "flex")]
    return kernels::with_reference_ops(f);
    #[cfg(not(feature = "flex"))]
    f()
}

#[cfg(test)]
#[path = "tests/mnist_cnn.rs"]
mod tests;

#[cfg(all(test, feature = "flex"))]
#[path = "tests/kernels.rs"]
mod kernel_tests;

#[cfg(all(test, feature = "flex"))]
#[path = "tests/replicas.rs"]
mod replica_tests;

#[cfg(test)]
#[path = "tests/architectures.rs"]
mod architecture_tests;
