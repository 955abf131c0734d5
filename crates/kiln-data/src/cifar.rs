//! CIFAR-10 and CIFAR-100 in their official binary distribution.
//!
//! A record is the label byte(s) followed by a 32×32 RGB image as 3,072 bytes, channel-major
//! (1,024 red, 1,024 green, 1,024 blue; rows top to bottom) — exactly kiln's `u8` CHW layout, so
//! pixels are copied, never converted.
//!
//! - CIFAR-10 (`cifar-10-binary.tar.gz` → `cifar-10-batches-bin/`): `data_batch_1.bin` …
//!   `data_batch_5.bin` (10,000 records each) for training, `test_batch.bin`; a record is
//!   `<label><3072 pixels>`; class names in `batches.meta.txt`.
//! - CIFAR-100 (`cifar-100-binary.tar.gz` → `cifar-100-binary/`): `train.bin` (50,000 records),
//!   `test.bin` (10,000); a record is `<coarse label><fine label><3072 pixels>`; names in
//!   `coarse_label_names.txt` (20) and `fine_label_names.txt` (100).
//!
//! Files are read from the extracted directory or straight from the `.tar.gz`.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{CifarProblem, DataError};
use crate::images::{ImageDataset, ImageShape};
use crate::spec::Split;

/// Bytes of one CIFAR image.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// The shape of a CIFAR image.
pub const SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// Which CIFAR, and for CIFAR-100 which labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CifarKind {
    /// CIFAR-10: 10 classes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100Fine,
    /// CIFAR-100 with its 20 coarse labels (superclasses).
    Cifar100Coarse,
}

impl CifarKind {
    /// Label bytes before each image.
    pub fn label_bytes(self) -> usize {
        match self {
            Self::Cifar10 => 1,
            Self::Cifar100Fine | Self::Cifar100Coarse => 2,
        }
    }

    /// Bytes per record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + IMAGE_BYTES
    }

    /// Which of the label bytes is the label used.
    fn label_offset(self) -> usize {
        match self {
            Self::Cifar10 | Self::Cifar100Coarse => 0,
            Self::Cifar100Fine => 1,
        }
    }

    /// Number of classes.
    pub fn num_classes(self) -> usize {
        match self {
            Self::Cifar10 => 10,
            Self::Cifar100Fine => 100,
            Self::Cifar100Coarse => 20,
        }
    }

    /// The directory the official archive extracts to.
    pub fn directory(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-bin",
            Self::Cifar100Fine | Self::Cifar100Coarse => "cifar-100-binary",
        }
    }

    /// The record files of `split`, in order.
    pub fn files(self, split: Split) -> &'static [&'static str] {
        match (self, split) {
            (Self::Cifar10, Split::Train) => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (Self::Cifar10, Split::Test) => &["test_batch.bin"],
            (_, Split::Train) => &["train.bin"],
            (_, Split::Test) => &["test.bin"],
        }
    }

    /// Every member of the distribution: the training and test record files, then the names
    /// file.
    pub fn members(self) -> Vec<&'static str> {
        [
            self.files(Split::Train),
            self.files(Split::Test),
            &[self.names_file()],
        ]
        .concat()
    }

    /// The file of class names, one per line.
    pub fn names_file(self) -> &'static str {
        match self {
            Self::Cifar10 => "batches.meta.txt",
            Self::Cifar100Fine => "fine_label_names.txt",
            Self::Cifar100Coarse => "coarse_label_names.txt",
        }
    }
}

/// Parses the records of one file: `(pixels, labels)`, `pixels` CHW per image. `path` only
/// names the file in errors.
pub fn parse_records(
    bytes: &[u8],
    kind: CifarKind,
    path: &Path,
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let bad = |problem| DataError::Cifar {
        path: path.to_path_buf(),
        problem,
    };
    let record = kind.record_bytes();
    if bytes.is_empty() {
        return Err(bad(CifarProblem::Empty));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(bad(CifarProblem::RecordSize {
            len: bytes.len(),
            record,
        }));
    }
    let count = bytes.len() / record;
    let mut pixels = Vec::with_capacity(count * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(count);
    for (index, r) in bytes.chunks_exact(record).enumerate() {
        let label = r[kind.label_offset()];
        // A CIFAR-100 record must have both labels in range, whichever is used.
        for (byte, classes) in match kind {
            CifarKind::Cifar10 => vec![(r[0], 10)],
            _ => vec![(r[0], 20), (r[1], 100)],
        } {
            if usize::from(byte) >= classes {
                return Err(bad(CifarProblem::LabelOutOfRange {
                    index,
                    label: byte,
                    num_classes: classes,
                }));
            }
        }
        labels.push(label);
        pixels.extend_from_slice(&r[kind.label_bytes()..]);
    }
    Ok((pixels, labels))
}

/// Where a CIFAR distribution is: its extracted directory or its `.tar.gz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CifarSource {
    /// The extracted directory (`…/cifar-10-batches-bin`).
    Directory(PathBuf),
    /// The official archive (`cifar-10-binary.tar.gz`).
    Archive(PathBuf),
}

/// One split of a CIFAR dataset, with the class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarSplit {
    /// The images and labels.
    pub dataset: ImageDataset,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
}

/// Reads `split` of `kind` from `source`.
pub fn read_cifar(
    source: &CifarSource,
    kind: CifarKind,
    split: Split,
) -> Result<CifarSplit, DataError> {
    let records = kind.files(split);
    let mut contents = read_files(source, kind, &[records, &[kind.names_file()]].concat())?;
    let names = contents.split_off(records.len());
    assemble(kind, &contents, &names)
}

/// Reads the training and test splits of `kind` from `source` in one pass (an archive is
/// decompressed once).
pub fn read_cifar_splits(
    source: &CifarSource,
    kind: CifarKind,
) -> Result<(CifarSplit, CifarSplit), DataError> {
    let (train, test) = (kind.files(Split::Train), kind.files(Split::Test));
    let mut contents = read_files(source, kind, &kind.members())?;
    let names = contents.split_off(train.len() + test.len());
    let test_files = contents.split_off(train.len());
    Ok((
        assemble(kind, &contents, &names)?,
        assemble(kind, &test_files, &names)?,
    ))
}

/// The contents of the files `names` of the distribution, in that order, each with the path
/// that names it in errors.
fn read_files(
    source: &CifarSource,
    kind: CifarKind,
    names: &[&str],
) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    match source {
        CifarSource::Directory(dir) => names
            .iter()
            .map(|name| {
                let path = dir.join(name);
                std::fs::read(&path)
                    .map(|bytes| (path.clone(), bytes))
                    .map_err(|source| DataError::Io { path, source })
            })
            .collect(),
        CifarSource::Archive(archive) => read_members(archive, kind.directory(), names),
    }
}

/// One split from its record files' contents and the names file (`names[0]`).
fn assemble(
    kind: CifarKind,
    records: &[(PathBuf, Vec<u8>)],
    names: &[(PathBuf, Vec<u8>)],
) -> Result<CifarSplit, DataError> {
    let (names_path, names) = names
        .first()
        .ok_or_else(|| DataError::InvalidRequest("internal: no class-names file".into()))?;
    let class_names = parse_names(names, kind.num_classes(), names_path)?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (path, bytes) in records {
        let (p, l) = parse_records(bytes, kind, path)?;
        pixels.extend(p);
        labels.extend(l);
    }
    Ok(CifarSplit {
        dataset: ImageDataset::new(SHAPE, kind.num_classes(), pixels, labels)?,
        class_names,
    })
}

/// The class names of a names file: its non-empty lines, which must be `num_classes`.
fn parse_names(bytes: &[u8], num_classes: usize, path: &Path) -> Result<Vec<String>, DataError> {
    let bad = |problem| DataError::Cifar {
        path: path.to_path_buf(),
        problem,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad(CifarProblem::NamesNotText))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != num_classes {
        return Err(bad(CifarProblem::NameCount {
            expected: num_classes,
            found: names.len(),
        }));
    }
    Ok(names)
}

/// Reads the members `dir/name` of a `.tar.gz`, in the order of `names`; each is returned with
/// the path `archive/dir/name` for error messages.
fn read_members(
    archive: &Path,
    dir: &str,
    names: &[&str],
) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    let io = |source| DataError::Io {
        path: archive.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(archive).map_err(io)?;
    let mut tar = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; names.len()];
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.into_owned();
        let position = path.parent().filter(|p| p.ends_with(dir)).and_then(|_| {
            let file = path.file_name()?.to_str()?;
            names.iter().position(|n| *n == file)
        });
        if let Some(i) = position {
            let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(io)?;
            found[i] = Some(bytes);
        }
    }
    names
        .iter()
        .zip(found)
        .map(|(name, bytes)| {
            let member = archive.join(dir).join(name);
            match bytes {
                Some(bytes) => Ok((member, bytes)),
                None => Err(DataError::Cifar {
                    path: archive.to_path_buf(),
                    problem: CifarProblem::MissingMember(format!("{dir}/{name}")),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "tests/cifar.rs"]
mod tests;
