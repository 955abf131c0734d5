//! Writing a trained model for other runtimes (`kiln export`): ONNX
//! ([`kiln_models::onnx::export_onnx`]) with the run's class names and normalization in its
//! metadata, or safetensors with PyTorch's names ([`kiln_models::torch_safetensors`]).
//! The bytes are built in memory first and then written atomically, so a model that cannot be
//! exported leaves no file, and an existing file is replaced only when asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_data::Preprocess;
use kiln_models::onnx::{OnnxOptions, export_onnx};
use kiln_models::{Architecture, ModelSpec, torch_safetensors};
use serde::Serialize;

use crate::error::TrainError;
use crate::training_state::write_atomically;

/// What `kiln export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// An ONNX inference graph (`.onnx`).
    Onnx,
    /// The weights as a PyTorch state dict in safetensors (`.safetensors`).
    Safetensors,
}

impl ExportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Onnx => "onnx",
            Self::Safetensors => "safetensors",
        }
    }
}

/// What to export, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// The format.
    pub format: ExportFormat,
    /// The file to write.
    pub out: PathBuf,
    /// ONNX: the opset.
    pub opset: i64,
    /// ONNX: put the normalization into the graph, so it takes raw 0–255 pixels.
    pub include_normalization: bool,
    /// Replace `out` if it exists.
    pub overwrite: bool,
}

/// What the exported model expects and means, beside its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportInfo {
    /// The registered architecture's name.
    pub architecture: String,
    /// The sizes it was built for.
    pub spec: ModelSpec,
    /// How images become its input (the normalization's per-channel mean and std).
    pub preprocess: Preprocess,
    /// The class names, if known.
    pub class_names: Option<Vec<String>>,
    /// A binary head (one logit for the positive class): the ONNX graph outputs `[0, z]`, as
    /// `kiln predict` reads it.
    pub binary_head: bool,
    /// The run's fitted temperature (`--calibrate temperature`): `kiln predict` divides the
    /// logits by it; an exported graph outputs the raw logits and records it as
    /// `kiln.temperature`.
    pub temperature: Option<f64>,
    /// A binary head's chosen decision threshold (`kiln predict --image-dir` decides by it).
    pub threshold: Option<f64>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exported {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: ExportFormat,
    /// Its size in bytes.
    pub bytes: usize,
    /// The input the model takes, in words (ONNX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The output, in words (ONNX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// `metadata_props` written (ONNX).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Exports `model` (built from `arch`) as `request` asks.
pub fn export_model<A: Architecture>(
    arch: &A,
    model: &A::Model,
    info: &ExportInfo,
    request: &ExportRequest,
) -> Result<Exported, TrainError> {
    if request.out.exists() && !request.overwrite {
        return Err(TrainError::OutputExists {
            path: request.out.clone(),
        });
    }
    let mut exported = Exported {
        path: request.out.clone(),
        format: request.format,
        bytes: 0,
        input: None,
        output: None,
        metadata: BTreeMap::new(),
    };
    let bytes = match request.format {
        ExportFormat::Onnx => {
            let input = input_text(info, request.include_normalization);
            let options = onnx_options(info, request, &input);
            let bytes = export_onnx(model, &options)?;
            exported.input = Some(input);
            exported.output = Some(output_text(info));
            exported.metadata = options.metadata.into_iter().collect();
            bytes
        }
        ExportFormat::Safetensors => torch_safetensors(arch, model)?,
    };
    write_file(&request.out, &bytes)?;
    exported.bytes = bytes.len();
    Ok(exported)
}

fn onnx_options(info: &ExportInfo, request: &ExportRequest, input: &str) -> OnnxOptions {
    let p = &info.preprocess;
    let mut metadata = vec![
        ("kiln.architecture".to_string(), info.architecture.clone()),
        ("kiln.input".to_string(), input.to_string()),
        ("kiln.mean".to_string(), json_floats(&p.mean)),
        ("kiln.std".to_string(), json_floats(&p.std)),
        (
            "kiln.normalization_in_graph".to_string(),
            request.include_normalization.to_string(),
        ),
    ];
    if let Some(t) = info.temperature {
        metadata.push(("kiln.temperature".to_string(), t.to_string()));
    }
    if let Some(t) = info.threshold {
        metadata.push(("kiln.threshold".to_string(), t.to_string()));
    }
    if let Some(names) = &info.class_names {
        metadata.push((
            "kiln.class_names".to_string(),
            serde_json::json!(names).to_string(),
        ));
    }
    OnnxOptions {
        spec: info.spec,
        opset: request.opset,
        normalization: request
            .include_normalization
            .then(|| (p.mean.clone(), p.std.clone())),
        metadata,
        binary_head: info.binary_head,
    }
}

/// A JSON array of `values` as f32 prints them (`[0.485,0.456,0.406]`, not their f64 widening).
fn json_floats(values: &[f32]) -> String {
    let items: Vec<String> = values.iter().map(f32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// The graph's input in words: shape, and raw pixels or normalized values.
fn input_text(info: &ExportInfo, raw_pixels: bool) -> String {
    let s = info.spec;
    let shape = format!(
        "float32 [batch, {}, {}, {}]",
        s.in_channels, s.image_size, s.image_size
    );
    let colors = if s.in_channels == 1 { "gray" } else { "RGB" };
    if raw_pixels {
        format!("{shape}: {colors} pixels in [0, 255]")
    } else {
        let p = &info.preprocess;
        format!(
            "{shape}: {colors} pixels scaled to [0, 1], then (x - mean) / std with mean {:?}, std {:?}",
            p.mean, p.std
        )
    }
}

/// The graph's output in words.
fn output_text(info: &ExportInfo) -> String {
    if info.binary_head {
        "float32 [batch, 2]: [0, z] for the binary head's logit z (softmax gives the negative \
         and positive class's probabilities)"
            .to_string()
    } else {
        format!(
            "float32 [batch, {}]: class logits (softmax gives probabilities)",
            info.spec.num_classes
        )
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
    }
    write_atomically(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| e.to_string())
    })
}
