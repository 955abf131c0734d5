//! Image folders, as torchvision's `ImageFolder`: `root/<class>/**/<image>`.
//!
//! - Classes are the sub-directories of `root` in sorted (byte) order; label `i` is the `i`-th.
//!   Hidden entries (names starting with `.`) are ignored.
//! - Images are the files under a class directory, recursively, in sorted path order, whose
//!   extension (any case) is `png`, `jpg`, `jpeg` or `bmp`; other files are ignored, as
//!   torchvision ignores non-image extensions.
//! - Every image is decoded and brought to the fixed input size as for prediction
//!   ([`Preprocess::fit`]): the shorter side resized to `size` (bilinear), then a center crop
//!   of `size`×`size`; converted to grayscale (PIL's luma) or RGB; kept as `u8`.
//! - A file that cannot be decoded fails the load, naming it ([`Unreadable::Fail`]), or is
//!   skipped and counted ([`Unreadable::Skip`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::images::{ImageDataset, ImageShape};
use crate::preprocess::Preprocess;

/// Extensions read as images.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// What to do with a file that has an image extension but cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unreadable {
    /// Stop with an error naming the file.
    #[default]
    Fail,
    /// Leave it out; it is listed in [`FolderDataset::skipped`].
    Skip,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fail => "fail",
            Self::Skip => "skip",
        })
    }
}

impl FromStr for Unreadable {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(Self::Fail),
            "skip" => Ok(Self::Skip),
            other => Err(DataError::InvalidRequest(format!(
                "unknown policy `{other}` for unreadable images (fail or skip)"
            ))),
        }
    }
}

/// How a folder's images become a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderOptions {
    /// Input height and width.
    pub size: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// The policy for undecodable files.
    pub unreadable: Unreadable,
}

/// An image folder in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderDataset {
    /// The images and labels.
    pub dataset: ImageDataset,
    /// Class names (the directory names), indexed by label.
    pub class_names: Vec<String>,
    /// The image files, in dataset order.
    pub files: Vec<PathBuf>,
    /// Files left out under [`Unreadable::Skip`], with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads `root/<class>/**/<image>` (see the module docs).
pub fn read_image_folder(root: &Path, options: &FolderOptions) -> Result<FolderDataset, DataError> {
    let classes = class_directories(root)?;
    let preprocess = Preprocess::fit(options.size, options.channels, &[0.0], &[1.0]);
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        let images = list_images(&dir, true)?;
        if images.is_empty() {
            return Err(DataError::Folder {
                path: dir,
                message: format!("no images ({})", IMAGE_EXTENSIONS.join(", ")),
            });
        }
        for path in images {
            let decoded = image::open(&path)
                .map_err(|e| format!("cannot decode: {e}"))
                .and_then(|img| preprocess.pixels(&img));
            match (decoded, options.unreadable) {
                (Ok(bytes), _) => {
                    pixels.extend(bytes);
                    labels.push(label as u8);
                    files.push(path);
                }
                (Err(message), Unreadable::Skip) => skipped.push((path, message)),
                (Err(message), Unreadable::Fail) => return Err(DataError::Image { path, message }),
            }
        }
    }
    let shape = ImageShape {
        channels: options.channels,
        height: options.size as usize,
        width: options.size as usize,
    };
    Ok(FolderDataset {
        dataset: ImageDataset::new(shape, classes.len(), pixels, labels)?,
        class_names: classes,
        files,
        skipped,
    })
}

/// The class names of `root/<class>/…`: its non-hidden sub-directories, sorted; at least one,
/// at most 256.
pub fn class_directories(root: &Path) -> Result<Vec<String>, DataError> {
    let folder_error = |message: String| DataError::Folder {
        path: root.to_path_buf(),
        message,
    };
    let mut classes = Vec::new();
    for path in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let name = path.file_name().unwrap_or_default();
        match name.to_str() {
            Some(name) => classes.push(name.to_string()),
            None => {
                return Err(folder_error(format!(
                    "class directory name {} is not UTF-8",
                    name.to_string_lossy()
                )));
            }
        }
    }
    if classes.is_empty() {
        return Err(folder_error(
            "no class sub-directories (expected root/<class>/<image>)".into(),
        ));
    }
    if classes.len() > usize::from(u8::MAX) + 1 {
        return Err(folder_error(format!(
            "{} classes; kiln supports at most 256",
            classes.len()
        )));
    }
    Ok(classes)
}

/// The non-hidden entries of `dir`, sorted.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The image files ([`IMAGE_EXTENSIONS`]) in `dir` — and with `recursive` in its
/// subdirectories — in sorted path order.
pub fn list_images(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            if recursive {
                out.extend(list_images(&path, true)?);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/folder.rs"]
mod tests;
