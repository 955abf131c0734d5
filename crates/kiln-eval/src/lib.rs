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
//! - [`calibration`]: ECE / MCE (torchmetrics), class-wise ECE, Brier score and log loss
//!   (scikit-learn), the reliability diagram's bins; [`temperature`]: temperature scaling.
//! - [`bootstrap`]: seeded percentile intervals ([`ClassificationReport::add_intervals`] for a
//!   report's figures); [`compare`]: two runs on the same samples — McNemar's exact test and
//!   paired bootstrap intervals of the differences.
//! - [`Predictions`]: per-sample probabilities, written as `predictions.csv`;
//!   [`read_predictions_csv`] reads any model's predictions back (`kiln metrics`).
//! - `plot` (feature `plots`, on by default): the confusion heatmap, per-class bars, PR / ROC
//!   curves and threshold trade-off as PNG and SVG.
//!
//! The accuracy paradox in ten labels: a model that never predicts the rare class is 90% accurate
//! and useless for it, which the per-class rows and the macro average show:
//!
//! ```
//! use kiln_eval::{ClassificationReport, ConfusionMatrix, ZeroDivision};
//!
//! let y_true = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
//! let y_pred = [0; 10];
//! let cm = ConfusionMatrix::from_labels(&y_true, &y_pred, 2)?;
//! let report = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero)?;
//! assert_eq!(report.micro.f1, 0.9); // = accuracy
//! assert_eq!(report.rows[1].recall, 0.0); // the rare class is never found
//! assert!((report.macro_avg.f1 - 0.473_684_210_526_315_8).abs() < 1e-12);
//! println!("{}", report.to_text(4)); // scikit-learn's classification_report table
//! # Ok::<(), kiln_eval::EvalError>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod accumulate;
pub mod bootstrap;
pub mod calibration;
mod class_counts;
pub mod compare;
mod confusion;
mod csv_input;
pub mod curves;
pub mod diagnostics;
mod error;
#[cfg(feature = "plots")]
pub mod html;
mod intervals;
mod metric_spec;
pub mod metrics;
#[cfg(feature = "plots")]
pub mod plot;
mod predictions;
mod report;
pub mod temperature;
pub mod threshold;

pub use bootstrap::{Bootstrap, Interval};
pub use calibration::Calibration;
pub use compare::Comparison;
pub use confusion::{ConfusionMatrix, Normalize};
pub use csv_input::{ClassSet, LabeledPredictions, read_predictions_csv};
pub use error::EvalError;
pub use intervals::Intervals;
pub use metric_spec::{ClassScore, GLOBAL_METRICS, MetricKind, MetricSpec, class_index};
pub use metrics::{Scores, ZeroDivision};
pub use predictions::Predictions;
pub use report::{ClassificationReport, DEFAULT_TOP_K, Decision, top_k_list};
