//! The dataset a run reads: one of the named datasets, or an image folder with a training and
//! a test split.
//!
//! A [`DatasetSource`] is recorded in a run's `config.json`. Once the data has been loaded it
//! holds everything needed to rebuild the model and to preprocess new images — input size,
//! channels, class names, normalization — without reading the data again.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::batch::Normalization;
use crate::error::DataError;
use crate::folder::{Unreadable, class_directories};
use crate::spec::DatasetName;

/// Sub-directories of an image folder's root holding the training split.
pub const FOLDER_TRAIN: &str = "train";
/// Sub-directories of an image folder's root holding the test split, in order of preference.
pub const FOLDER_TEST: [&str; 2] = ["test", "val"];

/// A named dataset or an image folder. Serialized as the name (`"fashion-mnist"`) or as the
/// folder's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DatasetSource {
    /// One of kiln's tables ([`DatasetName::spec`]).
    Named(DatasetName),
    /// Your own images.
    Folder(FolderSource),
}

/// An image folder: `root/train/<class>/…` and `root/test/<class>/…` (or `root/val/<class>/…`),
/// each read by [`crate::folder::read_image_folder`]. Both splits must have the same class
/// directories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FolderSource {
    /// The directory holding `train/` and `test/` (or `val/`).
    pub root: PathBuf,
    /// Input height and width every image is brought to.
    pub image_size: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// What to do with an image file that cannot be decoded.
    #[serde(default)]
    pub on_unreadable: Unreadable,
    /// The class directory names of the training split, sorted; label `i` is the `i`-th.
    /// Filled by [`FolderSource::scan`]; loading checks that the folder still has them.
    #[serde(default)]
    pub class_names: Vec<String>,
    /// Per-channel mean and standard deviation of the pixels of the whole `train/` folder
    /// (scaled to `[0, 1]`; before any `--limit` or validation hold-out), computed when the
    /// folder is first loaded and reused after that (`kiln eval`,
    /// `kiln predict`), as the named datasets' constants are.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

impl FolderSource {
    /// Checks the layout of `root` (a training split, a test split, the same class directories
    /// in both) and records the class names; decodes no image.
    pub fn scan(
        root: &Path,
        image_size: u32,
        channels: usize,
        on_unreadable: Unreadable,
    ) -> Result<Self, DataError> {
        if !matches!(channels, 1 | 3) {
            return Err(DataError::InvalidRequest(format!(
                "images have 1 (grayscale) or 3 (RGB) channels, not {channels}"
            )));
        }
        if image_size == 0 {
            return Err(DataError::InvalidRequest(
                "the image size must be at least 1".into(),
            ));
        }
        let source = Self {
            root: root.to_path_buf(),
            image_size,
            channels,
            on_unreadable,
            class_names: Vec::new(),
            normalization: None,
        };
        let [train, test] = source.split_dirs()?;
        let class_names = class_directories(&train)?;
        source.check_classes(&test, &class_directories(&test)?, &class_names)?;
        Ok(Self {
            class_names,
            ..source
        })
    }

    /// The training and test split directories.
    pub fn split_dirs(&self) -> Result<[PathBuf; 2], DataError> {
        let layout = |message: &str| DataError::Folder {
            path: self.root.clone(),
            message: format!(
                "{message} (expected {FOLDER_TRAIN}/<class>/<image> and {}/<class>/<image> \
                 under it)",
                FOLDER_TEST[0]
            ),
        };
        if !self.root.is_dir() {
            return Err(layout("not a directory"));
        }
        let train = self.root.join(FOLDER_TRAIN);
        if !train.is_dir() {
            return Err(layout("no train/ directory"));
        }
        let test = FOLDER_TEST
            .iter()
            .map(|name| self.root.join(name))
            .find(|dir| dir.is_dir())
            .ok_or_else(|| layout("no test/ or val/ directory"))?;
        Ok([train, test])
    }

    /// An error unless `found` (the class directories of `dir`) equals `expected`.
    pub(crate) fn check_classes(
        &self,
        dir: &Path,
        found: &[String],
        expected: &[String],
    ) -> Result<(), DataError> {
        if found == expected {
            return Ok(());
        }
        Err(DataError::Folder {
            path: dir.to_path_buf(),
            message: format!(
                "class directories [{}] differ from the expected [{}]",
                found.join(", "),
                expected.join(", ")
            ),
        })
    }
}

impl DatasetSource {
    /// A short name: the named dataset's, or the folder's last path component.
    pub fn name(&self) -> String {
        match self {
            Self::Named(name) => name.to_string(),
            Self::Folder(f) => f
                .root
                .file_name()
                .map_or_else(|| "folder".into(), |n| n.to_string_lossy().into_owned()),
        }
    }

    /// Image channels.
    pub fn channels(&self) -> usize {
        match self {
            Self::Named(name) => name.spec().channels,
            Self::Folder(f) => f.channels,
        }
    }

    /// Image height (= width).
    pub fn image_size(&self) -> usize {
        match self {
            Self::Named(name) => name.spec().image_size[0],
            Self::Folder(f) => f.image_size as usize,
        }
    }

    /// Class names, indexed by label.
    pub fn class_names(&self) -> Vec<String> {
        match self {
            Self::Named(name) => name.spec().class_name_list(),
            Self::Folder(f) => f.class_names.clone(),
        }
    }

    /// The normalization constants; `None` for a folder not loaded yet.
    pub fn normalization(&self) -> Option<Normalization> {
        match self {
            Self::Named(name) => Some(name.spec().normalization()),
            Self::Folder(f) => f.normalization,
        }
    }
}

impl From<DatasetName> for DatasetSource {
    fn from(name: DatasetName) -> Self {
        Self::Named(name)
    }
}

impl fmt::Display for DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => write!(f, "{name}"),
            Self::Folder(folder) => write!(f, "image folder {}", folder.root.display()),
        }
    }
}

#[cfg(test)]
#[path = "tests/source.rs"]
mod tests;
