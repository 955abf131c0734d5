//! Training-time augmentation of `u8` images, applied by the [`crate::Loader`]'s workers while
//! they assemble a batch — never to validation or test images.
//!
//! Every random choice comes from a generator seeded by `(seed, epoch, position in the epoch)`,
//! so an epoch's augmented batches are a pure function of the run's seed: the same with any
//! number of workers, and the same again after a resume.
//!
//! - `crop_padding = p`: torchvision's `RandomCrop(size, padding=p)` — the image padded with
//!   `p` zero pixels on every side, then a uniformly placed crop of the original size.
//! - `horizontal_flip`: `RandomHorizontalFlip(0.5)`.
//! - `affine`: `RandomAffine(degrees, translate, scale)` — a rotation uniform in ±`degrees`
//!   about the centre, a translation uniform in ±`translate` of the width/height and a scale
//!   uniform in `[1 − scale, 1 + scale]`, sampled bilinearly, zeros outside the image.

use serde::{Deserialize, Serialize};

use crate::images::ImageShape;
use crate::rng::SplitMix64;

/// A small random affine transform's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Rotation, uniform in ±`degrees`.
    pub degrees: f32,
    /// Translation, uniform in ±`translate` × width (x) and × height (y).
    pub translate: f32,
    /// Scale, uniform in `[1 − scale, 1 + scale]`.
    pub scale: f32,
}

/// What happens to each training image.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Augmentation {
    /// Random crop after zero padding by this many pixels (0: none).
    #[serde(default)]
    pub crop_padding: usize,
    /// Mirror left–right with probability 0.5.
    #[serde(default)]
    pub horizontal_flip: bool,
    /// A random affine transform.
    #[serde(default)]
    pub affine: Option<Affine>,
}

impl Augmentation {
    /// No augmentation.
    pub const NONE: Self = Self {
        crop_padding: 0,
        horizontal_flip: false,
        affine: None,
    };

    /// The CIFAR recipe of the ResNet paper: 4-pixel padded random crops and horizontal flips.
    pub const CROP_FLIP: Self = Self {
        crop_padding: 4,
        horizontal_flip: true,
        affine: None,
    };

    /// For digits and clothing, where a mirror image is another thing: ±10° rotation, ±10%
    /// translation, ±10% scale.
    pub const AFFINE: Self = Self {
        crop_padding: 0,
        horizontal_flip: false,
        affine: Some(Affine {
            degrees: 10.0,
            translate: 0.1,
            scale: 0.1,
        }),
    };

    /// Whether it changes anything.
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Applies the augmentation to `image` (CHW bytes of `shape`) in place, drawing from `rng`.
    pub fn apply(&self, image: &mut [u8], shape: ImageShape, rng: &mut SplitMix64) {
        let (h, w) = (shape.height, shape.width);
        if let Some(a) = self.affine {
            let unit = |rng: &mut SplitMix64| (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
            let sym = |r: &mut SplitMix64, range: f32| (2.0 * unit(r) - 1.0) * range;
            let angle = sym(rng, a.degrees).to_radians();
            let tx = sym(rng, a.translate) * w as f32;
            let ty = sym(rng, a.translate) * h as f32;
            let scale = 1.0 + sym(rng, a.scale);
            affine(image, shape, angle, scale, (tx, ty));
        }
        if self.crop_padding > 0 {
            let span = 2 * self.crop_padding + 1;
            let dx = rng.below(span) as isize - self.crop_padding as isize;
            let dy = rng.below(span) as isize - self.crop_padding as isize;
            shift(image, shape, dx, dy);
        }
        if self.horizontal_flip && rng.next_u64() >> 63 == 1 {
            for row in image.chunks_exact_mut(w.max(1)) {
                row.reverse();
            }
        }
    }
}

/// Moves the content by `(dx, dy)` pixels (the crop's offset from centre), zero-filling: the
/// pixel at `(x, y)` becomes the one at `(x + dx, y + dy)`.
fn shift(image: &mut [u8], shape: ImageShape, dx: isize, dy: isize) {
    let (h, w) = (shape.height as isize, shape.width as isize);
    let plane = (h * w) as usize;
    for channel in image.chunks_exact_mut(plane.max(1)) {
        let source = channel.to_vec();
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x + dx, y + dy);
                channel[(y * w + x) as usize] = match (0..w).contains(&sx) && (0..h).contains(&sy) {
                    true => source[(sy * w + sx) as usize],
                    false => 0,
                };
            }
        }
    }
}

/// Rotates by `angle` radians and scales by `scale` about the centre, then translates by `t`
/// pixels; bilinear sampling, zeros outside.
fn affine(image: &mut [u8], shape: ImageShape, angle: f32, scale: f32, t: (f32, f32)) {
    let (h, w) = (shape.height, shape.width);
    let plane = h * w;
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (sin, cos) = angle.sin_cos();
    for channel in image.chunks_exact_mut(plane.max(1)) {
        let source = channel.to_vec();
        let at = |x: isize, y: isize| -> f32 {
            match x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                true => f32::from(source[y as usize * w + x as usize]),
                false => 0.0,
            }
        };
        for y in 0..h {
            for x in 0..w {
                // Inverse map: output pixel → source position.
                let (ox, oy) = (x as f32 - cx - t.0, y as f32 - cy - t.1);
                let sx = (cos * ox + sin * oy) / scale + cx;
                let sy = (-sin * ox + cos * oy) / scale + cy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + at(x0 + 1, y0) * fx * (1.0 - fy)
                    + at(x0, y0 + 1) * (1.0 - fx) * fy
                    + at(x0 + 1, y0 + 1) * fx * fy;
                channel[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/augment.rs"]
mod tests;
