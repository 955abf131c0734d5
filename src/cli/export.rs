//! `kiln export`: write a trained run's model (or imported weights) as ONNX or as a
//! PyTorch-named safetensors state dict.

use std::path::PathBuf;

use kiln_models::onnx::{DEFAULT_OPSET, OPSETS};
use kiln_train::{ExportFormat, ExportRequest, Exported, Registry};

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
    /// The file to write [default: model.onnx / model.safetensors in the run's directory;
    /// with --model, <model>.onnx / .safetensors here].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// ONNX opset (13–22).
    #[arg(long, default_value_t = DEFAULT_OPSET)]
    pub opset: i64,
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
    let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
    if format == ExportFormat::Safetensors
        && (args.include_normalization || args.opset != DEFAULT_OPSET)
    {
        let which = if args.include_normalization {
            "--include-normalization"
        } else {
            "--opset"
        };
        return Err(flag(which, "applies to --format onnx only".into()));
    }
    if !OPSETS.contains(&args.opset) {
        return Err(flag(
            "--opset",
            format!(
                "{} is not supported (kiln writes {}–{})",
                args.opset,
                OPSETS.start(),
                OPSETS.end()
            ),
        ));
    }
    let run = args.model.run()?;
    let source = args.model.source(registry, run.as_deref())?;
    let out = match (&args.out, &run, &args.model.model) {
        (Some(out), _, _) => out.clone(),
        (None, Some(dir), _) => dir.join(format!("model.{}", format.extension())),
        (None, None, name) => PathBuf::from(format!(
            "{}.{}",
            name.as_deref().unwrap_or("model"),
            format.extension()
        )),
    };
    let request = ExportRequest {
        format,
        out,
        opset: args.opset,
        include_normalization: args.include_normalization,
        overwrite: args.overwrite,
    };
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
        print_summary(&exported, args.opset);
    }
    Ok(exported)
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
            println!("  output  logits: float32 [batch, classes] (softmax gives probabilities)");
        }
        ExportFormat::Safetensors => {
            println!(
                "wrote {} ({size:.1} MB, PyTorch state dict)",
                exported.path.display()
            );
        }
    }
}
