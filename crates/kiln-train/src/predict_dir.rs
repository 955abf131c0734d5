//! Classifying a folder of images into a predictions CSV (`kiln predict --image-dir`): batched,
//! one row per file with its path, and — when the files sit in folders named after the model's
//! classes — their label, so that `kiln metrics` and `kiln compare` read the result.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use kiln_data::folder::{Unreadable, list_images};
use kiln_eval::calibration::top_label;

use crate::error::TrainError;
use crate::predict::LoadedModel;

/// One file's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePrediction {
    /// The file, relative to the folder.
    pub path: PathBuf,
    /// The class its folder names, if the folders name classes.
    pub label: Option<usize>,
    /// The predicted class: the first of highest probability, or a binary head's decision by
    /// its threshold.
    pub predicted: usize,
    /// Every class's probability.
    pub probabilities: Vec<f32>,
}

/// What [`classify_dir`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DirPredictions {
    /// Every class's name (the model's, or its index).
    pub classes: Vec<String>,
    /// One row per readable file, in sorted path order.
    pub rows: Vec<FilePrediction>,
    /// Files that could not be decoded, with why (kept out of `rows`).
    pub skipped: Vec<(PathBuf, String)>,
}

/// How to go through a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirRequest<'a> {
    /// The folder.
    pub dir: &'a Path,
    /// Include its subfolders.
    pub recursive: bool,
    /// A file that cannot be decoded: stop, or skip it (listed in
    /// [`DirPredictions::skipped`]).
    pub on_unreadable: Unreadable,
    /// Images per forward pass.
    pub batch_size: usize,
}

/// Classifies every image in `request.dir` with `loaded`, `request.batch_size` at a time;
/// `progress(done, total)` is called after each batch.
pub fn classify_dir(
    loaded: &LoadedModel,
    request: DirRequest<'_>,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<DirPredictions, TrainError> {
    let files = list_images(request.dir, request.recursive)?;
    if files.is_empty() {
        return Err(TrainError::artifact(
            request.dir,
            format!(
                "no images ({}){}",
                kiln_data::folder::IMAGE_EXTENSIONS.join(", "),
                if request.recursive {
                    ""
                } else {
                    " (--recursive looks in subfolders)"
                }
            ),
        ));
    }
    let mut out = DirPredictions {
        classes: Vec::new(),
        rows: Vec::with_capacity(files.len()),
        skipped: Vec::new(),
    };
    let p = &loaded.preprocess;
    for chunk in files.chunks(request.batch_size.max(1)) {
        let (mut values, mut kept) = (Vec::new(), Vec::new());
        for path in chunk {
            match (p.load(path), request.on_unreadable) {
                (Ok(v), _) => {
                    values.extend(v);
                    kept.push(path);
                }
                (Err(e), Unreadable::Skip) => out.skipped.push((path.clone(), e.to_string())),
                (Err(e), Unreadable::Fail) => return Err(e.into()),
            }
        }
        if !kept.is_empty() {
            let (_, probs, k) = loaded.run(values, kept.len(), device)?;
            for (path, row) in kept.into_iter().zip(probs.chunks(k)) {
                let scores: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
                out.rows.push(FilePrediction {
                    path: path.strip_prefix(request.dir).unwrap_or(path).to_path_buf(),
                    label: None,
                    predicted: match loaded.threshold {
                        Some(t) if k == 2 => usize::from(f64::from(row[1]) >= t),
                        _ => top_label(&scores).0,
                    },
                    probabilities: row.to_vec(),
                });
            }
            if out.classes.is_empty() {
                out.classes = match &loaded.class_names {
                    Some(names) => names.clone(),
                    None => (0..k).map(|c| c.to_string()).collect(),
                };
            }
        }
        progress(out.rows.len() + out.skipped.len(), files.len());
    }
    if out.rows.is_empty() {
        return Err(TrainError::artifact(
            request.dir,
            format!("none of its {} images could be read", files.len()),
        ));
    }
    label_by_folder(&mut out);
    Ok(out)
}

/// Gives every row the class its first folder names — when every row's folder names one: the
/// class's name, the name with `/` written `_` (`T-shirt_top`: a folder cannot hold a `/`), or
/// the class's index.
fn label_by_folder(out: &mut DirPredictions) {
    let folder_class = |path: &Path| {
        let mut parts = path.components();
        let folder = parts.next()?.as_os_str().to_str()?;
        parts.next()?;
        (out.classes.iter().position(|c| c == folder))
            .or_else(|| (out.classes.iter()).position(|c| c.replace('/', "_") == folder))
            .or_else(|| {
                folder
                    .parse()
                    .ok()
                    .filter(|&i: &usize| i < out.classes.len())
            })
    };
    let labels: Option<Vec<usize>> = out.rows.iter().map(|r| folder_class(&r.path)).collect();
    if let Some(labels) = labels {
        for (row, label) in out.rows.iter_mut().zip(labels) {
            row.label = Some(label);
        }
    }
}

impl DirPredictions {
    /// Whether the rows carry labels (every file sits in a folder named after a class).
    pub fn labelled(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.label.is_some())
    }

    /// Writes `path,label,prediction,score_<class>…` (no `label` column without labels),
    /// classes by name, probabilities at full precision: what `kiln metrics` reads.
    pub fn write_csv(&self, out: &Path) -> Result<(), TrainError> {
        let error = |e: csv::Error| TrainError::artifact(out, e);
        let mut w = csv::Writer::from_path(out).map_err(error)?;
        let mut header = vec!["path".to_string()];
        if self.labelled() {
            header.push("label".into());
        }
        header.push("prediction".into());
        header.extend(self.classes.iter().map(|c| format!("score_{c}")));
        w.write_record(&header).map_err(error)?;
        for row in &self.rows {
            let mut record = vec![row.path.to_string_lossy().into_owned()];
            if let Some(label) = row.label {
                record.push(self.classes[label].clone());
            }
            record.push(self.classes[row.predicted].clone());
            record.extend(row.probabilities.iter().map(|p| p.to_string()));
            w.write_record(&record).map_err(error)?;
        }
        w.flush().map_err(|e| TrainError::artifact(out, e))
    }
}

#[cfg(test)]
#[path = "tests/predict_dir.rs"]
mod tests;
