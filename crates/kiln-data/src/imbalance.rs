//! Class-aware subsets: keeping a fraction of some classes (imbalanced variants on purpose) and
//! the stratified train/validation split.

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
    let mut fractions = vec![1.0; data.num_classes()];
    fractions[class] = fraction;
    keep_class_fractions(data, &fractions, seed)
}

/// `data` with `⌈fractions[c] · n_c⌉` of the `n_c` images of every class `c` (a fraction of 0
/// drops the class), each class's chosen by a shuffle seeded with `seed`. Order is preserved.
/// Builds imbalanced variants of a dataset for study (e.g. a long-tailed CIFAR-10).
pub fn keep_class_fractions(
    data: &ImageDataset,
    fractions: &[f64],
    seed: u64,
) -> Result<ImageDataset, DataError> {
    if fractions.len() != data.num_classes() {
        return Err(DataError::InvalidRequest(format!(
            "{} class fractions for {} classes",
            fractions.len(),
            data.num_classes()
        )));
    }
    if let Some((c, f)) = fractions
        .iter()
        .enumerate()
        .find(|(_, f)| !(0.0..=1.0).contains(*f))
    {
        return Err(DataError::InvalidRequest(format!(
            "the fraction of class {c} to keep must be in [0, 1], got {f}"
        )));
    }
    let mut chosen = vec![false; data.len()];
    for (class, &fraction) in fractions.iter().enumerate() {
        let members: Vec<usize> = (0..data.len())
            .filter(|&i| usize::from(data.labels()[i]) == class)
            .collect();
        let keep = ((members.len() as f64 * fraction).ceil() as usize).min(members.len());
        for &p in SplitMix64::new(seed)
            .permutation(members.len())
            .iter()
            .take(keep)
        {
            chosen[members[p]] = true;
        }
    }
    let indices: Vec<usize> = (0..data.len()).filter(|&i| chosen[i]).collect();
    Ok(data.select(&indices))
}

/// Splits `data` into `(train, valid)` with `valid_len` validation images drawn per class in
/// proportion to the class sizes (largest remainders; scikit-learn's
/// `train_test_split(stratify=y)` in spirit), each class's by a shuffle seeded with
/// `(seed, class)`. Both keep the original order.
pub fn stratified_split(
    data: &ImageDataset,
    valid_len: usize,
    seed: u64,
) -> Result<(ImageDataset, ImageDataset), DataError> {
    let n = data.len();
    if valid_len >= n {
        return Err(DataError::InvalidRequest(format!(
            "validation size {valid_len} leaves no training images out of {n}"
        )));
    }
    let counts = data.class_counts();
    // Quotas: floor of the proportional share, then the largest remainders get one more.
    let exact: Vec<f64> = counts
        .iter()
        .map(|&c| valid_len as f64 * c as f64 / n as f64)
        .collect();
    let mut quota: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let short = valid_len - quota.iter().sum::<usize>();
    for &c in order.iter().take(short) {
        quota[c] += 1;
    }
    let mut in_valid = vec![false; n];
    for (class, &q) in quota.iter().enumerate() {
        let members: Vec<usize> = (0..n)
            .filter(|&i| usize::from(data.labels()[i]) == class)
            .collect();
        for &p in SplitMix64::for_stream(seed, class as u64)
            .permutation(members.len())
            .iter()
            .take(q)
        {
            in_valid[members[p]] = true;
        }
    }
    let (valid, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| in_valid[i]);
    Ok((data.select(&train), data.select(&valid)))
}

#[cfg(test)]
#[path = "tests/imbalance.rs"]
mod tests;
