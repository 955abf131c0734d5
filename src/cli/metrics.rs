//! `kiln metrics`: the full report for any model's predictions CSV.

use std::path::PathBuf;

use kiln_eval::plot::{ScoredSamples, write_plots};
use kiln_eval::threshold::ThresholdReport;
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
    /// Show the precision/recall trade-off of this class's decision threshold (needs scores).
    #[arg(long)]
    pub positive_label: Option<String>,
    /// With --positive-label: the highest-recall threshold keeping precision at least this.
    #[arg(long, default_value_t = 0.9)]
    pub min_precision: f64,
    /// With --positive-label: the highest-precision threshold keeping recall at least this.
    #[arg(long, default_value_t = 0.9)]
    pub min_recall: f64,
    /// Write the figures (confusion heatmap, per-class bars; with scores PR and ROC curves;
    /// with --positive-label its threshold trade-off) as PNG and SVG into this directory.
    #[arg(long)]
    pub plots: Option<PathBuf>,
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
        report.add_scores(&p.y_true, scores, k)?;
    }
    let positive = positive_index(args.positive_label.as_deref(), &p.classes)?;
    let thresholds = match (positive, &p.scores) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(CliError::Flag {
                flag: "--positive-label",
                message: "needs score_<class> columns in the predictions file".into(),
            });
        }
        (Some(index), Some(scores)) => Some(ThresholdReport::new(
            (index, &p.classes[index]),
            &p.y_true,
            scores,
            k,
            args.min_precision,
            args.min_recall,
        )?),
    };
    let mut doc = report.to_json();
    if let (Some(t), Some(obj)) = (&thresholds, doc.as_object_mut()) {
        obj.insert("thresholds".into(), t.to_json());
    }
    // A `Value` always serializes; `{:#}` is serde_json's pretty form.
    let json = format!("{doc:#}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n")).map_err(|source| kiln_eval::EvalError::Io {
            path: path.clone(),
            source,
        })?;
    }
    if let Some(dir) = &args.plots {
        let scored = p.scores.as_deref().map(|scores| ScoredSamples {
            labels: &p.y_true,
            scores,
            classes: &p.classes,
        });
        let written = write_plots(dir, &report, scored, positive)?;
        eprintln!("wrote {} figures to {}", written.len(), dir.display());
    }
    match args.format {
        ReportFormat::Text => {
            println!("{}", report.to_text(4));
            println!("{}", super::train::summary(&report));
            println!("Confusion matrix (rows = true label, columns = predicted):\n");
            print!("{}", report.confusion_text());
            if let Some(t) = &thresholds {
                print!("\n{}", t.to_text());
            }
        }
        ReportFormat::Json => println!("{json}"),
        ReportFormat::Csv => print!("{}", report.to_csv()),
        ReportFormat::Markdown => print!("{}", report.to_markdown()),
    }
    Ok(report)
}

/// The index of `--positive-label` among `classes`.
fn positive_index(name: Option<&str>, classes: &[String]) -> Result<Option<usize>, CliError> {
    let Some(name) = name else {
        return Ok(None);
    };
    match classes.iter().position(|c| c == name) {
        Some(i) => Ok(Some(i)),
        None => Err(CliError::Flag {
            flag: "--positive-label",
            message: format!(
                "`{name}` is not one of the classes ({})",
                classes.join(", ")
            ),
        }),
    }
}
