//! `kiln export`: write a trained run's model (or imported weights) as ONNX or as a
//! PyTorch-named safetensors state dict.

use std::path::{Path, PathBuf};

use kiln_models::onnx::{DEFAULT_OPSET, OPSETS};
use kiln_train::{ExportFormat, ExportRequest, Exported, Registry, TrainError};

use super::error::CliError;
use super::model_args::ModelArgs;
use crate::backend::{self, Backend};

/// Flags of `kiln export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The model: a trained run, or an architecture with weights.
    #[command(flatten)]
    pub model: ModelArgs,
    /// What to write.
    #[arg(long, value_enum, default_value_t = FormatChoice::Onnx)]
    pub format: FormatChoice,
    /// The file to write [default: model.onnx / model.safetensors in the run's directory
    /// (named after --weights if given); with --model, <model>.onnx / .safetensors here].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// ONNX opset, 13–22 [default: 17].
    #[arg(long, value_parser = clap::value_parser!(i64).range(*OPSETS.start()..=*OPSETS.end()))]
    pub opset: Option<i64>,
    /// ONNX: put `(x / 255 - mean) / std` into the graph, so it takes raw 0–255 pixels.
    #[arg(long)]
    pub include_normalization: bool,
    /// Replace --out if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
    /// Backend that loads the weights [default: the first usable compiled one].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatChoice {
    /// An ONNX inference graph.
    Onnx,
    /// A PyTorch state dict (torchvision's names for the ResNets) in safetensors.
    Safetensors,
}

impl From<FormatChoice> for ExportFormat {
    fn from(choice: FormatChoice) -> Self {
        match choice {
            FormatChoice::Onnx => Self::Onnx,
            FormatChoice::Safetensors => Self::Safetensors,
        }
    }
}

/// Exports the model and says what was written.
pub fn export(registry: &Registry, args: &ExportArgs) -> Result<Exported, CliError> {
    let format = ExportFormat::from(args.format);
    if format == ExportFormat::Safetensors {
        let onnx_only = [
            ("--opset", args.opset.is_some()),
            ("--include-normalization", args.include_normalization),
        ];
        if let Some((flag, _)) = onnx_only.into_iter().find(|(_, given)| *given) {
            return Err(CliError::Flag {
                flag,
                message: "applies to --format onnx only".into(),
            });
        }
    }
    let run = args.model.run()?;
    let source = args.model.source(registry, run.as_deref())?;
    let request = ExportRequest {
        format,
        out: out_path(args, run.as_deref(), format),
        opset: args.opset.unwrap_or(DEFAULT_OPSET),
        include_normalization: args.include_normalization,
        overwrite: args.overwrite,
    };
    // Checked again when writing; refused here before the weights are read.
    if request.out.exists() && !request.overwrite {
        return Err(TrainError::OutputExists { path: request.out }.into());
    }
    let selected = backend::select(args.backend)?;
    eprintln!("{selected}");
    let exported = registry.export(
        args.model.model.as_deref(),
        &source,
        &selected.device,
        &request,
    )?;
    if args.json {
        super::print_json(&exported)?;
    } else {
        print_summary(&exported, request.opset);
    }
    Ok(exported)
}

/// `--out`, or beside the run (`model.onnx`, or named after `--weights`: `model-best.onnx`), or
/// `<model>.onnx` here.
fn out_path(args: &ExportArgs, run: Option<&Path>, format: ExportFormat) -> PathBuf {
    let stem = |weights: &Path| {
        let stem = weights.file_stem().unwrap_or_default().to_string_lossy();
        format!("{stem}.{}", format.extension())
    };
    match (&args.out, run, &args.model.weights, &args.model.model) {
        (Some(out), ..) => out.clone(),
        (None, Some(dir), Some(weights), _) => dir.join(stem(weights)),
        (None, Some(dir), None, _) => dir.join(format!("model.{}", format.extension())),
        (None, None, _, name) => PathBuf::from(format!(
            "{}.{}",
            name.as_deref().unwrap_or("model"),
            format.extension()
        )),
    }
}

fn print_summary(exported: &Exported, opset: i64) {
    let size = exported.bytes as f64 / 1e6;
    match exported.format {
        ExportFormat::Onnx => {
            println!(
                "wrote {} ({size:.1} MB, ONNX opset {opset})",
                exported.path.display()
            );
            if let Some(input) = &exported.input {
                println!("  input   images: {input}");
            }
            if let Some(output) = &exported.output {
                println!("  output  logits: {output}");
            }
        }
        ExportFormat::Safetensors => {
            println!(
                "wrote {} ({size:.1} MB, PyTorch state dict)",
                exported.path.display()
            );
        }
    }
}
