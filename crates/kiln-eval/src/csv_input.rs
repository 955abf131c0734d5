//! Reading any model's predictions from CSV, for `kiln metrics`.
//!
//! The header must name a `label` and a `prediction` column (integers or strings); optional
//! `score_<class>` columns hold one score per class. Every problem is an error naming the line
//! (1-based, the header is line 1) and the column.

use std::path::Path;

use crate::error::EvalError;

/// Labels, predictions and optional scores, with classes mapped to `0..classes.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledPredictions {
    /// Class names in index order.
    pub classes: Vec<String>,
    /// True class of each row.
    pub y_true: Vec<usize>,
    /// Predicted class of each row.
    pub y_pred: Vec<usize>,
    /// `classes.len()` scores per row, row-major, when the file has `score_<class>` columns.
    pub scores: Option<Vec<f64>>,
}

/// Which classes exist, and in what order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClassSet {
    /// The `score_<class>` columns if present, else the sorted union of labels and predictions
    /// (numerically when all are integers).
    #[default]
    Infer,
    /// Exactly these class names, in this order.
    Names(Vec<String>),
    /// Integer classes `0..K`.
    Count(usize),
}

/// The most classes a predictions file may have (a `K × K` confusion matrix is kept).
pub const MAX_CLASSES: usize = 10_000;

/// Reads a predictions CSV (see the module docs).
pub fn read_predictions_csv(
    path: &Path,
    classes: &ClassSet,
) -> Result<LabeledPredictions, EvalError> {
    let bad = |line: u64, column: &str, problem: String| EvalError::Csv {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| bad(0, "", e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| bad(1, "", e.to_string()))?
        .clone();
    let find = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            bad(
                1,
                name,
                format!(
                    "missing column `{name}` (header: {})",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            )
        })
    };
    let (label_col, pred_col) = (find("label")?, find("prediction")?);
    let score_cols: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("score_").map(|c| (i, c.to_string())))
        .collect();

    let mut labels = Vec::new();
    let mut preds = Vec::new();
    let mut scores = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, "", e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        labels.push((line, record[label_col].to_string()));
        preds.push((line, record[pred_col].to_string()));
        for (col, class) in &score_cols {
            let v: f64 = record[*col].parse().map_err(|_| {
                bad(
                    line,
                    &format!("score_{class}"),
                    format!("`{}` is not a number", &record[*col]),
                )
            })?;
            if !v.is_finite() {
                return Err(bad(
                    line,
                    &format!("score_{class}"),
                    format!("score {v} is not finite"),
                ));
            }
            scores.push(v);
        }
    }
    if labels.is_empty() {
        return Err(bad(2, "", "no data rows".into()));
    }

    let classes: Vec<String> = match classes {
        ClassSet::Names(names) => names.clone(),
        ClassSet::Count(k) if *k > MAX_CLASSES => {
            return Err(bad(
                0,
                "",
                format!("{k} classes exceed kiln's limit of {MAX_CLASSES}"),
            ));
        }
        ClassSet::Count(k) => (0..*k).map(|c| c.to_string()).collect(),
        ClassSet::Infer if !score_cols.is_empty() => {
            score_cols.iter().map(|(_, c)| c.clone()).collect()
        }
        ClassSet::Infer => sorted_union(labels.iter().chain(&preds).map(|(_, v)| v.as_str())),
    };
    if classes.len() > MAX_CLASSES {
        return Err(bad(
            0,
            "",
            format!(
                "{} classes exceed kiln's limit of {MAX_CLASSES}",
                classes.len()
            ),
        ));
    }
    if let Some(dup) = classes
        .iter()
        .enumerate()
        .find_map(|(i, c)| classes[..i].contains(c).then_some(c))
    {
        return Err(bad(
            1,
            &format!("score_{dup}"),
            format!("class `{dup}` is named twice"),
        ));
    }
    // Scores are matched to classes by name, never by position.
    let score_order: Vec<usize> = if score_cols.is_empty() {
        Vec::new()
    } else {
        if score_cols.len() != classes.len() {
            return Err(bad(
                1,
                "score_*",
                format!(
                    "{} score columns for {} classes",
                    score_cols.len(),
                    classes.len()
                ),
            ));
        }
        classes
            .iter()
            .map(|c| {
                score_cols
                    .iter()
                    .position(|(_, name)| name == c)
                    .ok_or_else(|| {
                        bad(
                            1,
                            &format!("score_{c}"),
                            format!("no score column for class `{c}`"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let width = score_cols.len();
    let scores: Vec<f64> = scores
        .chunks(width.max(1))
        .flat_map(|row| score_order.iter().map(move |&j| row[j]))
        .collect();
    let index = |column: &str, (line, value): &(u64, String)| {
        classes.iter().position(|c| c == value).ok_or_else(|| {
            bad(
                *line,
                column,
                format!(
                    "`{value}` is not one of the classes ({})",
                    classes.join(", ")
                ),
            )
        })
    };
    Ok(LabeledPredictions {
        y_true: labels
            .iter()
            .map(|l| index("label", l))
            .collect::<Result<_, _>>()?,
        y_pred: preds
            .iter()
            .map(|p| index("prediction", p))
            .collect::<Result<_, _>>()?,
        scores: (!score_cols.is_empty()).then_some(scores),
        classes,
    })
}

/// Sorted distinct values: numerically when every value is an integer, else as strings.
fn sorted_union<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<&str> = values.collect();
    v.sort_unstable();
    v.dedup();
    if v.iter().all(|s| s.parse::<i64>().is_ok()) {
        // Stable: equal numbers spelled differently ("1", "01") keep their string order.
        v.sort_by_key(|s| s.parse::<i64>().unwrap_or_default());
    }
    v.into_iter().map(String::from).collect()
}

#[cfg(test)]
#[path = "tests/csv_input.rs"]
mod tests;
