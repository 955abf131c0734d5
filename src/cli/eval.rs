//! `kiln eval`: re-evaluate a trained run on a split of its dataset.

use std::path::PathBuf;

use kiln_eval::plot::ScoredSamples;
use kiln_train::{ArtifactEval, EvalSplit, SplitReport};

use super::error::CliError;
use super::report::{ReportArgs, emit};
use crate::backend::{self, Backend};
use kiln_train::Registry;

/// Flags of `kiln eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// A `kiln train` artifact directory (its `config.json` and `model.bpk` are read).
    #[arg(long)]
    pub artifact_dir: PathBuf,
    /// The split to evaluate: train, valid or test (split exactly as in training).
    #[arg(long, default_value = "test")]
    pub split: EvalSplit,
    /// Read the dataset from here instead of where the run found it.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download.
    #[arg(long)]
    pub offline: bool,
    /// Write `eval[-<split>].json` and `predictions[-<split>].csv` here [default: the
    /// artifact directory].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Weights to load [default: <artifact-dir>/model.bpk; e.g. <artifact-dir>/model-best.bpk,
    /// or the run exported as a PyTorch state dict (.safetensors, .pth)].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Backend [default: the first usable compiled one, GPU before CPU].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Output, threshold and plot flags.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Loads the run, evaluates the split, writes its report and predictions, prints the report
/// and draws the plots.
/// The run's architecture is rebuilt from its `config.json` by name in `registry`.
pub fn eval(registry: &Registry, args: &EvalArgs) -> Result<SplitReport, CliError> {
    let dir = &super::the_run(&args.artifact_dir)?;
    let selected = backend::select(args.backend)?;
    eprintln!("{selected}");
    let request = ArtifactEval {
        split: args.split,
        data_dir: args.data_dir.clone(),
        offline: args.offline,
        out_dir: args.out.clone(),
        weights: args.weights.clone(),
        thresholds: match args.report.diagnostics.any() {
            true => {
                let recorded = kiln_train::read_run_config::<serde_json::Value>(dir)?;
                Some(args.report.diagnostics.apply(recorded.diagnostics)?)
            }
            false => None,
        },
        evaluation: match args.report.evaluation.any() {
            true => {
                let recorded = kiln_train::read_run_config::<serde_json::Value>(dir)?;
                Some(args.report.evaluation.apply(recorded.evaluation)?)
            }
            false => None,
        },
    };
    let result = registry
        .eval(dir, &request, &selected.device)
        .map_err(|e| match e {
            kiln_train::TrainError::Eval(e) => super::metrics::top_k_error(e),
            other => other.into(),
        })?;
    let scores = result.predictions.scores_f64();
    let scored = ScoredSamples {
        labels: result.predictions.labels(),
        scores: &scores,
        classes: &result.class_names,
    };
    emit(&result.report, Some(scored), &args.report, None)?;
    eprintln!(
        "wrote {} and {}",
        result.outputs.eval.display(),
        result.outputs.predictions.display()
    );
    Ok(result)
}
