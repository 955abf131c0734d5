//! The one IDX reader (and writer) for the MNIST family.
//!
//! IDX layout: a big-endian magic number `0x00 0x00 TYPE RANK`, then `RANK` big-endian `u32`
//! dimensions, then the elements in row-major order. kiln reads unsigned-byte files (`TYPE =
//! 0x08`), raw or gzip-compressed (detected by content, not by file name).

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, IdxProblem};

const UBYTE: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX file's contents: its dimensions and its bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Declared dimensions, outermost first (`[items, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The elements, `dims.iter().product()` of them.
    pub data: Vec<u8>,
}

/// Images read from an IDX file of rank 3: `count` images of `height × width` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// `count × height × width` pixels, row-major.
    pub pixels: Vec<u8>,
}

/// Reads and validates an unsigned-byte IDX file (raw or `.gz`) of any rank.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let bytes = read_maybe_gzip(path)?;
    parse_idx(&bytes).map_err(|problem| DataError::Idx {
        path: path.to_path_buf(),
        problem,
    })
}

/// Reads an image file (rank 3) and checks each image is `expected` `[height, width]` where
/// given. The item count is free: users may supply subsets of a dataset.
pub fn read_images(path: &Path, expected: Option<[usize; 2]>) -> Result<IdxImages, DataError> {
    let idx = read_idx(path)?;
    let bad = |problem| DataError::Idx {
        path: path.to_path_buf(),
        problem,
    };
    let dims = expect_rank(&idx, 3, "images").map_err(bad)?;
    if let Some(expected) = expected {
        for ((what, want), got) in ["height", "width"]
            .into_iter()
            .zip(expected)
            .zip(&dims[1..])
        {
            let got = *got;
            if want != got {
                return Err(bad(IdxProblem::UnexpectedShape {
                    what,
                    expected: want,
                    found: got,
                }));
            }
        }
    }
    Ok(IdxImages {
        count: dims[0],
        height: dims[1],
        width: dims[2],
        pixels: idx.data,
    })
}

/// Reads a label file (rank 1) and checks every label is below `num_classes`.
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>, DataError> {
    let idx = read_idx(path)?;
    let bad = |problem| DataError::Idx {
        path: path.to_path_buf(),
        problem,
    };
    expect_rank(&idx, 1, "labels").map_err(bad)?;
    if let Some((index, &label)) = idx
        .data
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= num_classes)
    {
        return Err(bad(IdxProblem::LabelOutOfRange {
            index,
            label,
            num_classes,
        }));
    }
    Ok(idx.data)
}

/// Writes an unsigned-byte IDX file, gzip-compressed when `gzip` is true.
///
/// Used by tests and by anyone packaging their own data in the MNIST format.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let rank = u8::try_from(dims.len())
        .map_err(|_| DataError::InvalidRequest(format!("IDX rank {} exceeds 255", dims.len())))?;
    if dims.iter().product::<usize>() != data.len() {
        return Err(DataError::InvalidRequest(format!(
            "IDX dimensions {dims:?} do not match {} bytes of data",
            data.len()
        )));
    }
    let mut bytes = vec![0, 0, UBYTE, rank];
    for &d in dims {
        let d = u32::try_from(d)
            .map_err(|_| DataError::InvalidRequest(format!("IDX dimension {d} exceeds u32")))?;
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    let file = std::fs::File::create(path).map_err(io)?;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        enc.write_all(&bytes).map_err(io)?;
        enc.finish().map_err(io)?;
    } else {
        let mut file = file;
        file.write_all(&bytes).map_err(io)?;
    }
    Ok(())
}

pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match gunzip_if_gzip(&raw) {
        Ok(Cow::Borrowed(_)) => Ok(raw),
        Ok(Cow::Owned(out)) => Ok(out),
        Err(problem) => Err(DataError::Idx {
            path: path.to_path_buf(),
            problem,
        }),
    }
}

/// The bytes, gunzipped first when they start with the gzip magic.
fn gunzip_if_gzip(bytes: &[u8]) -> Result<Cow<'_, [u8]>, IdxProblem> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| IdxProblem::Gzip(e.to_string()))?;
    Ok(Cow::Owned(out))
}

/// Parses an unsigned-byte IDX file's bytes (raw or gzip-compressed) — what [`read_idx`]
/// does after reading the file; the entry point of the `idx` fuzz target.
pub fn decode_idx(bytes: &[u8]) -> Result<IdxArray, IdxProblem> {
    parse_idx(&gunzip_if_gzip(bytes)?)
}

fn parse_idx(bytes: &[u8]) -> Result<IdxArray, IdxProblem> {
    let header: [u8; 4] =
        bytes
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .ok_or(IdxProblem::Truncated {
                what: "header",
                expected: 4,
                found: bytes.len(),
            })?;
    if header[0] != 0 || header[1] != 0 {
        return Err(IdxProblem::BadMagic {
            magic: u32::from_be_bytes(header),
        });
    }
    if header[2] != UBYTE {
        return Err(IdxProblem::UnsupportedType { code: header[2] });
    }
    let rank = usize::from(header[3]);
    let dims_end = 4 + 4 * rank;
    let dim_bytes = bytes.get(4..dims_end).ok_or(IdxProblem::Truncated {
        what: "dimensions",
        expected: 4 * rank,
        found: bytes.len() - 4,
    })?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|_| dims.iter().all(|&d| d > 0))
        .ok_or_else(|| IdxProblem::BadDimensions { dims: dims.clone() })?;
    let data = &bytes[dims_end..];
    if data.len() < len {
        return Err(IdxProblem::Truncated {
            what: "data",
            expected: len,
            found: data.len(),
        });
    }
    if data.len() > len {
        return Err(IdxProblem::TrailingBytes {
            extra: data.len() - len,
        });
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

fn expect_rank<'a>(
    idx: &'a IdxArray,
    rank: usize,
    kind: &'static str,
) -> Result<&'a [usize], IdxProblem> {
    if idx.dims.len() == rank {
        Ok(&idx.dims)
    } else {
        Err(IdxProblem::WrongRank {
            kind,
            expected: rank,
            found: idx.dims.len(),
        })
    }
}

#[cfg(test)]
#[path = "tests/idx.rs"]
mod tests;
