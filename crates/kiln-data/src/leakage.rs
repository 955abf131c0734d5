//! Leakage: images of one split that also appear in another.
//!
//! - **Exact duplicates**: byte-identical images (a 64-bit content hash, then a byte
//!   comparison, so a hash collision can never count).
//! - **Near duplicates**: images whose mean absolute pixel difference is at most
//!   [`LeakageOptions::max_pixel_difference`] (on the `[0, 1]` scale) — a re-encoded, slightly
//!   brightened or noised copy. Comparing every pair pixel by pixel is too slow, so a cheap
//!   perceptual hash filters first: the 64-bit difference hash (dHash: the image averaged to
//!   grayscale, box-resized to 9×8, one bit per horizontally adjacent pair, set when the left
//!   cell is darker); only pairs within [`LeakageOptions::max_hash_distance`] bits are compared
//!   pixel by pixel.
//!
//! Each image of the `query` split is matched against the whole `reference` split and reported
//! once, with its closest match: an exact duplicate if there is one, else the near duplicate
//! with the smallest pixel difference.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

use crate::images::ImageDataset;

/// How duplicates are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LeakageOptions {
    /// Also look for near duplicates (not only exact ones).
    pub near: bool,
    /// Difference-hash bits (of 64) two images may differ in to be compared pixel by pixel.
    pub max_hash_distance: u32,
    /// The largest mean absolute pixel difference, on the `[0, 1]` scale, of a near duplicate.
    pub max_pixel_difference: f64,
}

impl Default for LeakageOptions {
    /// Near duplicates included; hash distance ≤ 8 bits; mean pixel difference ≤ 0.02 (about 5
    /// grey levels out of 255).
    fn default() -> Self {
        Self {
            near: true,
            max_hash_distance: 8,
            max_pixel_difference: 0.02,
        }
    }
}

/// One query image and its closest match in the reference split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DuplicateMatch {
    /// Index in the query split.
    pub query: usize,
    /// Index in the reference split.
    pub reference: usize,
    /// Mean absolute pixel difference on the `[0, 1]` scale (0 for an exact duplicate).
    pub pixel_difference: f64,
    /// Whether both images carry the same label (a duplicate with another label is label noise
    /// as well as leakage).
    pub same_label: bool,
}

impl DuplicateMatch {
    /// Byte-identical.
    pub fn is_exact(&self) -> bool {
        self.pixel_difference == 0.0
    }
}

/// The query images that have a duplicate in the reference split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    /// The query split's name.
    pub query: String,
    /// The reference split's name.
    pub reference: String,
    /// Images in the query split.
    pub query_len: usize,
    /// Query images with an exact duplicate in the reference split.
    pub exact: usize,
    /// Query images with only a near duplicate.
    pub near: usize,
    /// Every match, by query index.
    pub matches: Vec<DuplicateMatch>,
}

impl Overlap {
    /// Query indices with any duplicate, ascending.
    pub fn query_indices(&self) -> Vec<usize> {
        self.matches.iter().map(|m| m.query).collect()
    }

    /// One line: counts, the share of the query split, and up to three example index pairs.
    pub fn summary(&self) -> String {
        let share = 100.0 * (self.exact + self.near) as f64 / self.query_len.max(1) as f64;
        let examples: Vec<String> = self
            .matches
            .iter()
            .take(3)
            .map(|m| {
                format!(
                    "{}#{} = {}#{}",
                    self.query, m.query, self.reference, m.reference
                )
            })
            .collect();
        let mut line = format!(
            "{} of {} {} images ({share:.2}%) duplicate a {} image: {} exact, {} near",
            self.exact + self.near,
            self.query_len,
            self.query,
            self.reference,
            self.exact,
            self.near
        );
        let relabelled = self.matches.iter().filter(|m| !m.same_label).count();
        if relabelled > 0 {
            line.push_str(&format!(", {relabelled} of them with another label"));
        }
        if !examples.is_empty() {
            line.push_str(&format!(" (e.g. {})", examples.join(", ")));
        }
        line
    }
}

/// Finds the images of `query` that duplicate an image of `reference` (see the module docs).
/// The two must have the same image shape; otherwise nothing can match and the overlap is
/// empty.
pub fn find_duplicates(
    query: (&str, &ImageDataset),
    reference: (&str, &ImageDataset),
    options: &LeakageOptions,
) -> Overlap {
    overlap(query, reference, false, options)
}

/// The images of `data` that duplicate an earlier image of `data` (each matched to the
/// earliest): copies inside one file, which a random split turns into train/validation
/// leakage.
pub fn find_duplicates_within(
    name: &str,
    data: &ImageDataset,
    options: &LeakageOptions,
) -> Overlap {
    overlap((name, data), (name, data), true, options)
}

/// The leakage between a run's three splits: validation and test images duplicating training
/// images, and test images duplicating validation images.
pub fn check_splits(
    train: &ImageDataset,
    valid: &ImageDataset,
    test: &ImageDataset,
    options: &LeakageOptions,
) -> Vec<Overlap> {
    vec![
        find_duplicates(("valid", valid), ("train", train), options),
        find_duplicates(("test", test), ("train", train), options),
        find_duplicates(("test", test), ("valid", valid), options),
    ]
}

/// [`find_duplicates`], or with `within` (query = reference) matches to earlier images only.
fn overlap(
    (query_name, query): (&str, &ImageDataset),
    (reference_name, reference): (&str, &ImageDataset),
    within: bool,
    options: &LeakageOptions,
) -> Overlap {
    let mut overlap = Overlap {
        query: query_name.into(),
        reference: reference_name.into(),
        query_len: query.len(),
        exact: 0,
        near: 0,
        matches: Vec::new(),
    };
    if query.shape() != reference.shape() || query.shape().is_empty() {
        return overlap;
    }
    let mut by_content: HashMap<u64, Vec<usize>> = HashMap::new();
    for r in 0..reference.len() {
        by_content
            .entry(content_hash(reference.image(r)))
            .or_default()
            .push(r);
    }
    let exact: Vec<Option<usize>> = (0..query.len())
        .map(|q| {
            let image = query.image(q);
            by_content
                .get(&content_hash(image))?
                .iter()
                .copied()
                .find(|&r| (!within || r < q) && reference.image(r) == image)
        })
        .collect();
    let near = match options.near {
        true => near_matches(query, reference, &exact, within, options),
        false => vec![None; query.len()],
    };
    for (q, (exact, near)) in exact.into_iter().zip(near).enumerate() {
        let found = match (exact, near) {
            (Some(r), _) => Some((r, 0.0)),
            (None, Some((r, d))) => Some((r, d)),
            (None, None) => None,
        };
        if let Some((r, d)) = found {
            match d == 0.0 {
                true => overlap.exact += 1,
                false => overlap.near += 1,
            }
            overlap.matches.push(DuplicateMatch {
                query: q,
                reference: r,
                pixel_difference: d,
                same_label: query.labels()[q] == reference.labels()[r],
            });
        }
    }
    overlap
}

/// For every query image without an exact duplicate, its closest near duplicate, if any;
/// the query images are shared between the available cores.
fn near_matches(
    query: &ImageDataset,
    reference: &ImageDataset,
    exact: &[Option<usize>],
    within: bool,
    options: &LeakageOptions,
) -> Vec<Option<(usize, f64)>> {
    let reference_hashes: Vec<u64> = (0..reference.len())
        .map(|r| difference_hash(reference, r))
        .collect();
    let len = query.shape().len();
    // Integer bound on the summed absolute difference.
    let budget = (options.max_pixel_difference * 255.0 * len as f64).floor() as u64;
    let closest = |q: usize| -> Option<(usize, f64)> {
        if exact[q].is_some() {
            return None;
        }
        let hash = difference_hash(query, q);
        let image = query.image(q);
        let mut best: Option<(usize, u64)> = None;
        let hashes = match within {
            true => &reference_hashes[..q],
            false => &reference_hashes[..],
        };
        for r in hash_neighbours(hashes, hash, options.max_hash_distance) {
            let bound = best.map_or(budget, |(_, d)| d);
            if let Some(d) = absolute_difference(image, reference.image(r), bound)
                && best.is_none_or(|(_, b)| d < b)
            {
                best = Some((r, d));
            }
        }
        best.map(|(r, d)| (r, d as f64 / (255.0 * len as f64)))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = query.len().div_ceil(threads).max(1);
    let indices: Vec<usize> = (0..query.len()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&q| closest(q)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Indices of the `hashes` within `max` bits of `hash` — the inner loop of the near-duplicate
/// search (billions of comparisons for a 60k × 60k check), so it runs with the CPU's `popcnt`
/// instruction where there is one (x86-64 does not assume it).
fn hash_neighbours(hashes: &[u64], hash: u64, max: u32) -> Vec<usize> {
    #[inline(always)]
    fn scan(hashes: &[u64], hash: u64, max: u32) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, &h) in hashes.iter().enumerate() {
            if (hash ^ h).count_ones() <= max {
                out.push(i);
            }
        }
        out
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "popcnt")]
        fn scan_popcnt(hashes: &[u64], hash: u64, max: u32) -> Vec<usize> {
            scan(hashes, hash, max)
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the running CPU has `popcnt`, checked just above.
            return unsafe { scan_popcnt(hashes, hash, max) };
        }
    }
    scan(hashes, hash, max)
}

/// The summed absolute difference of two images if it is at most `bound` (stops counting as
/// soon as it is exceeded).
fn absolute_difference(a: &[u8], b: &[u8], bound: u64) -> Option<u64> {
    let mut total = 0u64;
    for (ca, cb) in a.chunks(64).zip(b.chunks(64)) {
        // At most 64 × 255 per chunk: a u32 sum cannot overflow, and vectorizes.
        total += u64::from(
            ca.iter()
                .zip(cb)
                .map(|(&x, &y)| u32::from(x.abs_diff(y)))
                .sum::<u32>(),
        );
        if total > bound {
            return None;
        }
    }
    Some(total)
}

/// The 64-bit hash of an image's bytes.
fn content_hash(image: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    image.hash(&mut h);
    h.finish()
}

/// dHash of image `i`: channels averaged, box-resized to 9×8, bit `8r + c` set when cell
/// `(r, c)` is darker than cell `(r, c + 1)`.
pub fn difference_hash(data: &ImageDataset, i: usize) -> u64 {
    let shape = data.shape();
    let (h, w) = (shape.height, shape.width);
    let plane = h * w;
    let image = data.image(i);
    let mut cells = [[0f64; 9]; 8];
    for (r, row) in cells.iter_mut().enumerate() {
        let (y0, y1) = (r * h / 8, ((r + 1) * h / 8).max(r * h / 8 + 1).min(h));
        for (c, cell) in row.iter_mut().enumerate() {
            let (x0, x1) = (c * w / 9, ((c + 1) * w / 9).max(c * w / 9 + 1).min(w));
            let mut sum = 0u64;
            for channel in 0..shape.channels {
                for y in y0..y1 {
                    let start = channel * plane + y * w;
                    sum += image[start + x0..start + x1]
                        .iter()
                        .map(|&v| u64::from(v))
                        .sum::<u64>();
                }
            }
            *cell = sum as f64 / ((y1 - y0) * (x1 - x0) * shape.channels).max(1) as f64;
        }
    }
    let mut hash = 0u64;
    for (r, row) in cells.iter().enumerate() {
        for c in 0..8 {
            if row[c] < row[c + 1] {
                hash |= 1 << (8 * r + c);
            }
        }
    }
    hash
}

#[cfg(test)]
#[path = "tests/leakage.rs"]
mod tests;
