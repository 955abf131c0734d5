//! What `kiln metrics` and `kiln eval` do with a finished report: print it, write its JSON,
//! analyse one class's threshold, draw the figures.

use std::path::PathBuf;

use kiln_eval::ClassificationReport;
use kiln_eval::diagnostics::diagnostics_text;

use super::diagnostic_args::DiagnosticArgs;
use super::evaluation_args::EvaluationArgs;
use kiln_eval::plot::{ScoredSamples, write_plots};
use kiln_eval::threshold::ThresholdReport;

use super::error::CliError;

/// Output format of a report.
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

/// Output flags shared by `kiln metrics` and `kiln eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// What to print.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
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
    /// Diagnostic thresholds.
    #[command(flatten)]
    pub diagnostics: DiagnosticArgs,
    /// Top-k and bootstrap flags.
    #[command(flatten)]
    pub evaluation: EvaluationArgs,
}

/// Adds the threshold analysis to `report`'s JSON, writes it to `json_out`, draws the plots and
/// prints the report in the chosen format. `scored` carries the per-sample scores, if any.
pub(crate) fn emit(
    report: &ClassificationReport,
    scored: Option<ScoredSamples<'_>>,
    args: &ReportArgs,
    json_out: Option<&PathBuf>,
) -> Result<(), CliError> {
    let positive = match &args.positive_label {
        None => None,
        Some(name) => {
            let Some(s) = scored else {
                return Err(CliError::Flag {
                    flag: "--positive-label",
                    message: "needs per-class scores (score_<class> columns)".into(),
                });
            };
            let index = s
                .classes
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| CliError::Flag {
                    flag: "--positive-label",
                    message: format!(
                        "`{name}` is not one of the classes ({})",
                        s.classes.join(", ")
                    ),
                })?;
            let t = ThresholdReport::new(
                (index, name),
                s.labels,
                s.scores,
                s.classes.len(),
                args.min_precision,
                args.min_recall,
            )?;
            Some((index, t))
        }
    };
    let mut doc = report.to_json();
    if let (Some((_, t)), Some(obj)) = (&positive, doc.as_object_mut()) {
        obj.insert("thresholds".into(), t.to_json());
    }
    // A `Value` always serializes; `{:#}` is serde_json's pretty form.
    let json = format!("{doc:#}");
    if let Some(path) = json_out {
        std::fs::write(path, format!("{json}\n")).map_err(|source| kiln_eval::EvalError::Io {
            path: path.clone(),
            source,
        })?;
    }
    if let Some(dir) = &args.plots {
        let written = write_plots(dir, report, scored, positive.as_ref().map(|p| p.0))?;
        eprintln!("wrote {} figures to {}", written.len(), dir.display());
    }
    match args.format {
        ReportFormat::Text => {
            println!("{}", report.to_text(4));
            println!("{}", summary(report));
            println!("Confusion matrix (rows = true label, columns = predicted):\n");
            print!("{}", report.confusion_text());
            if let Some((_, t)) = &positive {
                print!("\n{}", t.to_text());
            }
        }
        ReportFormat::Json => println!("{json}"),
        ReportFormat::Csv => print!("{}", report.to_csv()),
        ReportFormat::Markdown => print!("{}", report.to_markdown()),
    }
    Ok(())
}

/// The summary lines under the report: balanced accuracy, kappa, MCC, and what scores add.
pub(crate) fn summary(r: &ClassificationReport) -> String {
    let mut out = format!(
        "balanced accuracy: {:.4}   Cohen's kappa: {:.4}   Matthews corr.: {:.4}\n",
        r.balanced_accuracy, r.cohen_kappa, r.matthews_corrcoef
    );
    for (k, v) in &r.top_k_accuracy {
        out.push_str(&format!("top-{k} accuracy: {v:.4}\n"));
    }
    if let (Some(auc), Some(ap)) = (&r.roc_auc, &r.average_precision) {
        out.push_str(&format!(
            "ROC AUC (one-vs-rest): macro {:.4}, weighted {:.4}   average precision: macro {:.4}\n",
            auc.macro_avg, auc.weighted, ap.macro_avg
        ));
    }
    let uncertainty = r.uncertainty_text();
    if !uncertainty.is_empty() {
        out.push('\n');
        out.push_str(&uncertainty);
    }
    let diagnostics = r.diagnostics();
    if !diagnostics.is_empty() {
        out.push('\n');
        out.push_str(&diagnostics_text(&diagnostics));
    }
    out
}
