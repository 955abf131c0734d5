//! Importing trained weights: PyTorch state dicts (`.pth`/`.pt`, e.g. torchvision's ResNets),
//! safetensors, and kiln's own burnpack checkpoints; freezing a backbone for fine-tuning.

use std::path::{Path, PathBuf};

use burn::module::{Module, ParamGroup};
use burn::store::{
    ApplyError, ApplyResult, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Tensors loaded into the model (`None` for a `.bpk` checkpoint, loaded as a whole).
    pub applied: Option<usize>,
    /// The head kept freshly initialized because the file's has another shape (another class
    /// count): `(name, found shape, model shape)` per tensor.
    pub replaced_head: Vec<(String, Vec<usize>, Vec<usize>)>,
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
/// unexpected and mis-shaped keys. The one exception is the head ([`Architecture::head`]): when
/// only its shapes differ (ImageNet's 1000 classes, the model's 10), it keeps its fresh
/// initialization — the head is replaced for the new class count — and the report says so.
/// kiln's own `.bpk` checkpoints must match the model exactly.
pub fn import_weights<A: Architecture>(
    arch: &A,
    mut model: A::Model,
    path: &Path,
) -> Result<(A::Model, ImportReport), ImportError> {
    let read_error = |message: String| ImportError::Read {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(read_error("no such file".into()));
    }
    let result = match WeightsFormat::of(path)? {
        WeightsFormat::Burnpack => {
            let model = model
                .try_load_file(path)
                .map_err(|e| read_error(e.to_string()))?;
            return Ok((
                model,
                ImportReport {
                    applied: None,
                    replaced_head: Vec::new(),
                },
            ));
        }
        WeightsFormat::PyTorch => {
            let mut store = PytorchStore::from_file(path)
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(false);
            for (from, to) in arch.torch_key_remaps() {
                store = store.with_key_remapping(from, *to);
            }
            model
                .load_from(&mut store)
                .map_err(|e| read_error(e.to_string()))?
        }
        WeightsFormat::SafeTensors => {
            let mut store = SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(false);
            for (from, to) in arch.torch_key_remaps() {
                store = store.with_key_remapping(from, *to);
            }
            model
                .load_from(&mut store)
                .map_err(|e| read_error(e.to_string()))?
        }
    };
    let report = check(result, arch.head(), path)?;
    Ok((model, report))
}

/// Accepts a complete import, or one whose only mismatches are the head's shapes.
fn check(result: ApplyResult, head: &str, path: &Path) -> Result<ImportReport, ImportError> {
    let is_head = |p: &str| in_head(p, head);
    let mut replaced_head = Vec::new();
    let mut mis_shaped = Vec::new();
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } if is_head(path) => {
                replaced_head.push((path.clone(), found.to_vec(), expected.to_vec()));
            }
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
    Ok(ImportReport {
        applied: Some(result.applied.len()),
        replaced_head,
    })
}

/// Whether the parameter `path` lies in the top-level field `head`. Burn's paths name the
/// variant of an enum module (`ResNet.fc.weight` in [`crate::Model`]); such leading variant
/// segments (CamelCase, where fields are snake_case) are skipped.
fn in_head(path: &str, head: &str) -> bool {
    path.split('.')
        .find(|segment| !segment.starts_with(|c: char| c.is_ascii_uppercase()))
        == Some(head)
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
