//! `kiln metrics`: the full report for any model's predictions CSV.

use std::path::PathBuf;

use kiln_eval::plot::ScoredSamples;
use kiln_eval::{
    ClassSet, ClassificationReport, ConfusionMatrix, ZeroDivision, read_predictions_csv,
};

use super::error::CliError;
use super::report::{ReportArgs, emit};

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
    if let Some(scores) = &p.scores {
        report.add_scores(&p.y_true, scores, k)?;
    }
    let scored = p.scores.as_deref().map(|scores| ScoredSamples {
        labels: &p.y_true,
        scores,
        classes: &p.classes,
    });
    emit(&report, scored, &args.report, args.json.as_ref())?;
    Ok(report)
}
