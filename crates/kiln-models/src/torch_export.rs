//! Exporting a model's weights with PyTorch's names and layouts, as a safetensors file that
//! `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` accepts: torchvision's
//! keys for the ResNets (`bn1.weight`, `running_mean`, `num_batches_tracked`,
//! `downsample.0.weight`), the module paths for the other architectures. [`import_weights`]
//! reads the file back.
//!
//! [`import_weights`]: crate::import_weights

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::KeyRemapper;
use safetensors::{Dtype, tensor::TensorView};

use crate::architecture::Architecture;
use crate::onnx::ExportError;

/// One tensor of a PyTorch state dict: float32 weights or the int64 `num_batches_tracked`.
#[derive(Debug, Clone, PartialEq)]
pub enum TorchTensor {
    /// A float32 tensor: shape and row-major values.
    F32(Vec<usize>, Vec<f32>),
    /// An int64 scalar (batch norm's `num_batches_tracked`).
    I64(i64),
}

/// `model`'s tensors by their PyTorch names: a normalization layer's (batch, layer, group,
/// RMS norm) `gamma`/`beta` as `weight`/`bias`, a
/// `Linear` weight transposed to `[out, in]`, enum variants left out of the path, the
/// architecture's [`Architecture::torch_export_remaps`] applied, and a `num_batches_tracked` of
/// 0 beside every batch norm (kiln does not count batches; PyTorch reads the counter only when
/// a batch norm's `momentum` is `None`).
pub fn torch_state_dict<A: Architecture>(
    arch: &A,
    model: &A::Model,
) -> Result<BTreeMap<String, TorchTensor>, ExportError> {
    let remaps = KeyRemapper::from_patterns(arch.torch_export_remaps().to_vec())
        .map_err(|e| ExportError::Tensor {
            name: "the architecture's key remapping".into(),
            message: e.to_string(),
        })?
        .to_regex_pairs();
    let mut visitor = StateDict::default();
    model.visit(&mut visitor);
    if let Some(error) = visitor.error {
        return Err(error);
    }
    Ok(visitor
        .tensors
        .into_iter()
        .map(|(name, tensor)| {
            let name = remaps.iter().fold(name, |name, (pattern, replacement)| {
                pattern
                    .replace_all(&name, replacement.as_str())
                    .into_owned()
            });
            (name, tensor)
        })
        .collect())
}

/// [`torch_state_dict`] serialized as a safetensors file's bytes.
pub fn torch_safetensors<A: Architecture>(
    arch: &A,
    model: &A::Model,
) -> Result<Vec<u8>, ExportError> {
    let tensors = torch_state_dict(arch, model)?;
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, tensor)| match tensor {
            TorchTensor::F32(shape, values) => {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, Dtype::F32, shape, bytes)
            }
            TorchTensor::I64(value) => (name, Dtype::I64, vec![], value.to_le_bytes().to_vec()),
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data).map(|view| (name.as_str(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(ExportError::Safetensors)?;
    safetensors::serialize(views, None).map_err(ExportError::Safetensors)
}

/// Collects every float parameter and buffer under its PyTorch name.
#[derive(Default)]
struct StateDict {
    /// `(name, container type)` of the modules entered.
    path: Vec<(String, String)>,
    tensors: BTreeMap<String, TorchTensor>,
    error: Option<ExportError>,
}

impl ModuleVisitor for StateDict {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some((field, container)) = self.path.last().cloned() else {
            return;
        };
        let module: Vec<&str> = self.path[..self.path.len() - 1]
            .iter()
            .filter(|(_, container)| !container.starts_with("Enum:"))
            .map(|(name, _)| name.as_str())
            .collect();
        let key = |field: &str| {
            module
                .iter()
                .copied()
                .chain(std::iter::once(field))
                .collect::<Vec<_>>()
                .join(".")
        };
        let mut tensor = param.val();
        let norm = matches!(
            container.as_str(),
            "Struct:BatchNorm" | "Struct:LayerNorm" | "Struct:GroupNorm" | "Struct:RmsNorm"
        );
        let field = match (container.as_str(), field.as_str()) {
            (_, "gamma") if norm => "weight".to_string(),
            (_, "beta") if norm => "bias".to_string(),
            ("Struct:BatchNorm", "running_var") => {
                self.tensors
                    .insert(key("num_batches_tracked"), TorchTensor::I64(0));
                field
            }
            ("Struct:Linear", "weight") if D == 2 => {
                tensor = tensor.transpose();
                field
            }
            _ => field,
        };
        let name = key(&field);
        let shape = tensor.dims().to_vec();
        match crate::onnx::f32_values(tensor.to_data()) {
            Ok(values) => {
                self.tensors.insert(name, TorchTensor::F32(shape, values));
            }
            Err(message) => self.error = Some(ExportError::Tensor { name, message }),
        }
    }
}
