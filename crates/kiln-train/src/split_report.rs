//! A split's report: the model evaluated on it, the report configured as the run says, the
//! JSON report and predictions CSV written.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use kiln_data::{Batcher, ImageDataset, Loader, Normalization};
use kiln_eval::diagnostics::Diagnostic;
use kiln_eval::{ClassificationReport, ConfusionMatrix, Predictions, ZeroDivision};
use kiln_models::ImageClassifier;

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::eval_split::EvalSplit;
use crate::evaluate::evaluate;
use crate::run::{artifacts, write_json};

/// Where the report of one split goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOutputs {
    /// The JSON report.
    pub eval: PathBuf,
    /// The per-sample predictions.
    pub predictions: PathBuf,
}

impl SplitOutputs {
    /// [`artifacts::EVAL`] and [`artifacts::PREDICTIONS`] in `dir` for the test split,
    /// `eval-<split>.json` and `predictions-<split>.csv` for the others.
    pub fn named(dir: &Path, split: EvalSplit) -> Self {
        match split {
            EvalSplit::Test => Self {
                eval: dir.join(artifacts::EVAL),
                predictions: dir.join(artifacts::PREDICTIONS),
            },
            other => Self {
                eval: dir.join(format!("eval-{other}.json")),
                predictions: dir.join(format!("predictions-{other}.csv")),
            },
        }
    }
}

/// A split's report and predictions, both also written to disk.
#[derive(Debug, Clone)]
pub struct SplitReport {
    /// The classification report, with the score-based metrics.
    pub report: ClassificationReport,
    /// Every sample's probabilities, in dataset order.
    pub predictions: Predictions,
    /// Every class's name.
    pub class_names: Vec<String>,
    /// The files written.
    pub outputs: SplitOutputs,
}

/// Evaluates `model` (in inference mode) on `data`, writes the JSON report and the
/// predictions CSV to `outputs`.
pub(crate) fn report_split<M: ImageClassifier, A>(
    model: &M,
    data: &ImageDataset,
    norm: Normalization,
    device: &Device,
    config: &RunConfig<A>,
    outputs: SplitOutputs,
    extra_diagnostics: Vec<Diagnostic>,
) -> Result<SplitReport, TrainError> {
    let loader = Loader::new(
        Batcher::new(norm, device.clone()),
        config.training.loader_workers,
    );
    let temperature = config.evaluation.temperature();
    let batch_size = config.training.batch_size;
    let eval = evaluate(model, data, &loader, batch_size, true, temperature)?;
    let class_names: Vec<String> = config.class_names();
    let mut predictions = eval.predictions.ok_or(TrainError::Internal(
        "the evaluation collected no predictions",
    ))?;
    let threshold = config.binary_head.and_then(|h| h.chosen);
    if let Some(t) = threshold {
        predictions = predictions.with_threshold(t)?;
    }
    let predicted = predictions.predictions();
    let confusion = match threshold {
        Some(_) => {
            ConfusionMatrix::from_labels(predictions.labels(), &predicted, class_names.len())?
        }
        None => eval.stats.confusion().clone(),
    };
    let scores = predictions.scores_f64();
    let scored = Scored {
        labels: predictions.labels(),
        predicted: &predicted,
        scores: &scores,
    };
    let report = configured_report(config, &confusion, Some(scored), extra_diagnostics)?;
    predictions.write_csv(&outputs.predictions)?;
    write_json(&outputs.eval, &report.to_json())?;
    Ok(SplitReport {
        report,
        predictions,
        class_names,
        outputs,
    })
}

/// The samples a split's report was counted from.
#[derive(Debug, Clone, Copy)]
pub struct Scored<'a> {
    /// Each sample's true class.
    pub labels: &'a [usize],
    /// Each sample's decision (the argmax, or a binary head's thresholded one).
    pub predicted: &'a [usize],
    /// One score per class and sample, row-major.
    pub scores: &'a [f64],
}

/// The report of a split's `confusion` counts as the run `config` makes it: its class names and
/// diagnostic thresholds, the `extra` diagnostics, the metrics of the `scored` samples (top-k,
/// curves, calibration with its temperature, bootstrap intervals) and a binary head's
/// thresholded decision.
pub fn configured_report<A>(
    config: &RunConfig<A>,
    confusion: &ConfusionMatrix,
    scored: Option<Scored<'_>>,
    extra: Vec<Diagnostic>,
) -> Result<ClassificationReport, TrainError> {
    let class_names = config.class_names();
    let mut report =
        ClassificationReport::new(confusion, None, Some(&class_names), ZeroDivision::Zero)?;
    report.thresholds = config.diagnostics;
    report.extra_diagnostics = extra;
    let Some(Scored {
        labels,
        predicted,
        scores,
    }) = scored
    else {
        return Ok(report);
    };
    let k = class_names.len();
    let settings = &config.evaluation;
    report.add_scores(labels, scores, k, settings.top_k.as_deref())?;
    if let Some(t) = settings.temperature() {
        report.set_temperature(t, labels, scores, k)?;
    }
    let threshold = config.binary_head.and_then(|h| h.chosen.map(|t| (h, t)));
    if let Some((head, t)) = threshold {
        let decision = kiln_eval::Decision {
            threshold: t,
            positive: class_names.get(1).cloned().unwrap_or_default(),
            how: head.threshold.to_string(),
        };
        report.set_decision(decision, &crate::binary::positive_scores(scores));
    }
    if let Some(bootstrap) = settings.bootstrap() {
        report.add_intervals(labels, predicted, Some(scores), k, bootstrap)?;
    }
    Ok(report)
}
