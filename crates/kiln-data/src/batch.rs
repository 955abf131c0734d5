//! Turning `u8` images into normalized tensors, one tensor per batch (never one per item).

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::augment::Augmentation;
use crate::images::ImageDataset;
use crate::rng::SplitMix64;

/// `(x / 255 - mean[c]) / std[c]` for channel `c` (grayscale datasets use the first entry).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Per-channel mean of the pixels scaled to `[0, 1]`.
    pub mean: [f32; 3],
    /// Per-channel standard deviation of the pixels scaled to `[0, 1]`.
    pub std: [f32; 3],
}

impl Normalization {
    /// The value each byte of channel `c` maps to, as a lookup table per channel.
    fn tables(&self) -> [[f32; 256]; 3] {
        std::array::from_fn(|c| {
            std::array::from_fn(|b| (b as f32 / 255.0 - self.mean[c]) / self.std[c])
        })
    }
}

/// A batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Normalized images, shape `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// Class labels, shape `[batch]` (of a mixed batch: each image's dominant label).
    pub targets: Tensor<1, Int>,
    /// A mixed batch's soft targets ([`crate::mix`]), shape `[batch, classes]`.
    pub soft_targets: Option<Tensor<2>>,
}

/// Builds batches of a dataset on one device.
#[derive(Debug, Clone)]
pub struct Batcher {
    tables: [[f32; 256]; 3],
    device: Device,
}

impl Batcher {
    /// A batcher normalizing with `norm` and placing batches on `device`.
    pub fn new(norm: Normalization, device: Device) -> Self {
        Self {
            tables: norm.tables(),
            device,
        }
    }

    /// The batch of the images at `indices`, in that order.
    pub fn batch(&self, data: &ImageDataset, indices: &[usize]) -> Batch {
        self.to_device(self.host_batch(data, indices))
    }

    /// The host-side half of [`Self::batch`]: normalized pixels and labels in one buffer each,
    /// no tensor yet (the part [`crate::Loader`]'s workers do).
    pub fn host_batch(&self, data: &ImageDataset, indices: &[usize]) -> HostBatch {
        self.augmented_batch(data, indices, &Augmentation::NONE, |_| SplitMix64::new(0))
    }

    /// [`Self::host_batch`] with each image augmented first, the `j`-th of the batch with
    /// random draws from `rng_for(j)`.
    pub fn augmented_batch(
        &self,
        data: &ImageDataset,
        indices: &[usize],
        augmentation: &Augmentation,
        rng_for: impl Fn(usize) -> SplitMix64,
    ) -> HostBatch {
        let shape = data.shape();
        let mut pixels = Vec::with_capacity(indices.len() * shape.len());
        let plane = shape.height * shape.width;
        let mut scratch = Vec::new();
        for (j, &i) in indices.iter().enumerate() {
            let mut rng = rng_for(j);
            let image = match augmentation.is_none() {
                true => data.image(i),
                false => {
                    scratch.clear();
                    scratch.extend_from_slice(data.image(i));
                    augmentation.apply(&mut scratch, shape, &mut rng);
                    &scratch
                }
            };
            let start = pixels.len();
            for (c, channel) in image.chunks(plane.max(1)).enumerate() {
                let table = &self.tables[c.min(2)];
                pixels.extend(channel.iter().map(|&b| table[usize::from(b)]));
            }
            if augmentation.has_normalized_steps() {
                augmentation.apply_normalized(&mut pixels[start..], shape, &mut rng);
            }
        }
        HostBatch {
            pixels,
            labels: indices
                .iter()
                .map(|&i| i64::from(data.labels()[i]))
                .collect(),
            dims: [indices.len(), shape.channels, shape.height, shape.width],
            soft_targets: None,
        }
    }

    /// The device-side half of [`Self::batch`]: one tensor for the images, one for the labels.
    pub fn to_device(&self, host: HostBatch) -> Batch {
        let len = host.labels.len();
        let soft_targets = host.soft_targets.map(|t| {
            let classes = t.len() / len.max(1);
            Tensor::from_data(TensorData::new(t, [len, classes]), &self.device)
        });
        Batch {
            images: Tensor::from_data(TensorData::new(host.pixels, host.dims), &self.device),
            targets: Tensor::from_data(TensorData::new(host.labels, [len]), &self.device),
            soft_targets,
        }
    }
}

/// A batch assembled on the host, ready for one copy to the device.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// Normalized pixels, `[batch, channels, height, width]` in row-major order.
    pub pixels: Vec<f32>,
    /// Class labels.
    pub labels: Vec<i64>,
    /// `[batch, channels, height, width]`.
    pub dims: [usize; 4],
    /// A mixed batch's soft targets, `[batch, classes]` in row-major order.
    pub soft_targets: Option<Vec<f32>>,
}

/// The order in which an epoch visits a dataset, cut into batches.
///
/// With a seed the order is a fresh permutation per epoch, a pure function of `(seed, epoch)`;
/// without one it is the file order. The last batch may be smaller (PyTorch's
/// `drop_last=False`).
pub fn epoch_batches(
    len: usize,
    batch_size: usize,
    shuffle: Option<(u64, u64)>,
) -> Vec<Vec<usize>> {
    let order = match shuffle {
        Some((seed, epoch)) => SplitMix64::for_stream(seed, epoch).permutation(len),
        None => (0..len).collect(),
    };
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// An epoch of `len` draws *with replacement*, image `i` drawn with probability proportional
/// to `class_weights[labels[i]]`, cut into batches — PyTorch's
/// `WeightedRandomSampler(weights, num_samples=len, replacement=True)` with per-sample weights
/// taken from the class. A pure function of `(seed, epoch)`. With `class_weights[c] =
/// 1 / count[c]` every class is drawn equally often in expectation ([`balanced_class_weights`]).
pub fn weighted_epoch_batches(
    labels: &[u8],
    class_weights: &[f64],
    batch_size: usize,
    (seed, epoch): (u64, u64),
) -> Vec<Vec<usize>> {
    let mut cumulative = Vec::with_capacity(labels.len());
    let mut total = 0.0;
    for &l in labels {
        total += class_weights
            .get(usize::from(l))
            .copied()
            .filter(|w| w.is_finite() && *w > 0.0)
            .unwrap_or(0.0);
        cumulative.push(total);
    }
    if total <= 0.0 {
        return Vec::new();
    }
    // A stream of its own, so that the sampler's draws never coincide with the shuffle's.
    let mut rng = SplitMix64::for_stream(seed ^ 0x5A4D_504C_4552_0001, epoch);
    let draws: Vec<usize> = (0..labels.len())
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            cumulative
                .partition_point(|&c| c <= u)
                .min(labels.len() - 1)
        })
        .collect();
    draws
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// `1 / count[c]` for every class of `labels` (0 for a class with no images).
pub fn balanced_class_weights(labels: &[u8], num_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; num_classes];
    for &l in labels {
        if let Some(c) = counts.get_mut(usize::from(l)) {
            *c += 1;
        }
    }
    counts
        .into_iter()
        .map(|c| if c == 0 { 0.0 } else { 1.0 / c as f64 })
        .collect()
}

#[cfg(test)]
#[path = "tests/batch.rs"]
mod tests;
