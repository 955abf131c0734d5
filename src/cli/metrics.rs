//! `kiln metrics`: the full report for any model's predictions CSV.

use std::path::PathBuf;

use kiln_eval::plot::ScoredSamples;
use kiln_eval::{
    ClassSet, ClassificationReport, ConfusionMatrix, ZeroDivision, read_predictions_csv,
};

use super::error::CliError;
use super::report::{ReportArgs, emit};
use kiln_train::EvaluationConfig;

/// Flags of `kiln metrics`.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// CSV with `label` and `prediction` columns (integers or strings) and optional
    /// `score_<class>` columns — e.g. a kiln `predictions.csv`.
    #[arg(long)]
    pub predictions: PathBuf,
    /// Also write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Value of a 0/0 score: 0, 1 or nan (scikit-learn's zero_division).
    #[arg(long, default_value = "0")]
    pub zero_division: ZeroDivision,
    /// Class names in order (comma-separated) [default: the score columns, else the sorted
    /// union of labels and predictions].
    #[arg(long, value_delimiter = ',', conflicts_with = "num_classes")]
    pub labels: Option<Vec<String>>,
    /// Integer classes 0..K (absent ones are reported with support 0).
    #[arg(long)]
    pub num_classes: Option<usize>,
    /// Output, threshold and plot flags.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// A k the class count cannot have, named by its flag.
pub(crate) fn top_k_error(e: kiln_eval::EvalError) -> CliError {
    match e {
        e @ kiln_eval::EvalError::TopK { .. } => CliError::Flag {
            flag: "--top-k",
            message: e.to_string(),
        },
        other => other.into(),
    }
}

/// Reads the predictions, prints the report in the chosen format, writes `--json` and the
/// plots.
pub fn metrics(args: &MetricsArgs) -> Result<ClassificationReport, CliError> {
    let classes = match (&args.labels, args.num_classes) {
        (Some(names), _) => ClassSet::Names(names.clone()),
        (None, Some(k)) => ClassSet::Count(k),
        (None, None) => ClassSet::Infer,
    };
    let explicit = !matches!(classes, ClassSet::Infer);
    let p = read_predictions_csv(&args.predictions, &classes)?;
    let k = p.classes.len();
    let cm = ConfusionMatrix::from_labels(&p.y_true, &p.y_pred, k)?;
    let all: Vec<usize> = (0..k).collect();
    let labels = explicit.then_some(all.as_slice());
    let mut report = ClassificationReport::new(&cm, labels, Some(&p.classes), args.zero_division)?;
    report.thresholds = args.report.diagnostics.apply(report.thresholds)?;
    // Per-class JSON entries are keyed by the labels as the file spells them.
    report.class_keys = Some(p.classes.clone());
    let settings = args.report.evaluation.apply(EvaluationConfig::default())?;
    if let Some(scores) = &p.scores {
        report
            .add_scores(&p.y_true, scores, k, settings.top_k.as_deref())
            .map_err(top_k_error)?;
    } else if settings.top_k.is_some() {
        return Err(CliError::Flag {
            flag: "--top-k",
            message: "needs per-class scores (score_<class> columns)".into(),
        });
    }
    if let Some(bootstrap) = settings.bootstrap() {
        report.add_intervals(&p.y_true, &p.y_pred, p.scores.as_deref(), k, bootstrap)?;
    }
    let scored = p.scores.as_deref().map(|scores| ScoredSamples {
        labels: &p.y_true,
        scores,
        classes: &p.classes,
    });
    emit(&report, scored, &args.report, args.json.as_ref())?;
    Ok(report)
}
