//! scikit-learn-exact classification evaluation for kiln.
//!
//! The torchmetrics shape: the math lives once, in pure functions over counts
//! ([`metrics`]); accumulators only gather counts ([`ConfusionMatrix::update`] from logits on any
//! backend, [`ConfusionMatrix::merge`], [`ConfusionMatrix::reset`]).
//!
//! - [`ConfusionMatrix`]: rows = true label, columns = predicted label.
//! - [`metrics`]: precision / recall / F-beta / specificity / support per class, micro / macro /
//!   weighted averages, accuracy, balanced accuracy, top-k accuracy, Cohen's kappa, Matthews
//!   correlation, with scikit-learn's `zero_division`.
//! - [`MetricSpec`]: one scalar named by a string (`macro_f1`, `recall:Shirt`), for training
//!   logs and monitors.
//! - [`ClassificationReport`]: the `classification_report` text table and the `eval.json`
//!   document.
//! - [`curves`]: precision–recall and ROC curves, ROC AUC, average precision (binary and
//!   one-vs-rest); [`threshold`]: choosing a decision threshold for a positive class.
//! - [`diagnostics`]: judgments with their numbers — the majority-class baseline, the accuracy
//!   paradox per class, class imbalance.
//! - [`Predictions`]: per-sample probabilities, written as `predictions.csv`;
//!   [`read_predictions_csv`] reads any model's predictions back (`kiln metrics`).
//! - `plot` (feature `plots`, on by default): the confusion heatmap, per-class bars, PR / ROC
//!   curves and threshold trade-off as PNG and SVG.

mod accumulate;
mod confusion;
mod csv_input;
pub mod curves;
pub mod diagnostics;
mod error;
#[cfg(feature = "plots")]
pub mod html;
mod metric_spec;
pub mod metrics;
#[cfg(feature = "plots")]
pub mod plot;
mod predictions;
mod report;
pub mod threshold;

pub use confusion::{ConfusionMatrix, Normalize};
pub use csv_input::{ClassSet, LabeledPredictions, read_predictions_csv};
pub use error::EvalError;
pub use metric_spec::{ClassScore, GLOBAL_METRICS, MetricKind, MetricSpec, class_index};
pub use metrics::{Scores, ZeroDivision};
pub use predictions::Predictions;
pub use report::{ClassificationReport, Decision};
