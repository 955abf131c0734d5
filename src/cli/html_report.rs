//! `kiln report`: a run's artifacts as one self-contained `report.html`.

use std::path::PathBuf;

use kiln_eval::html::{HtmlReport, Thumbnail, most_confident_mistakes, png_image};
use kiln_eval::plot::ScoredSamples;
use kiln_eval::{ClassSet, ConfusionMatrix, read_predictions_csv};
use kiln_train::{
    RunConfig, Scored, Splits, artifacts, configured_report, read_curve, read_run_config,
    run_diagnostics,
};

use super::compare::{Side, check_test_split, compare_sides};
use super::error::CliError;

/// Flags of `kiln report`.
#[derive(Debug, Clone, clap::Args)]
pub struct HtmlReportArgs {
    /// The run's artifact directory (its config.json, predictions.csv, metrics.csv and
    /// training_curves.svg are read; the dataset is read again for the mistakes' images).
    #[arg(long)]
    pub artifact_dir: PathBuf,
    /// Where to write the page [default: <artifact-dir>/report.html].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How many of the most confident mistakes to show.
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub mistakes: usize,
    /// Compare this run (as B) with another run's artifact directory or predictions CSV (as A)
    /// on the same test images: McNemar's test and paired bootstrap intervals.
    #[arg(long, value_name = "A")]
    pub compare: Option<PathBuf>,
}

/// Writes the page; returns its path.
pub fn html_report(args: &HtmlReportArgs) -> Result<PathBuf, CliError> {
    let dir = &super::the_run(&args.artifact_dir)?;
    let config: RunConfig<serde_json::Value> = read_run_config(dir)?;
    let recorded = kiln_train::read_recorded(&dir.join(artifacts::CONFIG))?;
    let splits = Splits::load_checked(&config, false)?;
    let names = splits.class_names.clone();
    let k = names.len();
    // kiln's predictions.csv numbers the classes (`score_0`, …).
    let p = read_predictions_csv(&dir.join(artifacts::PREDICTIONS), &ClassSet::Count(k))?;
    let cm = ConfusionMatrix::from_labels(&p.y_true, &p.y_pred, k)?;
    let extra = run_diagnostics(
        &splits.train.class_counts(),
        &read_curve(&dir.join(artifacts::METRICS))?,
        &names,
        &config.diagnostics,
    );
    // As eval.json: the run's thresholds, curves and binary decision.
    let scored = p.scores.as_deref().map(|scores| Scored {
        labels: &p.y_true,
        predicted: &p.y_pred,
        scores,
    });
    let report = configured_report(&config, &cm, scored, extra)?;
    // The images must be the ones the predictions were made on.
    check_test_split(dir, &p.y_true, &splits.test)?;
    let mut mistakes = Vec::new();
    if let Some(scores) = &p.scores {
        let shape = splits.test.shape();
        for (index, truth, predicted, confidence) in
            most_confident_mistakes(&p.y_true, scores, k, args.mistakes)
        {
            let png = png_image(
                splits.test.image(index),
                shape.channels,
                shape.height,
                shape.width,
            )?;
            mistakes.push(Thumbnail {
                png,
                index,
                truth: names[truth].clone(),
                predicted: names[predicted].clone(),
                confidence,
            });
        }
    }
    let comparison = match &args.compare {
        Some(other) => {
            let bootstrap = config.evaluation.bootstrap().unwrap_or_default();
            let this = Side::of_run(dir, names.clone(), p.clone(), &splits.test)?;
            Some(compare_sides(
                Side::load(other)?,
                this,
                bootstrap,
                "--compare",
            )?)
        }
        None => None,
    };
    let curves = dir.join(artifacts::CURVES_PNG).with_extension("svg");
    let page = HtmlReport {
        title: format!("{} · {}", splits.dataset.name(), config.architecture),
        config: &recorded,
        curves_svg: std::fs::read_to_string(&curves).ok(),
        report: &report,
        scored: p.scores.as_deref().map(|scores| ScoredSamples {
            labels: &p.y_true,
            scores,
            classes: &names,
        }),
        mistakes,
        comparison: comparison.as_ref(),
    }
    .render()?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("report.html"));
    std::fs::write(&out, page).map_err(|e| kiln_train::TrainError::artifact(&out, e))?;
    Ok(out)
}
