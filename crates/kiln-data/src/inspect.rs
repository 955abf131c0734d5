//! What `kiln data info|verify` report: each located file's checksum status and the class
//! balance of a loaded dataset.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::checksum::hex;
use crate::error::DataError;
use crate::idx::read_maybe_gzip;
use crate::images::ImageDataset;
use crate::resolve::DatasetFiles;
use crate::spec::{DatasetSpec, FileSpec};

/// How a located file compares with the dataset table's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// The canonical file, digest equal.
    Verified,
    /// Not the canonical bytes, but its decompressed content has the known content digest
    /// (a copy recompressed by a distribution package, or decompressed).
    ContentVerified,
    /// Another digest than the table's: a truncated download, a corrupted or another file.
    Mismatch {
        /// The table's digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// A decompressed or extracted copy with no known digest; validated structurally when read.
    NoDigest,
}

/// One located file and its checksum status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The file (or extracted directory).
    pub path: PathBuf,
    /// Its status.
    pub status: ChecksumStatus,
}

/// The checksum status of every located file of `spec`.
pub fn check_files(spec: &DatasetSpec, files: &DatasetFiles) -> Result<Vec<FileCheck>, DataError> {
    spec.all_files()
        .zip(&files.paths)
        .map(|(file, path)| {
            Ok(FileCheck {
                path: path.clone(),
                status: status(file, path)?,
            })
        })
        .collect()
}

fn status(file: FileSpec, path: &Path) -> Result<ChecksumStatus, DataError> {
    let canonical_name = path.file_name().is_some_and(|n| n == file.name);
    let mut mismatch = None;
    if canonical_name && path.is_file() {
        let actual = file.checksum.of_file(path)?;
        if actual.eq_ignore_ascii_case(file.checksum.hex()) {
            return Ok(ChecksumStatus::Verified);
        }
        mismatch = Some(ChecksumStatus::Mismatch {
            expected: file.checksum.hex().to_string(),
            actual,
        });
    }
    match file.raw_sha256 {
        Some(expected) if path.is_file() => {
            let content = read_maybe_gzip(path)?;
            let actual = hex(&Sha256::digest(&content));
            Ok(if actual.eq_ignore_ascii_case(expected) {
                ChecksumStatus::ContentVerified
            } else {
                mismatch.unwrap_or(ChecksumStatus::Mismatch {
                    expected: expected.to_string(),
                    actual,
                })
            })
        }
        _ => Ok(mismatch.unwrap_or(ChecksumStatus::NoDigest)),
    }
}

/// Per-class image counts of the training and test splits, as a text table: one row per
/// class with its count and share in each split, then the totals.
pub fn class_balance_table(
    class_names: &[String],
    train: &ImageDataset,
    test: &ImageDataset,
) -> String {
    let (a, b) = (train.class_counts(), test.class_counts());
    let width = class_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let share = |n: usize, total: usize| 100.0 * n as f64 / total.max(1) as f64;
    let mut out = format!(
        "{:<width$} {:>8} {:>7} {:>8} {:>7}\n",
        "class", "train", "share", "test", "share"
    );
    for (i, name) in class_names.iter().enumerate() {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        out += &format!(
            "{name:<width$} {x:>8} {:>6.2}% {y:>8} {:>6.2}%\n",
            share(x, train.len()),
            share(y, test.len())
        );
    }
    out += &format!(
        "{:<width$} {:>8} {:>7} {:>8}\n",
        "total",
        train.len(),
        "",
        test.len()
    );
    out
}

#[cfg(test)]
#[path = "tests/inspect.rs"]
mod tests;
