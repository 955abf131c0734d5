//! Checksum verification of dataset files: SHA-256, or MD5 where a dataset's authors publish
//! only that (CIFAR).

use std::io::Read;
use std::path::Path;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::DataError;

/// A file's published digest (hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-256.
    Sha256(&'static str),
    /// MD5 (only where the authors publish nothing stronger).
    Md5(&'static str),
}

impl Checksum {
    /// The expected hex digest.
    pub fn hex(&self) -> &'static str {
        match self {
            Self::Sha256(h) | Self::Md5(h) => h,
        }
    }

    /// The hex digest of `path` with this checksum's algorithm.
    pub fn of_file(&self, path: &Path) -> Result<String, DataError> {
        match self {
            Self::Sha256(_) => digest_file::<Sha256>(path),
            Self::Md5(_) => digest_file::<Md5>(path),
        }
    }

    /// Fails with [`DataError::Checksum`] unless `path` has this digest.
    pub fn verify(&self, path: &Path) -> Result<(), DataError> {
        compare(path, self.hex(), self.of_file(path)?)
    }
}

/// Hex SHA-256 of a file's bytes, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    digest_file::<Sha256>(path)
}

fn digest_file<D: Digest>(path: &Path) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Fails with [`DataError::Checksum`] unless the file's SHA-256 equals `expected` (hex).
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), DataError> {
    compare(path, expected, sha256_file(path)?)
}

fn compare(path: &Path, expected: &str, actual: String) -> Result<(), DataError> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "tests/checksum.rs"]
mod tests;
