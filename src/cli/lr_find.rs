//! `kiln lr-find`: the learning-rate range test ([`kiln_train::lr_find`]) of a model and recipe
//! given as `kiln train` takes them (flags or `--config FILE.toml`), written as JSON and a plot;
//! no run is created or changed.

use std::path::{Path, PathBuf};

use kiln_eval::plot::{LrFindPlot, save};
use kiln_train::{LrFind, LrFindSettings, Registry, Splits};

use super::error::CliError;
use super::train::TrainArgs;
use crate::backend;

/// `kiln lr-find`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LrFindArgs {
    /// The model, data and recipe, as `kiln train` takes them (its --lr is not used).
    #[command(flatten)]
    pub train: TrainArgs,
    /// The first step's learning rate.
    #[arg(long, value_name = "LR", default_value_t = 1e-7)]
    pub start_lr: f64,
    /// The learning rate the steps grow towards.
    #[arg(long, value_name = "LR", default_value_t = 10.0)]
    pub end_lr: f64,
    /// Steps at most (each one batch of the training split).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub num_steps: usize,
    /// Stop once the smoothed loss exceeds this many times its best.
    #[arg(long, value_name = "X", default_value_t = 4.0)]
    pub diverge: f64,
    /// Where to write the result: STEM.json, STEM.png and STEM.svg.
    #[arg(long, value_name = "STEM", default_value = "lr-find")]
    pub out: PathBuf,
    /// Replace an existing STEM.json (`--overwrite` is `kiln train`'s, for a run directory).
    #[arg(long)]
    pub replace: bool,
}

/// Runs the test, writes its JSON and plot, and prints the suggestion.
pub fn lr_find(registry: &Registry, args: &LrFindArgs) -> Result<LrFind, CliError> {
    let json = with_extension(&args.out, "json");
    if json.exists() && !args.replace {
        return Err(CliError::Flag {
            flag: "--out",
            message: format!("{} exists (replace it with --replace)", json.display()),
        });
    }
    let config = args.train.run_config()?;
    registry
        .require(&config.architecture)
        .map_err(|e| CliError::Flag {
            flag: "--model",
            message: e.problem.to_string(),
        })?;
    let splits = Splits::load_checked(&config, false)?;
    let selected = backend::select(args.train.backend)?;
    let settings = LrFindSettings {
        start_lr: args.start_lr,
        end_lr: args.end_lr,
        steps: args.num_steps,
        diverge: args.diverge,
        ..LrFindSettings::default()
    };
    let spec = kiln_train::RunConfig {
        dataset: splits.dataset.clone(),
        ..config.clone()
    }
    .model_spec();
    let found = registry.lr_find(
        &config.architecture,
        &spec,
        (&splits.train, splits.normalization),
        &selected.device,
        &config.training,
        settings,
    )?;
    write(&found, &json, &args.out)?;
    print_summary(&found, &args.out);
    Ok(found)
}

fn with_extension(stem: &Path, extension: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// `STEM.json`, `STEM.png` and `STEM.svg`.
fn write(found: &LrFind, json: &Path, stem: &Path) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(found).map_err(|e| CliError::Flag {
        flag: "--out",
        message: e.to_string(),
    })?;
    std::fs::write(json, text + "\n").map_err(|source| kiln_eval::EvalError::Io {
        path: json.to_path_buf(),
        source,
    })?;
    let plot = LrFindPlot {
        loss: found.points.iter().map(|p| (p.lr, p.loss)).collect(),
        smoothed: found.points.iter().map(|p| (p.lr, p.smoothed)).collect(),
        suggestion: found.suggestion,
    };
    save(&plot, stem)?;
    Ok(())
}

fn print_summary(found: &LrFind, stem: &Path) {
    let (first, last) = match (found.points.first(), found.points.last()) {
        (Some(a), Some(b)) => (a.lr, b.lr),
        _ => (0.0, 0.0),
    };
    println!(
        "LR range test: {} steps from {first:.1e} to {last:.1e}{}",
        found.points.len(),
        found
            .stopped
            .as_ref()
            .map_or(String::new(), |why| format!(" (stopped: {why})"))
    );
    match found.suggestion {
        Some(lr) => {
            println!("suggested learning rate: {lr:.2e} (steepest fall of the smoothed loss)")
        }
        None => println!("no suggestion: too few steps ran (at least 12 are needed)"),
    }
    println!("wrote {0}.json, {0}.png, {0}.svg", stem.display());
}
