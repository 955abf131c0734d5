//! Turning an image file into a model input, as torchvision's evaluation transforms do:
//! `Resize(shorter side)` → `CenterCrop` → `ToTensor` (`[0, 1]`) → `Normalize(mean, std)`.

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView};

use crate::error::DataError;

/// ImageNet's per-channel mean (RGB), as torchvision's pretrained weights expect.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How an image file becomes a `[channels, size, size]` input.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Resize so the shorter side has this many pixels (bilinear, antialiased when
    /// shrinking, as PIL); `None`: the image must already be `crop`×`crop`.
    pub resize_shorter: Option<u32>,
    /// Center crop to `crop`×`crop` (the model's input size).
    pub crop: u32,
    /// 1: grayscale (ITU-R 601 luma, as PIL's `convert("L")`), 3: RGB.
    pub channels: usize,
    /// Per-channel mean subtracted after scaling to `[0, 1]` (one value per channel).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by.
    pub std: Vec<f32>,
}

impl Preprocess {
    /// torchvision's ImageNet evaluation transform for `size` inputs: resize the shorter side
    /// to `size · 256 / 224` (256 for 224), center crop `size`, ImageNet mean/std. For one
    /// channel the mean and std are the averages of ImageNet's.
    pub fn imagenet(size: u32, channels: usize) -> Self {
        let (mean, std) = match channels {
            1 => (vec![0.449], vec![0.226]),
            _ => (IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec()),
        };
        Self {
            resize_shorter: Some(size * 256 / 224),
            crop: size,
            channels,
            mean,
            std,
        }
    }

    /// Resize the shorter side to `size` and center crop `size` (the identity for images that
    /// already have the size), then normalize with a dataset's per-channel mean/std (the first
    /// `channels` entries).
    pub fn fit(size: u32, channels: usize, mean: &[f32], std: &[f32]) -> Self {
        Self {
            resize_shorter: Some(size),
            crop: size,
            channels,
            mean: mean.iter().copied().cycle().take(channels).collect(),
            std: std.iter().copied().cycle().take(channels).collect(),
        }
    }

    /// The same transform without resizing: images must already be `crop`×`crop`.
    pub fn without_resize(self) -> Self {
        Self {
            resize_shorter: None,
            ..self
        }
    }

    /// Reads and decodes `path` (PNG, JPEG, BMP) and transforms it: `[channels, crop, crop]`
    /// values, channel-major.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>, DataError> {
        let image = image::open(path).map_err(|e| DataError::Image {
            path: path.to_path_buf(),
            message: format!("cannot decode: {e}"),
        })?;
        self.apply(&image).map_err(|message| DataError::Image {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Transforms a decoded image (see [`Self::load`]).
    pub fn apply(&self, image: &DynamicImage) -> Result<Vec<f32>, String> {
        let bytes = self.pixels(image)?;
        let plane = (self.crop as usize).pow(2);
        Ok(bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                let c = i / plane;
                (f32::from(b) / 255.0 - self.mean[c]) / self.std[c]
            })
            .collect())
    }

    /// The resized, cropped and channel-converted image as `[channels, crop, crop]` bytes,
    /// before scaling and normalization (how image folders are stored in memory).
    pub fn pixels(&self, image: &DynamicImage) -> Result<Vec<u8>, String> {
        if !matches!(self.channels, 1 | 3) {
            return Err(format!(
                "{} channels: only 1 (grayscale) or 3 (RGB)",
                self.channels
            ));
        }
        let (w, h) = image.dimensions();
        let resized;
        let image = match self.resize_shorter {
            Some(short) if w.min(h) != short => {
                // torchvision: the longer side is truncated, `int(short * long / shorter)`.
                let scale =
                    |side: u32| (u64::from(short) * u64::from(side) / u64::from(w.min(h))) as u32;
                let (nw, nh) = if w <= h {
                    (short, scale(h))
                } else {
                    (scale(w), short)
                };
                resized = image.resize_exact(nw, nh, FilterType::Triangle);
                &resized
            }
            Some(_) => image,
            None if (w, h) == (self.crop, self.crop) => image,
            None => {
                return Err(format!(
                    "is {w}×{h}, the model takes {0}×{0} (drop --no-resize to resize and crop)",
                    self.crop
                ));
            }
        };
        let (w, h) = image.dimensions();
        if w < self.crop || h < self.crop {
            return Err(format!(
                "is {w}×{h} after resizing, smaller than the {0}×{0} crop",
                self.crop
            ));
        }
        // torchvision's CenterCrop: top = round((h - crop) / 2).
        let offset = |side: u32| ((f64::from(side - self.crop)) / 2.0).round() as u32;
        let (left, top) = (offset(w), offset(h));
        let crop = self.crop as usize;
        let plane = crop * crop;
        let mut out = vec![0u8; self.channels * plane];
        let rgb = image.to_rgb8();
        for i in 0..plane {
            let p = rgb
                .get_pixel(left + (i % crop) as u32, top + (i / crop) as u32)
                .0;
            if self.channels == 1 {
                // PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded.
                let [r, g, b] = p.map(u32::from);
                out[i] = ((r * 19_595 + g * 38_470 + b * 7_471 + 0x8000) >> 16) as u8;
            } else {
                for c in 0..3 {
                    out[c * plane + i] = p[c];
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "tests/preprocess.rs"]
mod tests;
