//! SHA-256 verification of dataset files.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::DataError;

/// Hex SHA-256 of a file's bytes, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
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
    let actual = sha256_file(path)?;
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
