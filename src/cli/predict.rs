//! `kiln predict`: classify image files with a trained run or imported weights.

use std::path::{Path, PathBuf};

use kiln_data::folder::Unreadable;
use kiln_train::{DirRequest, Prediction, Registry, TrainError, classify, classify_dir};

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
    #[arg(
        long = "image",
        required_unless_present = "image_dir",
        conflicts_with = "image_dir",
        num_args = 1..,
        value_name = "FILE"
    )]
    pub images: Vec<PathBuf>,
    /// Classify every image in this folder into a predictions CSV (--out): one row per file
    /// with its path, the predicted class and every class's probability, and its label when
    /// the files sit in folders named after the classes (`kiln metrics` reads it).
    #[arg(long, value_name = "DIR", requires = "out")]
    pub image_dir: Option<PathBuf>,
    /// With --image-dir: include its subfolders.
    #[arg(long, requires = "image_dir")]
    pub recursive: bool,
    /// With --image-dir: the predictions CSV to write (refused if it exists, unless
    /// --overwrite).
    #[arg(long, value_name = "FILE", requires = "image_dir")]
    pub out: Option<PathBuf>,
    /// With --image-dir: replace an existing --out.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// With --image-dir: a file that cannot be decoded stops the run (fail) or is listed and
    /// left out (skip).
    #[arg(long, value_enum, default_value = "fail", requires = "image_dir")]
    pub on_unreadable: UnreadableChoice,
    /// With --image-dir: images per forward pass.
    #[arg(long, default_value_t = 64, requires = "image_dir")]
    pub batch_size: usize,
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
    let labels_error = |e: TrainError| match e {
        TrainError::Config(e) if e.field == "class_names" => CliError::Flag {
            flag: "--labels",
            message: e.problem.to_string(),
        },
        other => other.into(),
    };
    if let (Some(dir), Some(out)) = (&args.image_dir, &args.out) {
        predict_dir(&loaded, args, dir, out, device).map_err(labels_error)?;
        return Ok(Vec::new());
    }
    let predictions = classify(&loaded, &args.images, args.top_k, device).map_err(labels_error)?;
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

/// `--on-unreadable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnreadableChoice {
    /// Stop with an error naming the file.
    Fail,
    /// List it on stderr and leave it out of the CSV.
    Skip,
}

/// `--image-dir`: classifies the folder with a progress bar, writes the CSV, lists what was
/// skipped.
fn predict_dir(
    loaded: &kiln_train::LoadedModel,
    args: &PredictArgs,
    dir: &Path,
    out: &Path,
    device: &burn::tensor::Device,
) -> Result<(), TrainError> {
    if out.exists() && !args.overwrite {
        return Err(TrainError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let request = DirRequest {
        dir,
        recursive: args.recursive,
        on_unreadable: match args.on_unreadable {
            UnreadableChoice::Fail => Unreadable::Fail,
            UnreadableChoice::Skip => Unreadable::Skip,
        },
        batch_size: args.batch_size,
    };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let result = classify_dir(loaded, request, device, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let found = result?;
    found.write_csv(out)?;
    for (file, why) in &found.skipped {
        eprintln!("skipped {}: {why}", file.display());
    }
    eprintln!(
        "wrote {} ({} images{}{})",
        out.display(),
        found.rows.len(),
        match found.labelled() {
            true => ", labelled by their folders",
            false => "",
        },
        match found.skipped.len() {
            0 => String::new(),
            n => format!(", {n} unreadable skipped"),
        }
    );
    Ok(())
}

fn read_labels(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Flag {
        flag: "--labels",
        message: format!("{}: {e}", path.display()),
    })?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}
