//! The accuracy paradox, shown on a real run: train on data where one class is rare, then
//! put accuracy beside what it hides (`examples/imbalanced.rs`).

use std::path::PathBuf;

use kiln_eval::plot::{ScoredSamples, write_plots};
use kiln_eval::threshold::{ThresholdRule, at_threshold, choose_threshold};
use kiln_eval::{ClassificationReport, EvalError, Predictions};
use kiln_train::RunOutcome;

use super::error::CliError;
use super::train::{TrainArgs, train};

/// Flags of the imbalanced example: `kiln train`'s, with `--rare-class` defaulting to class 6
/// (Fashion-MNIST's `Shirt`) at 1%.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Train on data with one rare class and show what accuracy hides")]
pub struct ParadoxArgs {
    /// Training flags (`--rare-class`, `--rare-fraction`, `--epochs`, …).
    #[command(flatten)]
    pub train: TrainArgs,
    /// Write the figures here [default: <artifact-dir>/plots].
    #[arg(long)]
    pub plots: Option<PathBuf>,
}

/// The fixed thresholds of the trade-off table.
const THRESHOLDS: [f64; 9] = [0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01];

/// Trains with the rare class, prints the side-by-side comparison and the threshold trade-off,
/// writes the plots; returns the run and the comparison text.
pub fn accuracy_paradox(args: &ParadoxArgs) -> Result<(RunOutcome, String), CliError> {
    let mut train_args = args.train.clone();
    if train_args.rare_class.is_none() {
        train_args.rare_class = Some("6".into());
    }
    let outcome = train(&train_args)?;
    let names: Vec<String> = train_args.dataset_source()?.class_names();
    let rare = train_args
        .rare_class
        .as_deref()
        .and_then(|c| kiln_eval::class_index(c, &names))
        .ok_or_else(|| CliError::Flag {
            flag: "--rare-class",
            message: "not a class of the dataset".into(),
        })?;
    let text = paradox_text(&outcome.report, &outcome.predictions, rare, &names)?;
    println!("{text}");
    let dir = args
        .plots
        .clone()
        .unwrap_or_else(|| outcome.artifact_dir.join("plots"));
    let scores = outcome.predictions.scores_f64();
    let scored = ScoredSamples {
        labels: outcome.predictions.labels(),
        scores: &scores,
        classes: &names,
    };
    let written = write_plots(&dir, &outcome.report, Some(scored), Some(rare))?;
    println!("wrote {} figures to {}", written.len(), dir.display());
    Ok((outcome, text))
}

/// Accuracy beside the rare class's precision / recall / F1, macro vs weighted F1, and the
/// rare class's precision and recall as its decision threshold moves.
pub fn paradox_text(
    report: &ClassificationReport,
    predictions: &Predictions,
    rare: usize,
    names: &[String],
) -> Result<String, EvalError> {
    let row = report
        .labels
        .iter()
        .position(|&l| l == rare)
        .map(|i| report.rows[i])
        .ok_or(EvalError::LabelOutOfRange {
            label: rare,
            num_classes: report.labels.len(),
        })?;
    let n = predictions.len();
    let accuracy = report.micro.f1;
    let share = row.support as f64 / n as f64;
    let name = &names[rare];
    let mut out = format!(
        "The accuracy paradox: `{name}` is {} of the {n} test images ({:.2}%).\n\n",
        row.support,
        100.0 * share
    );
    let lines = [
        (
            "accuracy".to_string(),
            accuracy,
            "share of all images right",
        ),
        (
            format!("accuracy if `{name}` were never predicted"),
            accuracy - row.recall * share,
            "this model with its rare hits turned into misses",
        ),
        (
            "ceiling for never predicting it".into(),
            1.0 - share,
            "every other image right, every rare one wrong",
        ),
        (
            format!("{name} precision"),
            row.precision,
            "of the images called rare, how many are",
        ),
        (
            format!("{name} recall"),
            row.recall,
            "of the rare images, how many are found",
        ),
        (format!("{name} F1"), row.f1, "harmonic mean of the two"),
        (
            "macro F1".into(),
            report.macro_avg.f1,
            "every class counts the same",
        ),
        (
            "weighted F1".into(),
            report.weighted.f1,
            "classes count by support: the rare one barely moves it",
        ),
        (
            "balanced accuracy".into(),
            report.balanced_accuracy,
            "mean recall over classes",
        ),
    ];
    for (label, value, note) in lines {
        out += &format!("{label:<44} {value:>7.4}   {note}\n");
    }
    let labels = predictions.labels();
    let y: Vec<bool> = labels.iter().map(|&l| l == rare).collect();
    let s: Vec<f64> = (0..n)
        .map(|i| f64::from(predictions.scores(i)[rare]))
        .collect();
    out += &format!(
        "\nMoving the decision threshold: call an image `{name}` when P({name}) >= t\n\
         (one-vs-rest; the report above used the arg-max over all classes)\n\n\
         {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6}\n",
        "t", "precision", "recall", "f1", "tp", "fp", "fn"
    );
    let best = choose_threshold(&y, &s, ThresholdRule::BestF1)?;
    let mut rows: Vec<(String, _)> = THRESHOLDS
        .iter()
        .map(|&t| Ok((format!("{t}"), at_threshold(&y, &s, t)?)))
        .collect::<Result<_, EvalError>>()?;
    if let Some(b) = best {
        rows.push((format!("{:.4} (best F1)", b.threshold), b));
    }
    for (t, c) in rows {
        out += &format!(
            "{t:>9} {:>9.4} {:>9.4} {:>9.4} {:>6} {:>6} {:>6}\n",
            c.precision, c.recall, c.f1, c.tp, c.fp, c.fn_
        );
    }
    Ok(out)
}
