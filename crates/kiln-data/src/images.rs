//! An image-classification dataset held in memory as `u8`, as it was on disk.

use std::path::Path;

use crate::batch::Normalization;
use crate::error::DataError;
use crate::idx;
use crate::rng::SplitMix64;

/// Layout of one image: `channels × height × width` bytes, channel-major (CHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    /// Colour channels (1 for the MNIST family).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Bytes per image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape holds no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Images and labels in memory. Pixels stay `u8` (a quarter of the memory of `f32`); batches
/// are normalized when they are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDataset {
    shape: ImageShape,
    num_classes: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl ImageDataset {
    /// A dataset from raw parts; `pixels` holds `labels.len()` images of `shape`, and every
    /// label is below `num_classes`.
    pub fn new(
        shape: ImageShape,
        num_classes: usize,
        pixels: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        if pixels.len() != labels.len() * shape.len() {
            return Err(DataError::InvalidRequest(format!(
                "{} pixel bytes do not hold {} images of {}x{}x{}",
                pixels.len(),
                labels.len(),
                shape.channels,
                shape.height,
                shape.width
            )));
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= num_classes) {
            return Err(DataError::InvalidRequest(format!(
                "label {bad} is out of range for {num_classes} classes"
            )));
        }
        Ok(Self {
            shape,
            num_classes,
            pixels,
            labels,
        })
    }

    /// Reads an IDX image file and its label file, checking that they agree.
    pub fn from_idx(
        images_path: &Path,
        labels_path: &Path,
        image_size: Option<[usize; 2]>,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        let images = idx::read_images(images_path, image_size)?;
        let labels = idx::read_labels(labels_path, num_classes)?;
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images_path: images_path.to_path_buf(),
                images: images.count,
                labels_path: labels_path.to_path_buf(),
                labels: labels.len(),
            });
        }
        let shape = ImageShape {
            channels: 1,
            height: images.height,
            width: images.width,
        };
        Self::new(shape, num_classes, images.pixels, labels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of each image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of classes (labels are `0..num_classes`).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All labels, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i` (CHW bytes).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order, as a new dataset.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Self {
            shape: self.shape,
            num_classes: self.num_classes,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The same images as a two-class task, class `positive` against the rest: label 1 for its
    /// images, 0 for every other (scikit-learn's one-vs-rest).
    pub fn one_vs_rest(&self, positive: usize) -> Self {
        Self {
            shape: self.shape,
            num_classes: 2,
            pixels: self.pixels.clone(),
            labels: self
                .labels
                .iter()
                .map(|&l| u8::from(usize::from(l) == positive))
                .collect(),
        }
    }

    /// The first `n` images (all of them if there are fewer).
    pub fn truncate(mut self, n: usize) -> Self {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.shape.len());
        self
    }

    /// Splits off a validation set of `valid_len` images chosen by a seeded shuffle; returns
    /// `(train, valid)`, each in the original file order.
    pub fn split_validation(&self, valid_len: usize, seed: u64) -> Result<(Self, Self), DataError> {
        if valid_len >= self.len() {
            return Err(DataError::InvalidRequest(format!(
                "validation size {valid_len} leaves no training images out of {}",
                self.len()
            )));
        }
        let perm = SplitMix64::new(seed).permutation(self.len());
        let (mut valid, mut train) = (perm[..valid_len].to_vec(), perm[valid_len..].to_vec());
        valid.sort_unstable();
        train.sort_unstable();
        Ok((self.select(&train), self.select(&valid)))
    }

    /// Per-channel mean and (population) standard deviation of the pixels scaled to `[0, 1]`
    /// — the constants torchvision recipes compute on a training set. Grayscale fills all three
    /// entries with its one channel; a channel with no spread gets a standard deviation of 1.
    pub fn channel_statistics(&self) -> Normalization {
        let channels = self.shape.channels;
        let plane = self.shape.height * self.shape.width;
        let mut histograms = vec![[0u64; 256]; channels];
        for image in self.pixels.chunks_exact(self.shape.len().max(1)) {
            for (c, histogram) in histograms.iter_mut().enumerate() {
                for &b in &image[c * plane..(c + 1) * plane] {
                    histogram[usize::from(b)] += 1;
                }
            }
        }
        let stats: Vec<(f32, f32)> = histograms
            .iter()
            .map(|h| {
                let n = h.iter().sum::<u64>().max(1) as f64;
                let moment = |k: i32| {
                    h.iter()
                        .enumerate()
                        .map(|(b, &count)| count as f64 * (b as f64 / 255.0).powi(k))
                        .sum::<f64>()
                        / n
                };
                let mean = moment(1);
                let std = (moment(2) - mean * mean).max(0.0).sqrt();
                (mean as f32, if std > 1e-6 { std as f32 } else { 1.0 })
            })
            .collect();
        let pick = |c: usize| {
            let last = stats.len().saturating_sub(1);
            stats.get(c.min(last)).copied().unwrap_or((0.0, 1.0))
        };
        Normalization {
            mean: std::array::from_fn(|c| pick(c).0),
            std: std::array::from_fn(|c| pick(c).1),
        }
    }

    /// Images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

#[cfg(test)]
#[path = "tests/images.rs"]
mod tests;
