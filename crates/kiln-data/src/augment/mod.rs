//! Training-time augmentation, applied by the [`crate::Loader`]'s workers while they assemble a
//! batch — never to validation or test images.
//!
//! An [`Augmentation`] is a pipeline: a list of [`Transform`]s applied in order, each with
//! torchvision's parameters and semantics. Every transform but random erasing works on the
//! `u8` image, as torchvision's transforms do on `uint8` tensors; random erasing works on the
//! normalized pixels, as torchvision's `RandomErasing` after `Normalize` does (a `value` of 0
//! is the channel's mean), and therefore comes last.
//!
//! Every random choice comes from a generator seeded by `(seed, epoch, position in the epoch)`,
//! so an epoch's augmented batches are a pure function of the run's seed: the same with any
//! number of workers, and the same again after a resume.
//!
//! As text (`--augment`, a recipe's `augment = [...]`) a pipeline is a comma-separated list of
//! steps, each a name with optional `:`-separated arguments:
//!
//! | step | torchvision | arguments (defaults) |
//! | --- | --- | --- |
//! | `crop[:P]` | `RandomCrop(size, padding=P)` | P = 4 |
//! | `flip` | `RandomHorizontalFlip(0.5)` | |
//! | `crop-flip` | `crop:4,flip` | |
//! | `affine[:D:T:S]` | `RandomAffine(D, translate=(T, T), scale=(1 − S, 1 + S))` | 10, 0.1, 0.1 |
//! | `random-resized-crop[:MIN[:MAX]]` | `RandomResizedCrop(size, scale=(MIN, MAX))` | 0.08, 1 |
//! | `color-jitter[:B:C:S:H]` | `ColorJitter(B, C, S, H)` | 0.4, 0.4, 0.4, 0 |
//! | `trivial-augment` | `TrivialAugmentWide()` | |
//! | `rand-augment[:N:M]` | `RandAugment(num_ops=N, magnitude=M)` | 2, 9 |
//! | `auto-augment` | `AutoAugment(AutoAugmentPolicy.CIFAR10)` | |
//! | `random-erasing[:P]` | `RandomErasing(p=P)` on the normalized image | 0.5 |

mod color;
mod erasing;
mod geometry;
mod grid;
mod policy;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::images::ImageShape;
use crate::rng::SplitMix64;

pub use erasing::ErasingValue;
pub use grid::{Rgb, augmentation_grid};
pub use policy::AutoAugmentPolicy;

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

/// One step of an augmentation pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Transform {
    /// torchvision's `RandomCrop(size, padding)`: the image padded with `padding` zero pixels
    /// on every side, then a uniformly placed crop of the original size.
    Crop {
        /// Pixels of zero padding on every side.
        padding: usize,
    },
    /// `RandomHorizontalFlip(0.5)`.
    HorizontalFlip,
    /// `RandomAffine(degrees, translate, scale)`: a rotation uniform in ±`degrees` about the
    /// centre, a translation uniform in ±`translate` of the width/height and a scale uniform in
    /// `[1 − scale, 1 + scale]`, sampled bilinearly, zeros outside the image.
    Affine(Affine),
    /// `RandomResizedCrop(size, scale, ratio)` back to the image's own size: a crop of a random
    /// area fraction in `scale` and aspect ratio (log-uniform) in `ratio`, resized bilinearly
    /// (torchvision's ten tries, then the central crop clamped to `ratio`).
    RandomResizedCrop {
        /// Range of the crop's area as a fraction of the image's.
        scale: [f32; 2],
        /// Range of the crop's aspect ratio (width / height).
        ratio: [f32; 2],
    },
    /// `ColorJitter(brightness, contrast, saturation, hue)`: each factor uniform in
    /// `[max(0, 1 − x), 1 + x]` (hue: a shift uniform in ±`hue`, at most 0.5), applied in a
    /// random order. Saturation and hue change nothing on a gray image.
    ColorJitter {
        /// Brightness jitter.
        brightness: f32,
        /// Contrast jitter.
        contrast: f32,
        /// Saturation jitter.
        saturation: f32,
        /// Hue jitter, in [0, 0.5].
        hue: f32,
    },
    /// `TrivialAugmentWide()`: one operation drawn uniformly from its wide search space at a
    /// uniformly drawn magnitude (31 bins).
    TrivialAugmentWide,
    /// `RandAugment(num_ops, magnitude)`: `num_ops` operations drawn uniformly, each at
    /// `magnitude` of 31 bins, with a random sign where the operation has one.
    RandAugment {
        /// Operations per image.
        num_ops: usize,
        /// Magnitude bin, 0 to 30.
        magnitude: usize,
    },
    /// `AutoAugment(policy)`: one of the policy's 25 sub-policies, each of two operations with
    /// a probability and a magnitude.
    AutoAugment {
        /// The learned policy.
        policy: AutoAugmentPolicy,
    },
    /// `RandomErasing(p, scale, ratio, value)` on the normalized image: with probability `p`,
    /// a rectangle of area fraction in `scale` and aspect ratio (log-uniform) in `ratio`
    /// replaced by `value` (ten tries; none fitting: nothing erased).
    RandomErasing {
        /// Probability of erasing.
        p: f32,
        /// Range of the erased area as a fraction of the image's.
        scale: [f32; 2],
        /// Range of the rectangle's aspect ratio.
        ratio: [f32; 2],
        /// What the rectangle is filled with.
        value: ErasingValue,
    },
}

/// torchvision's defaults: `RandomResizedCrop`'s `ratio`, `RandomErasing`'s `scale` and `ratio`.
const RESIZED_CROP_RATIO: [f32; 2] = [3.0 / 4.0, 4.0 / 3.0];
const ERASING_SCALE: [f32; 2] = [0.02, 0.33];
const ERASING_RATIO: [f32; 2] = [0.3, 3.3];

impl Transform {
    /// Whether it works on the normalized pixels (after every `u8` step).
    pub fn is_normalized(&self) -> bool {
        matches!(self, Self::RandomErasing { .. })
    }

    /// Applies a `u8` step to `image` (CHW bytes of `shape`) in place, drawing from `rng`.
    fn apply_u8(&self, image: &mut [u8], shape: ImageShape, rng: &mut SplitMix64) {
        let (h, w) = (shape.height, shape.width);
        match *self {
            Self::Crop { padding } => {
                if padding > 0 {
                    let span = 2 * padding + 1;
                    let dx = rng.below(span) as isize - padding as isize;
                    let dy = rng.below(span) as isize - padding as isize;
                    geometry::shift(image, shape, dx, dy);
                }
            }
            Self::HorizontalFlip => {
                if rng.next_u64() >> 63 == 1 {
                    for row in image.chunks_exact_mut(w.max(1)) {
                        row.reverse();
                    }
                }
            }
            Self::Affine(a) => {
                let angle = symmetric(rng, a.degrees).to_radians();
                let tx = symmetric(rng, a.translate) * w as f32;
                let ty = symmetric(rng, a.translate) * h as f32;
                let scale = 1.0 + symmetric(rng, a.scale);
                geometry::affine(image, shape, angle, scale, (tx, ty));
            }
            Self::RandomResizedCrop { scale, ratio } => {
                geometry::random_resized_crop(image, shape, scale, ratio, rng)
            }
            Self::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
            } => color::jitter(image, shape, [brightness, contrast, saturation, hue], rng),
            Self::TrivialAugmentWide => policy::trivial_augment_wide(image, shape, rng),
            Self::RandAugment { num_ops, magnitude } => {
                policy::rand_augment(image, shape, num_ops, magnitude, rng)
            }
            Self::AutoAugment { policy } => policy::auto_augment(image, shape, policy, rng),
            Self::RandomErasing { .. } => {}
        }
    }

    /// Applies a normalized step to `pixels` (CHW floats of `shape`) in place.
    fn apply_normalized(&self, pixels: &mut [f32], shape: ImageShape, rng: &mut SplitMix64) {
        if let Self::RandomErasing {
            p,
            scale,
            ratio,
            value,
        } = *self
        {
            erasing::random_erasing(pixels, shape, p, scale, ratio, value, rng);
        }
    }

    /// Checks the step's parameters; the message says what is wrong.
    fn check(&self) -> Result<(), String> {
        let range = |name: &str, r: [f32; 2], lo: f32, hi: f32| match lo <= r[0]
            && r[0] <= r[1]
            && r[1] <= hi
        {
            true => Ok(()),
            false => Err(format!(
                "{name} must be an increasing range within [{lo}, {hi}], got [{}, {}]",
                r[0], r[1]
            )),
        };
        let at_least_0 = |name: &str, v: f32| match v >= 0.0 && v.is_finite() {
            true => Ok(()),
            false => Err(format!("{name} must be ≥ 0, got {v}")),
        };
        match *self {
            Self::Crop { .. } | Self::HorizontalFlip | Self::TrivialAugmentWide => Ok(()),
            Self::AutoAugment { .. } => Ok(()),
            Self::Affine(a) => {
                at_least_0("affine degrees", a.degrees)?;
                at_least_0("affine translate", a.translate)?;
                range("affine scale", [0.0, a.scale], 0.0, 0.99)
            }
            Self::RandomResizedCrop { scale, ratio } => {
                range("random-resized-crop scale", scale, f32::MIN_POSITIVE, 1.0)?;
                range(
                    "random-resized-crop ratio",
                    ratio,
                    f32::MIN_POSITIVE,
                    f32::MAX,
                )
            }
            Self::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
            } => {
                at_least_0("color-jitter brightness", brightness)?;
                at_least_0("color-jitter contrast", contrast)?;
                at_least_0("color-jitter saturation", saturation)?;
                range("color-jitter hue", [0.0, hue], 0.0, 0.5)
            }
            Self::RandAugment { magnitude, .. } => match magnitude < policy::MAGNITUDE_BINS {
                true => Ok(()),
                false => Err(format!(
                    "rand-augment magnitude must be below {}, got {magnitude}",
                    policy::MAGNITUDE_BINS
                )),
            },
            Self::RandomErasing {
                p, scale, ratio, ..
            } => {
                range("random-erasing p", [0.0, p], 0.0, 1.0)?;
                range("random-erasing scale", scale, 0.0, 1.0)?;
                range("random-erasing ratio", ratio, f32::MIN_POSITIVE, f32::MAX)
            }
        }
    }
}

/// Uniform in `[0, 1)` from 53 random bits.
fn unit(rng: &mut SplitMix64) -> f32 {
    (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32
}

/// Uniform in `[lo, hi)`.
fn uniform(rng: &mut SplitMix64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * unit(rng)
}

/// Uniform in `±range`.
fn symmetric(rng: &mut SplitMix64, range: f32) -> f32 {
    (2.0 * unit(rng) - 1.0) * range
}

/// What happens to each training image: its transforms, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Augmentation {
    /// The steps, every `u8` one before every normalized one ([`Transform::is_normalized`]).
    steps: Vec<Transform>,
}

/// Why a pipeline was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("augmentation `{step}`: {reason}")]
pub struct AugmentError {
    /// The step as written.
    pub step: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Augmentation {
    /// No augmentation.
    pub const NONE: Self = Self { steps: Vec::new() };

    /// The pipeline of `steps`, checked: parameters in range, random erasing last.
    pub fn new(steps: Vec<Transform>) -> Result<Self, AugmentError> {
        for (i, step) in steps.iter().enumerate() {
            let refuse = |reason: String| AugmentError {
                step: step.to_string(),
                reason,
            };
            step.check().map_err(refuse)?;
            if !step.is_normalized() && steps[..i].iter().any(Transform::is_normalized) {
                return Err(refuse(
                    "comes after random-erasing, which works on the normalized image and must \
                     be last"
                        .into(),
                ));
            }
        }
        Ok(Self { steps })
    }

    /// The CIFAR recipe of the ResNet paper: 4-pixel padded random crops and horizontal flips.
    pub fn crop_flip() -> Self {
        Self {
            steps: vec![Transform::Crop { padding: 4 }, Transform::HorizontalFlip],
        }
    }

    /// For digits and clothing, where a mirror image is another thing: ±10° rotation, ±10%
    /// translation, ±10% scale.
    pub fn affine() -> Self {
        Self {
            steps: vec![Transform::Affine(Affine {
                degrees: 10.0,
                translate: 0.1,
                scale: 0.1,
            })],
        }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Transform] {
        &self.steps
    }

    /// Whether it changes anything.
    pub fn is_none(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether a step works on the normalized pixels.
    pub fn has_normalized_steps(&self) -> bool {
        self.steps.iter().any(Transform::is_normalized)
    }

    /// Applies the `u8` steps to `image` (CHW bytes of `shape`) in place, drawing from `rng`.
    pub fn apply(&self, image: &mut [u8], shape: ImageShape, rng: &mut SplitMix64) {
        for step in &self.steps {
            step.apply_u8(image, shape, rng);
        }
    }

    /// Applies the normalized steps to `pixels` (the same image, CHW floats after
    /// normalization) in place, drawing from the `rng` [`Self::apply`] drew from.
    pub fn apply_normalized(&self, pixels: &mut [f32], shape: ImageShape, rng: &mut SplitMix64) {
        for step in &self.steps {
            step.apply_normalized(pixels, shape, rng);
        }
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crop { padding } => write!(f, "crop:{padding}"),
            Self::HorizontalFlip => f.write_str("flip"),
            Self::Affine(a) => write!(f, "affine:{}:{}:{}", a.degrees, a.translate, a.scale),
            Self::RandomResizedCrop { scale, .. } => {
                write!(f, "random-resized-crop:{}:{}", scale[0], scale[1])
            }
            Self::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
            } => write!(f, "color-jitter:{brightness}:{contrast}:{saturation}:{hue}"),
            Self::TrivialAugmentWide => f.write_str("trivial-augment"),
            Self::RandAugment { num_ops, magnitude } => {
                write!(f, "rand-augment:{num_ops}:{magnitude}")
            }
            Self::AutoAugment { .. } => f.write_str("auto-augment"),
            Self::RandomErasing { p, .. } => write!(f, "random-erasing:{p}"),
        }
    }
}

impl fmt::Display for Augmentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("none");
        }
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Parses one step (`name[:arg[:arg…]]`) into its transforms (`crop-flip` is two).
fn parse_step(text: &str) -> Result<Vec<Transform>, AugmentError> {
    let refuse = |reason: String| AugmentError {
        step: text.to_string(),
        reason,
    };
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or_default().trim();
    let args: Vec<f32> = parts
        .map(|a| {
            a.trim()
                .parse::<f32>()
                .map_err(|_| refuse(format!("`{a}` is not a number")))
        })
        .collect::<Result<_, _>>()?;
    let max_args = |n: usize| match args.len() <= n {
        true => Ok(()),
        false => Err(refuse(format!(
            "takes at most {n} argument(s), got {}",
            args.len()
        ))),
    };
    let arg = |i: usize, default: f32| args.get(i).copied().unwrap_or(default);
    let count = |i: usize, default: usize| match args.get(i) {
        None => Ok(default),
        Some(&v) if v >= 0.0 && v.fract() == 0.0 => Ok(v as usize),
        Some(v) => Err(refuse(format!("`{v}` is not a whole number"))),
    };
    let steps = match name {
        "crop" => {
            max_args(1)?;
            vec![Transform::Crop {
                padding: count(0, 4)?,
            }]
        }
        "flip" => {
            max_args(0)?;
            vec![Transform::HorizontalFlip]
        }
        "crop-flip" => {
            max_args(0)?;
            Augmentation::crop_flip().steps
        }
        "affine" => {
            max_args(3)?;
            vec![Transform::Affine(Affine {
                degrees: arg(0, 10.0),
                translate: arg(1, 0.1),
                scale: arg(2, 0.1),
            })]
        }
        "random-resized-crop" => {
            max_args(2)?;
            vec![Transform::RandomResizedCrop {
                scale: [arg(0, 0.08), arg(1, 1.0)],
                ratio: RESIZED_CROP_RATIO,
            }]
        }
        "color-jitter" => {
            max_args(4)?;
            vec![Transform::ColorJitter {
                brightness: arg(0, 0.4),
                contrast: arg(1, 0.4),
                saturation: arg(2, 0.4),
                hue: arg(3, 0.0),
            }]
        }
        "trivial-augment" => {
            max_args(0)?;
            vec![Transform::TrivialAugmentWide]
        }
        "rand-augment" => {
            max_args(2)?;
            vec![Transform::RandAugment {
                num_ops: count(0, 2)?,
                magnitude: count(1, 9)?,
            }]
        }
        "auto-augment" => {
            max_args(0)?;
            vec![Transform::AutoAugment {
                policy: AutoAugmentPolicy::Cifar10,
            }]
        }
        "random-erasing" => {
            max_args(1)?;
            vec![Transform::RandomErasing {
                p: arg(0, 0.5),
                scale: ERASING_SCALE,
                ratio: ERASING_RATIO,
                value: ErasingValue::Constant(0.0),
            }]
        }
        other => {
            return Err(refuse(format!(
                "unknown step `{other}`; known: crop, flip, crop-flip, affine, \
                 random-resized-crop, color-jitter, trivial-augment, rand-augment, auto-augment, \
                 random-erasing (or none)"
            )));
        }
    };
    Ok(steps)
}

impl FromStr for Augmentation {
    type Err = AugmentError;

    /// A comma-separated list of steps (see the module docs); `none` or nothing: no
    /// augmentation.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(Self::NONE);
        }
        let mut steps = Vec::new();
        for step in text.split(',') {
            steps.extend(parse_step(step.trim())?);
        }
        Self::new(steps)
    }
}

/// `config.json` of runs from before pipelines: `{"crop_padding", "horizontal_flip",
/// "affine"}`, applied as affine, crop, flip — the order and draws of then, so such a run
/// replays unchanged.
#[derive(Deserialize)]
struct Legacy {
    #[serde(default)]
    crop_padding: usize,
    #[serde(default)]
    horizontal_flip: bool,
    #[serde(default)]
    affine: Option<Affine>,
}

impl<'de> Deserialize<'de> for Augmentation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Steps(Vec<Transform>),
            Legacy(Legacy),
        }
        let steps = match Form::deserialize(deserializer)? {
            Form::Steps(steps) => steps,
            Form::Legacy(old) => {
                let mut steps = Vec::new();
                steps.extend(old.affine.map(Transform::Affine));
                if old.crop_padding > 0 {
                    steps.push(Transform::Crop {
                        padding: old.crop_padding,
                    });
                }
                if old.horizontal_flip {
                    steps.push(Transform::HorizontalFlip);
                }
                steps
            }
        };
        Self::new(steps).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "../tests/augment.rs"]
mod tests;
