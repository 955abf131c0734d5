//! `kiln metrics`: the full report for any model's predictions CSV.

use std::path::PathBuf;

use kiln_eval::{
    ClassSet, ClassificationReport, ConfusionMatrix, ZeroDivision, read_predictions_csv,
};

use super::train::CliError;

/// Output format of `kiln metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// scikit-learn's text report, confusion matrix and summary scores.
    Text,
    /// The `eval.json` document.
    Json,
    /// The per-class table as CSV.
    Csv,
    /// The per-class table as Markdown.
    Markdown,
}

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
    /// What to print.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
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
}

/// Reads the predictions, prints the report in the chosen format and writes `--json`.
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
    if let Some(scores) = &p.scores {
        report.add_scores(&p.y_true, scores, k);
    }
    let json = serde_json::to_string_pretty(&report.to_json()).map_err(|e| CliError::Flag {
        flag: "--json",
        message: e.to_string(),
    })?;
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n")).map_err(|source| kiln_eval::EvalError::Io {
            path: path.clone(),
            source,
        })?;
    }
    match args.format {
        ReportFormat::Text => {
            println!("{}", report.to_text(4));
            println!("{}", super::train::summary(&report));
            println!("Confusion matrix (rows = true label, columns = predicted):\n");
            print!("{}", report.confusion_text());
        }
        ReportFormat::Json => println!("{json}"),
        ReportFormat::Csv => print!("{}", report.to_csv()),
        ReportFormat::Markdown => print!("{}", report.to_markdown()),
    }
    Ok(report)
}
