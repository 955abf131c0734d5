//! Importing trained weights: PyTorch state dicts (`.pth`/`.pt`, e.g. torchvision's ResNets),
//! safetensors, and kiln's own burnpack checkpoints; freezing a backbone for fine-tuning.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamGroup};
use burn::prelude::*;
use burn::store::bridge::to_data;
use burn::store::{
    ApplyError, ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

use crate::architecture::Architecture;

/// A weights file that cannot be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The extension names no supported format.
    #[error("{}: unknown weights format (expected .pth, .pt, .safetensors or .bpk)", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read as its format.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file's tensors do not fit the model.
    #[error("{}: the weights do not fit the model:{}", path.display(), mismatch_text(missing, unexpected, mis_shaped))]
    Mismatch {
        /// Model parameters the file lacks.
        missing: Vec<String>,
        /// File tensors the model has no parameter for.
        unexpected: Vec<String>,
        /// `name: expected [..], found [..]` for tensors of the wrong shape (or type).
        mis_shaped: Vec<String>,
        /// The file.
        path: PathBuf,
    },
}

fn mismatch_text(missing: &[String], unexpected: &[String], mis_shaped: &[String]) -> String {
    let mut out = String::new();
    for (title, keys) in [
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("mis-shaped keys", mis_shaped),
    ] {
        if !keys.is_empty() {
            out += &format!("\n  {title} ({}): {}", keys.len(), keys.join(", "));
        }
    }
    out
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Tensors loaded into the model (`None` for a `.bpk` checkpoint, loaded as a whole).
    pub applied: Option<usize>,
    /// The head kept freshly initialized because the file's has another shape (another class
    /// count): `(name, found shape, model shape)` per tensor.
    pub replaced_head: Vec<(String, Vec<usize>, Vec<usize>)>,
    /// Input convolutions of RGB weights (`[out, 3, kh, kw]`) loaded into a grayscale model
    /// (`[out, 1, kh, kw]`) as the sum over the three input channels, so a gray image `x` gets
    /// the response the RGB weights give to `(x, x, x)` (timm's `adapt_input_conv`).
    pub gray_input: Vec<String>,
}

/// The supported weight formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    /// A PyTorch pickle (`torch.save(model.state_dict())`), `.pth` / `.pt`.
    PyTorch,
    /// A safetensors file with PyTorch names and layouts.
    SafeTensors,
    /// kiln's own checkpoint (`model.bpk`).
    Burnpack,
}

impl WeightsFormat {
    /// The format of `path`, by its extension.
    pub fn of(path: &Path) -> Result<Self, ImportError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("pth" | "pt") => Ok(Self::PyTorch),
            Some("safetensors") => Ok(Self::SafeTensors),
            Some("bpk") => Ok(Self::Burnpack),
            _ => Err(ImportError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Loads the weights in `path` into `model` (built from `arch`).
///
/// PyTorch and safetensors files must hold a state dict with PyTorch's names and layouts (as
/// torchvision's); every model parameter must be in the file and every file tensor in the
/// model (batch-norm `num_batches_tracked` counters aside), or the error lists the missing,
/// unexpected and mis-shaped keys. Two exceptions, both in the report: the head
/// ([`Architecture::head`]) keeps its fresh initialization when only its shapes differ
/// (ImageNet's 1000 classes, the model's 10) — the head is replaced for the new class count;
/// and an RGB input convolution loads into a grayscale model as the sum of its three input
/// channels ([`ImportReport::gray_input`]).
/// kiln's own `.bpk` checkpoints must match the model exactly.
pub fn import_weights<A: Architecture>(
    arch: &A,
    model: A::Model,
    path: &Path,
) -> Result<(A::Model, ImportReport), ImportError> {
    if !path.is_file() {
        return Err(read_error(path, "no such file"));
    }
    match WeightsFormat::of(path)? {
        WeightsFormat::Burnpack => {
            let model = model.try_load_file(path).map_err(|e| read_error(path, e))?;
            Ok((model, ImportReport::default()))
        }
        format => {
            let remaps = KeyRemapper::from_patterns(arch.torch_key_remaps().to_vec())
                .map_err(|e| read_error(path, format!("the architecture's key remapping: {e}")))?;
            // Missing/unexpected/mis-shaped tensors are collected and judged by `check`.
            if format == WeightsFormat::PyTorch {
                let mut store = PytorchStore::from_file(path)
                    .map_indices_contiguous(false)
                    .allow_partial(true)
                    .validate(false)
                    .remap(remaps);
                import_from(model, &mut store, arch.head(), path)
            } else {
                let mut store = SafetensorsStore::from_file(path)
                    .with_from_adapter(PyTorchToBurnAdapter)
                    .skip_enum_variants(true)
                    .map_indices_contiguous(false)
                    .allow_partial(true)
                    .validate(false)
                    .remap(remaps);
                import_from(model, &mut store, arch.head(), path)
            }
        }
    }
}

fn read_error(path: &Path, message: impl std::fmt::Display) -> ImportError {
    ImportError::Read {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Applies `store` to `model`, checks the result, and adapts RGB input convolutions to a
/// grayscale model.
fn import_from<M: Module, S: ModuleStore>(
    mut model: M,
    store: &mut S,
    head: &str,
    path: &Path,
) -> Result<(M, ImportReport), ImportError>
where
    S::Error: std::fmt::Display,
{
    let result = model.load_from(store).map_err(|e| read_error(path, e))?;
    let report = check(result, head, path)?;
    for name in &report.gray_input {
        let tensor = store
            .get_tensor(name)
            .map_err(|e| read_error(path, e))?
            .ok_or_else(|| read_error(path, format!("{name}: listed but not readable")))?;
        let data = to_data(tensor).map_err(|e| read_error(path, format!("{name}: {e}")))?;
        let summed =
            sum_input_channels(data).map_err(|e| read_error(path, format!("{name}: {e}")))?;
        model = model.map(&mut SetParam {
            path: Vec::new(),
            target: name.clone(),
            value: Some(summed),
        });
    }
    Ok((model, report))
}

/// `[out, in, kh, kw]` → `[out, 1, kh, kw]`, summed over the input channels.
fn sum_input_channels(data: TensorData) -> Result<TensorData, String> {
    let shape = data.shape().to_vec();
    let [out, channels, kh, kw] = shape[..] else {
        return Err(format!(
            "expected a 4-D convolution weight, found {shape:?}"
        ));
    };
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let plane = kh * kw;
    let mut summed = vec![0.0f32; out * plane];
    for o in 0..out {
        for c in 0..channels {
            let from = &values[(o * channels + c) * plane..][..plane];
            for (s, v) in summed[o * plane..][..plane].iter_mut().zip(from) {
                *s += v;
            }
        }
    }
    Ok(TensorData::new(summed, [out, 1, kh, kw]))
}

/// Replaces the value of the parameter at `target` (a path without enum-variant segments).
struct SetParam {
    path: Vec<String>,
    target: String,
    value: Option<TensorData>,
}

impl ModuleMapper for SetParam {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let fields: Vec<&str> = self
            .path
            .iter()
            .map(String::as_str)
            .filter(|s| !is_variant(s))
            .collect();
        if fields.join(".") != self.target || D != 4 {
            return param;
        }
        match self.value.take() {
            Some(value) => {
                let id = param.id;
                let tensor = Tensor::<D>::from_data(value, &param.lazy_device());
                param.transform_for_load(tensor, id)
            }
            None => param,
        }
    }
}

/// Accepts a complete import, or one whose only mismatches are the head's shapes and RGB input
/// convolutions for a grayscale model.
fn check(result: ApplyResult, head: &str, path: &Path) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport {
        applied: Some(result.applied.len()),
        ..ImportReport::default()
    };
    let mut mis_shaped = Vec::new();
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } if in_head(path, head) => {
                report
                    .replaced_head
                    .push((path.clone(), found.to_vec(), expected.to_vec()));
            }
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } if rgb_for_gray(expected, found) => report.gray_input.push(path.clone()),
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => mis_shaped.push(format!(
                "{path}: model {:?}, file {:?}",
                expected.to_vec(),
                found.to_vec()
            )),
            other => mis_shaped.push(other.to_string()),
        }
    }
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let unexpected: Vec<String> = result
        .unused
        .iter()
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .cloned()
        .collect();
    if !(missing.is_empty() && unexpected.is_empty() && mis_shaped.is_empty()) {
        return Err(ImportError::Mismatch {
            missing,
            unexpected,
            mis_shaped,
            path: path.to_path_buf(),
        });
    }
    Ok(report)
}

/// A convolution weight `[out, 3, kh, kw]` in the file for `[out, 1, kh, kw]` in the model.
fn rgb_for_gray(expected: &[usize], found: &[usize]) -> bool {
    matches!((expected, found), ([eo, 1, eh, ew], [fo, 3, fh, fw]) if (eo, eh, ew) == (fo, fh, fw))
}

/// An enum variant's segment in a Burn module path (CamelCase; fields are snake_case).
fn is_variant(segment: &str) -> bool {
    segment.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Whether the parameter `path` lies in the top-level field `head`. Burn's paths name the
/// variant of an enum module (`ResNet.fc.weight` in [`crate::Model`]); such leading variant
/// segments (CamelCase, where fields are snake_case) are skipped.
fn in_head(path: &str, head: &str) -> bool {
    path.split('.').find(|segment| !is_variant(segment)) == Some(head)
}

/// Freezes every parameter except the head's ([`Architecture::head`]): no gradients, and the
/// frozen modules' training behaviour is off — batch norms normalize with their running
/// statistics and stop updating them, as PyTorch layers in `eval()` mode.
pub fn freeze_backbone<M: Module>(model: M, head: &str) -> M {
    let head = ParamGroup::from_regex(format!(
        r"^(?:[A-Z][A-Za-z0-9_]*\.)*{}\.",
        regex_escape(head)
    ));
    match head {
        Ok(group) => model.freeze().unfreeze_group(group),
        // The pattern is built from an escaped field name and always compiles; if it did not,
        // leaving the model trainable is the safe failure.
        Err(_) => model,
    }
}

fn regex_escape(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let special = !(c.is_ascii_alphanumeric() || c == '_');
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
