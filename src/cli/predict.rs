//! `kiln predict`: classify image files with a trained run or imported weights.

use std::path::{Path, PathBuf};

use kiln_train::{Prediction, Registry, TrainError, classify};

use super::error::CliError;
use super::model_args::ModelArgs;
use crate::backend::{self, Backend};

/// Flags of `kiln predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// The model: a trained run, or an architecture with weights.
    #[command(flatten)]
    pub model: ModelArgs,
    /// With --model: a text file of class names, one per line.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Images to classify (PNG, JPEG, BMP).
    #[arg(long = "image", required = true, num_args = 1.., value_name = "FILE")]
    pub images: Vec<PathBuf>,
    /// Classes shown per image.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Feed images already at the input size: only scaling to [0, 1] and normalization (no
    /// resize or crop).
    #[arg(long)]
    pub no_resize: bool,
    /// Print JSON (logits and top-k per image) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Backend [default: the first usable compiled one, GPU before CPU].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
}

/// Classifies every image and prints the top-k classes (or JSON).
pub fn predict(registry: &Registry, args: &PredictArgs) -> Result<Vec<Prediction>, CliError> {
    let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
    if args.top_k == 0 {
        return Err(flag("--top-k", "must be at least 1".into()));
    }
    let selected = backend::select(args.backend)?;
    eprintln!("{selected}");
    let device = &selected.device;
    let run = args.model.run()?;
    let source = args.model.source(registry, run.as_deref())?;
    let mut loaded = registry.load(args.model.model.as_deref(), &source, device)?;
    if let Some(path) = &args.labels {
        loaded.class_names = Some(read_labels(path)?);
    }
    if args.no_resize {
        loaded.preprocess = loaded.preprocess.clone().without_resize();
    }
    let predictions = classify(&loaded, &args.images, args.top_k, device).map_err(|e| match e {
        TrainError::Config(e) if e.field == "class_names" => CliError::Flag {
            flag: "--labels",
            message: e.problem.to_string(),
        },
        other => other.into(),
    })?;
    if args.json {
        super::print_json(&predictions)?;
    } else {
        for p in &predictions {
            println!("{}", p.image.display());
            for (rank, c) in p.top_k.iter().enumerate() {
                let name = c
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("class {}", c.class));
                println!("  {}. {name:<24} {:>7.4}", rank + 1, c.probability);
            }
        }
    }
    Ok(predictions)
}

fn read_labels(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Flag {
        flag: "--labels",
        message: format!("{}: {e}", path.display()),
    })?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}
