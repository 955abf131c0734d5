//! Typed errors for everything `kiln-data` reads, resolves or downloads.

use std::path::PathBuf;

/// What went wrong while reading, locating or downloading a dataset.
///
/// Every variant names the file (or dataset) involved so the message alone is actionable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An image file could not be decoded or does not have the required size.
    #[error("{}: {message}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The file is not a well-formed IDX file of the expected kind.
    #[error("{}: {problem}", path.display())]
    Idx {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        problem: IdxProblem,
    },
    /// An image folder does not have the `root/<class>/<image>` layout.
    #[error("{}: {message}", path.display())]
    Folder {
        /// The root or class directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The file is not a well-formed CIFAR binary file (or archive) of the expected kind.
    #[error("{}: {problem}", path.display())]
    Cifar {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        problem: CifarProblem,
    },
    /// An image file and its label file disagree on the number of items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Number of images in it.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Number of labels in it.
        labels: usize,
    },
    /// A file's SHA-256 digest is not the one the dataset table lists.
    #[error(
        "{}: SHA-256 is {actual}, expected {expected} (corrupt or truncated file: delete it and run again)",
        path.display()
    )]
    Checksum {
        /// The file whose digest differs.
        path: PathBuf,
        /// Digest from the dataset table.
        expected: String,
        /// Digest of the file on disk.
        actual: String,
    },
    /// None of the places a dataset may live holds its files, and it could not be downloaded.
    #[error("{}", not_found_message(dataset, searched, download))]
    NotFound {
        /// The dataset's name (e.g. `mnist`).
        dataset: String,
        /// Every directory that was looked in, with what was missing there.
        searched: Vec<(PathBuf, String)>,
        /// Why downloading did not help.
        download: String,
    },
    /// Every mirror failed to deliver a file.
    #[error("could not download {file}: {}", attempts.join("; "))]
    MirrorsFailed {
        /// The file name.
        file: String,
        /// Each mirror's failure.
        attempts: Vec<String>,
    },
    /// A download failed (network, HTTP status, or a truncated body).
    #[error("download of {url} failed: {source}")]
    Download {
        /// The URL that was tried.
        url: String,
        /// What went wrong: the HTTP client's error, or what was wrong with the body.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A split or subset request that the dataset cannot satisfy.
    #[error("{0}")]
    InvalidRequest(String),
}

/// The specific way an IDX file is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdxProblem {
    /// The file ends before its header or data does.
    #[error("truncated: expected {expected} bytes of {what}, found {found}")]
    Truncated {
        /// Which part was cut short (`header`, `dimensions`, `data`).
        what: &'static str,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The file has bytes after its declared data.
    #[error("{extra} unexpected trailing bytes after the data")]
    TrailingBytes {
        /// How many bytes follow the data.
        extra: usize,
    },
    /// The first two magic bytes are not zero.
    #[error("bad magic number {magic:#010x}: not an IDX file")]
    BadMagic {
        /// The 32-bit big-endian magic number read.
        magic: u32,
    },
    /// The element type is not unsigned bytes (0x08).
    #[error("unsupported element type {code:#04x} (kiln reads unsigned-byte IDX files, type 0x08)")]
    UnsupportedType {
        /// The type code in the magic number.
        code: u8,
    },
    /// The number of dimensions is not what this kind of file needs.
    #[error("expected {expected} dimensions ({kind}), found {found}")]
    WrongRank {
        /// What the file was read as (`images`, `labels`).
        kind: &'static str,
        /// Dimensions needed.
        expected: usize,
        /// Dimensions declared.
        found: usize,
    },
    /// A dimension is zero, or the dimensions multiply past what memory can address.
    #[error("invalid dimensions {dims:?}")]
    BadDimensions {
        /// The declared dimensions.
        dims: Vec<usize>,
    },
    /// A dimension differs from what the dataset table expects.
    #[error("expected {what} = {expected}, found {found}")]
    UnexpectedShape {
        /// Which dimension (`items`, `height`, `width`).
        what: &'static str,
        /// Value from the dataset table.
        expected: usize,
        /// Value in the file.
        found: usize,
    },
    /// A label is not below the dataset's class count.
    #[error("label {label} at index {index} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// Position of the label in the file.
        index: usize,
        /// The label value.
        label: u8,
        /// The dataset's class count.
        num_classes: usize,
    },
    /// The gzip stream is corrupt.
    #[error("corrupt gzip stream: {0}")]
    Gzip(String),
}

/// The specific way a CIFAR file is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CifarProblem {
    /// The record file is empty.
    #[error("empty: no records")]
    Empty,
    /// The file size is not a whole number of records (truncated, or another CIFAR).
    #[error(
        "{len} bytes is not a multiple of the {record}-byte record (truncated, or not this CIFAR variant)"
    )]
    RecordSize {
        /// The file's size.
        len: usize,
        /// Bytes per record.
        record: usize,
    },
    /// A label byte is not below its class count.
    #[error("label {label} of record {index} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The record's position.
        index: usize,
        /// The label value.
        label: u8,
        /// The class count of that label.
        num_classes: usize,
    },
    /// A class-names file does not list one name per class.
    #[error("expected {expected} class names (one per line), found {found}")]
    NameCount {
        /// The class count.
        expected: usize,
        /// Non-empty lines found.
        found: usize,
    },
    /// A class-names file is not UTF-8 text.
    #[error("class names are not text")]
    NamesNotText,
    /// The archive lacks a member.
    #[error("the archive has no member {0}")]
    MissingMember(String),
}

fn not_found_message(dataset: &str, searched: &[(PathBuf, String)], download: &str) -> String {
    let mut msg = format!("dataset `{dataset}` not found. Looked in:\n");
    for (dir, why) in searched {
        msg.push_str(&format!("  - {}: {why}\n", dir.display()));
    }
    msg.push_str(&format!("  - download: {download}\n"));
    msg.push_str(&format!(
        "Fix: pass --data-dir DIR (a directory holding the dataset: the four IDX files, .gz or raw, \
         or CIFAR's official .tar.gz or its extracted directory), \
         set KILN_DATA_DIR so that $KILN_DATA_DIR/{dataset} holds them, \
         install a system package that puts them in /usr/share/datasets/{dataset}{package}, \
         or let kiln download them into its cache \
         (network access, without --offline or KILN_OFFLINE).",
        package = match dataset {
            "fashion-mnist" => " (Debian: dataset-fashion-mnist)",
            _ => "",
        }
    ));
    msg
}
