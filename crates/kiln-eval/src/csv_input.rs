//! Reading any model's predictions from CSV, for `kiln metrics`.
//!
//! The header must name a `label` and a `prediction` column (integers or strings); optional
//! `score_<class>` columns hold one score per class; an optional `path` column names each
//! row's image (`kiln predict --image-dir`). Every problem is an error naming the line
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
    /// Each row's image, when the file has a `path` column.
    pub paths: Option<Vec<String>>,
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
    let at = At(path);
    let rows = read_rows(path)?;
    let classes = resolve_classes(classes, &rows, at)?;
    // Scores are matched to classes by name, never by position.
    let order = score_order(&classes, &rows.score_cols, at)?;
    let width = rows.score_cols.len();
    let scores: Vec<f64> = (rows.scores.chunks(width.max(1)))
        .flat_map(|row| order.iter().map(move |&j| row[j]))
        .collect();
    let index = |column: &str, (line, value): &(u64, String)| {
        classes.iter().position(|c| c == value).ok_or_else(|| {
            let known = classes.join(", ");
            at.error(
                *line,
                column,
                format!("`{value}` is not one of the classes ({known})"),
            )
        })
    };
    Ok(LabeledPredictions {
        y_true: (rows.labels.iter())
            .map(|l| index("label", l))
            .collect::<Result<_, _>>()?,
        y_pred: (rows.preds.iter())
            .map(|p| index("prediction", p))
            .collect::<Result<_, _>>()?,
        scores: (width > 0).then_some(scores),
        paths: rows.paths,
        classes,
    })
}

/// Errors about a place in the file.
#[derive(Clone, Copy)]
struct At<'a>(&'a Path);

impl At<'_> {
    /// The problem at `line` (1 = the header; 0 = the file as a whole) and `column`.
    fn error(self, line: u64, column: &str, problem: String) -> EvalError {
        EvalError::Csv {
            path: self.0.to_path_buf(),
            line,
            column: column.to_string(),
            problem,
        }
    }
}

/// The file's rows as text, with the line each came from; the scores parsed, row-major in the
/// order of `score_cols`.
struct Rows {
    labels: Vec<(u64, String)>,
    preds: Vec<(u64, String)>,
    scores: Vec<f64>,
    /// The `score_<class>` columns: their position and class name.
    score_cols: Vec<(usize, String)>,
    /// The `path` column's values, if there is one.
    paths: Option<Vec<String>>,
}

fn read_rows(path: &Path) -> Result<Rows, EvalError> {
    let at = At(path);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| at.error(0, "", e.to_string()))?;
    let header = (reader.headers())
        .map_err(|e| at.error(1, "", e.to_string()))?
        .clone();
    let find = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let all = header.iter().collect::<Vec<_>>().join(",");
            at.error(1, name, format!("missing column `{name}` (header: {all})"))
        })
    };
    let (label_col, pred_col) = (find("label")?, find("prediction")?);
    let path_col = header.iter().position(|h| h == "path");
    let score_cols: Vec<(usize, String)> = (header.iter().enumerate())
        .filter_map(|(i, h)| h.strip_prefix("score_").map(|c| (i, c.to_string())))
        .collect();
    let mut rows = Rows {
        labels: Vec::new(),
        preds: Vec::new(),
        scores: Vec::new(),
        score_cols,
        paths: path_col.map(|_| Vec::new()),
    };
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at.error(line, "", e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        rows.labels.push((line, record[label_col].to_string()));
        rows.preds.push((line, record[pred_col].to_string()));
        if let (Some(col), Some(paths)) = (path_col, rows.paths.as_mut()) {
            paths.push(record[col].to_string());
        }
        for (col, class) in &rows.score_cols {
            let column = format!("score_{class}");
            let text = &record[*col];
            let v: f64 = (text.parse())
                .map_err(|_| at.error(line, &column, format!("`{text}` is not a number")))?;
            if !v.is_finite() {
                return Err(at.error(line, &column, format!("score {v} is not finite")));
            }
            rows.scores.push(v);
        }
    }
    if rows.labels.is_empty() {
        return Err(at.error(2, "", "no data rows".into()));
    }
    Ok(rows)
}

/// The class names: given, counted, or inferred (the score columns', else the sorted labels and
/// predictions); at most [`MAX_CLASSES`], none twice.
fn resolve_classes(classes: &ClassSet, rows: &Rows, at: At<'_>) -> Result<Vec<String>, EvalError> {
    let too_many = |k: usize| {
        at.error(
            0,
            "",
            format!("{k} classes exceed kiln's limit of {MAX_CLASSES}"),
        )
    };
    let classes: Vec<String> = match classes {
        ClassSet::Names(names) => names.clone(),
        ClassSet::Count(k) if *k > MAX_CLASSES => return Err(too_many(*k)),
        ClassSet::Count(k) => (0..*k).map(|c| c.to_string()).collect(),
        ClassSet::Infer if !rows.score_cols.is_empty() => {
            rows.score_cols.iter().map(|(_, c)| c.clone()).collect()
        }
        ClassSet::Infer => sorted_union(
            rows.labels
                .iter()
                .chain(&rows.preds)
                .map(|(_, v)| v.as_str()),
        ),
    };
    if classes.len() > MAX_CLASSES {
        return Err(too_many(classes.len()));
    }
    let twice =
        (classes.iter().enumerate()).find_map(|(i, c)| classes[..i].contains(c).then_some(c));
    if let Some(dup) = twice {
        let column = format!("score_{dup}");
        return Err(at.error(1, &column, format!("class `{dup}` is named twice")));
    }
    Ok(classes)
}

/// For each class, the position of its score column (empty without scores).
fn score_order(
    classes: &[String],
    score_cols: &[(usize, String)],
    at: At<'_>,
) -> Result<Vec<usize>, EvalError> {
    if score_cols.is_empty() {
        return Ok(Vec::new());
    }
    if score_cols.len() != classes.len() {
        let (n, k) = (score_cols.len(), classes.len());
        return Err(at.error(1, "score_*", format!("{n} score columns for {k} classes")));
    }
    (classes.iter())
        .map(|c| {
            (score_cols.iter().position(|(_, name)| name == c)).ok_or_else(|| {
                at.error(
                    1,
                    &format!("score_{c}"),
                    format!("no score column for class `{c}`"),
                )
            })
        })
        .collect()
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
