//! Making a dataset imbalanced on purpose: keep only a fraction of one class.

use crate::error::DataError;
use crate::images::ImageDataset;
use crate::rng::SplitMix64;

/// `data` with only `⌈fraction · n⌉` (at least one) of the `n` images of class `class`, chosen
/// by a shuffle seeded with `seed`; every other image is kept. Order is preserved.
pub fn keep_class_fraction(
    data: &ImageDataset,
    class: usize,
    fraction: f64,
    seed: u64,
) -> Result<ImageDataset, DataError> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(DataError::InvalidRequest(format!(
            "the fraction of class {class} to keep must be in (0, 1], got {fraction}"
        )));
    }
    if class >= data.num_classes() {
        return Err(DataError::InvalidRequest(format!(
            "class {class} does not exist ({} classes)",
            data.num_classes()
        )));
    }
    let members: Vec<usize> = (0..data.len())
        .filter(|&i| usize::from(data.labels()[i]) == class)
        .collect();
    let keep = ((members.len() as f64 * fraction).ceil() as usize)
        .max(1)
        .min(members.len());
    let mut chosen = vec![false; data.len()];
    for &p in SplitMix64::new(seed)
        .permutation(members.len())
        .iter()
        .take(keep)
    {
        chosen[members[p]] = true;
    }
    let indices: Vec<usize> = (0..data.len())
        .filter(|&i| usize::from(data.labels()[i]) != class || chosen[i])
        .collect();
    Ok(data.select(&indices))
}

#[cfg(test)]
#[path = "tests/imbalance.rs"]
mod tests;
