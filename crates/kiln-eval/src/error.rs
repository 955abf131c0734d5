//! Typed errors of `kiln-eval`.

use std::path::PathBuf;

/// What went wrong while computing or writing an evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Two inputs that must have the same length do not.
    #[error("{what} differ in length: {left} vs {right}")]
    LengthMismatch {
        /// Which inputs.
        what: &'static str,
        /// Length of the first.
        left: usize,
        /// Length of the second.
        right: usize,
    },
    /// A metric name (`--metric`, `--monitor`) is not one kiln knows.
    #[error("unknown metric `{spec}`: {problem}")]
    UnknownMetric {
        /// The name given.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A score is NaN or infinite.
    #[error("score {index} is {value}: scores must be finite")]
    NonFiniteScore {
        /// Its position in the scores.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A label is not below the number of classes.
    #[error("label {label} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// The class count.
        num_classes: usize,
    },
    /// Targets in a batch are not in `0..num_classes`.
    #[error("{count} of {batch} targets are outside 0..{num_classes}")]
    TargetsOutOfRange {
        /// How many targets are out of range.
        count: usize,
        /// Batch size.
        batch: usize,
        /// The class count.
        num_classes: usize,
    },
    /// An argument is out of its range (`what` names it).
    #[error("{what}: {problem}")]
    Invalid {
        /// The argument.
        what: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A top-k accuracy was asked for with k not below the class count.
    #[error("top-{k} accuracy needs more than {k} classes; there are {num_classes}")]
    TopK {
        /// The k asked for.
        k: usize,
        /// The class count.
        num_classes: usize,
    },
    /// A report was asked for with no labels to report on.
    #[error("no labels to report on (no samples were evaluated)")]
    Empty,
    /// Reading tensor data back from a device failed.
    #[error("reading tensor data: {0}")]
    Tensor(String),
    /// A predictions CSV is malformed.
    #[error("{}: line {line}{}: {problem}", path.display(), if column.is_empty() { String::new() } else { format!(" (column `{column}`)") })]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line (the header is line 1; 0 when unknown).
        line: u64,
        /// The column, when one is at fault.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// Drawing a figure failed.
    #[error("{}: drawing the figure failed: {problem}", path.display())]
    Plot {
        /// The figure's file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// Writing a report file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
