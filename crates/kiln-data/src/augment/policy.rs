//! Automatic augmentation policies: torchvision's `TrivialAugmentWide`, `RandAugment` and
//! `AutoAugment`, and the operations they draw from.

use serde::{Deserialize, Serialize};

use super::{color, geometry, unit};
use crate::images::ImageShape;
use crate::rng::SplitMix64;

/// Magnitude bins of `TrivialAugmentWide` and `RandAugment` (torchvision's `num_magnitude_bins`).
pub(super) const MAGNITUDE_BINS: usize = 31;

/// Magnitude bins of `AutoAugment`'s policies.
const AUTO_AUGMENT_BINS: usize = 10;

/// A learned `AutoAugment` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoAugmentPolicy {
    /// The policy learned on CIFAR-10.
    Cifar10,
}

/// An operation of the automatic policies, as torchvision's `_apply_op` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Nothing.
    Identity,
    /// Horizontal shear by a factor.
    ShearX,
    /// Vertical shear by a factor.
    ShearY,
    /// Horizontal translation by whole pixels.
    TranslateX,
    /// Vertical translation by whole pixels.
    TranslateY,
    /// Rotation by degrees, counter-clockwise.
    Rotate,
    /// `adjust_brightness(1 + m)`.
    Brightness,
    /// `adjust_saturation(1 + m)`.
    Color,
    /// `adjust_contrast(1 + m)`.
    Contrast,
    /// `adjust_sharpness(1 + m)`.
    Sharpness,
    /// Keep `m` high bits.
    Posterize,
    /// Invert values at or above `m`.
    Solarize,
    /// Stretch each channel to [0, 255].
    AutoContrast,
    /// Equalize each channel's histogram.
    Equalize,
    /// `255 − v`.
    Invert,
}

/// The operations `RandAugment` and `TrivialAugmentWide` draw from, in torchvision's order.
pub(super) const RAND_OPS: [Op; 14] = [
    Op::Identity,
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Rotate,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
    Op::Posterize,
    Op::Solarize,
    Op::AutoContrast,
    Op::Equalize,
];

/// Which of torchvision's `_augmentation_space` tables a magnitude comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Space {
    /// `RandAugment`'s and `AutoAugment`'s: translations relative to the image size.
    Standard,
    /// `TrivialAugmentWide`'s: larger ranges, translations up to 32 pixels.
    Wide,
}

/// An operation's magnitude at `bin` of `bins` in `space` for an image of `shape`, before its
/// sign: torchvision's `_augmentation_space` tables (`linspace` in `f32` as torch computes it;
/// posterize's bits `8 − round(bin / ((bins − 1) / q))`, q 4, or 6 wide); 0 for the operations
/// without one.
pub(super) fn magnitude(op: Op, space: Space, bin: usize, bins: usize, shape: ImageShape) -> f32 {
    let wide = space == Space::Wide;
    let ramp = |end: f64| linspace(0.0, end as f32, bins, bin);
    let translate = |side: usize| match wide {
        true => ramp(32.0),
        false => ramp(150.0 / 331.0 * side as f64),
    };
    match op {
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => 0.0,
        Op::ShearX | Op::ShearY => ramp(if wide { 0.99 } else { 0.3 }),
        Op::TranslateX => translate(shape.width),
        Op::TranslateY => translate(shape.height),
        Op::Rotate => ramp(if wide { 135.0 } else { 30.0 }),
        Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => {
            ramp(if wide { 0.99 } else { 0.9 })
        }
        Op::Posterize => {
            let per_bit = bins.saturating_sub(1) as f32 / if wide { 6.0 } else { 4.0 };
            8.0 - (bin as f32 / per_bit).round_ties_even()
        }
        Op::Solarize => linspace(255.0, 0.0, bins, bin),
    }
}

/// Element `i` of `torch.linspace(start, end, steps)` in `f32` as torch's CPU kernel computes
/// it: `start + step · i` for the first half, `end − step · (steps − 1 − i)` for the second,
/// each rounded once (the compiled kernel fuses the multiply-add; checked bit for bit against
/// torch by the fixture test). This decides e.g. that the wide table's 16-pixel translation is
/// 15.999999, `int` 15.
fn linspace(start: f32, end: f32, steps: usize, i: usize) -> f32 {
    if steps <= 1 {
        return start;
    }
    let i = i.min(steps - 1);
    let step = (end - start) / (steps - 1) as f32;
    match i < steps / 2 {
        true => step.mul_add(i as f32, start),
        false => (-step).mul_add((steps - 1 - i) as f32, end),
    }
}

/// `_apply_op(img, op, magnitude)` with nearest interpolation and zero fill, on `uint8`.
pub(super) fn apply_op(image: &mut [u8], shape: ImageShape, op: Op, magnitude: f32) {
    // The blend ops' factor `1.0 + magnitude`, a Python float from the `f32` table entry.
    let factor = 1.0 + f64::from(magnitude);
    match op {
        Op::Identity => {}
        Op::ShearX => geometry::shear_x(image, shape, magnitude),
        Op::ShearY => geometry::shear_y(image, shape, magnitude),
        // `int(magnitude)`: truncation toward zero.
        Op::TranslateX => geometry::translate(image, shape, magnitude as isize, 0),
        Op::TranslateY => geometry::translate(image, shape, 0, magnitude as isize),
        Op::Rotate => geometry::rotate(image, shape, magnitude),
        Op::Brightness => color::adjust_brightness(image, factor),
        Op::Color => color::adjust_saturation(image, shape, factor),
        Op::Contrast => color::adjust_contrast(image, shape, factor),
        Op::Sharpness => color::adjust_sharpness(image, shape, factor),
        Op::Posterize => color::posterize(image, magnitude as u32),
        Op::Solarize => color::solarize(image, magnitude),
        Op::AutoContrast => color::autocontrast(image, shape),
        Op::Equalize => color::equalize(image, shape),
        Op::Invert => color::invert(image),
    }
}

/// Applies `op` at `bin` of `bins` in `space`, negated when `negate` and the op is signed.
fn apply_at(
    image: &mut [u8],
    shape: ImageShape,
    op: Op,
    (space, bin, bins): (Space, usize, usize),
    negate: bool,
) {
    let magnitude = magnitude(op, space, bin, bins, shape);
    let magnitude = match negate && is_signed(op) {
        true => -magnitude,
        false => magnitude,
    };
    apply_op(image, shape, op, magnitude);
}

/// Whether `op` has a magnitude table (torchvision draws a bin only for those).
fn has_magnitudes(op: Op) -> bool {
    !matches!(
        op,
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert
    )
}

/// Whether `op`'s magnitude takes a random sign.
fn is_signed(op: Op) -> bool {
    matches!(
        op,
        Op::ShearX
            | Op::ShearY
            | Op::TranslateX
            | Op::TranslateY
            | Op::Rotate
            | Op::Brightness
            | Op::Color
            | Op::Contrast
            | Op::Sharpness
    )
}

/// A coin flip for a signed magnitude's sign (`torch.randint(2)`), drawn only for signed ops.
fn draw_negate(op: Op, rng: &mut SplitMix64) -> bool {
    is_signed(op) && rng.below(2) == 1
}

/// `TrivialAugmentWide()`: one operation of [`RAND_OPS`] uniformly, at a uniform bin of 31 of the
/// wide table (drawn only where it has one), with a random sign where it takes one.
pub(super) fn trivial_augment_wide(image: &mut [u8], shape: ImageShape, rng: &mut SplitMix64) {
    let op = RAND_OPS[rng.below(RAND_OPS.len())];
    let bin = match has_magnitudes(op) {
        true => rng.below(MAGNITUDE_BINS),
        false => 0,
    };
    let negate = draw_negate(op, rng);
    apply_at(image, shape, op, (Space::Wide, bin, MAGNITUDE_BINS), negate);
}

/// `RandAugment(num_ops, magnitude)`: `num_ops` times, an operation of [`RAND_OPS`] uniformly at
/// bin `magnitude` of 31, with a random sign where it takes one.
pub(super) fn rand_augment(
    image: &mut [u8],
    shape: ImageShape,
    num_ops: usize,
    magnitude: usize,
    rng: &mut SplitMix64,
) {
    for _ in 0..num_ops {
        let op = RAND_OPS[rng.below(RAND_OPS.len())];
        let negate = draw_negate(op, rng);
        apply_at(
            image,
            shape,
            op,
            (Space::Standard, magnitude, MAGNITUDE_BINS),
            negate,
        );
    }
}

/// One operation of an `AutoAugment` sub-policy: the op, its probability and its magnitude bin
/// (of 10; `None` where the op has none).
type PolicyStep = (Op, f32, Option<usize>);

/// `AutoAugmentPolicy.CIFAR10`'s 25 sub-policies.
const CIFAR10_POLICY: [[PolicyStep; 2]; 25] = [
    [(Op::Invert, 0.1, None), (Op::Contrast, 0.2, Some(6))],
    [(Op::Rotate, 0.7, Some(2)), (Op::TranslateX, 0.3, Some(9))],
    [(Op::Sharpness, 0.8, Some(1)), (Op::Sharpness, 0.9, Some(3))],
    [(Op::ShearY, 0.5, Some(8)), (Op::TranslateY, 0.7, Some(9))],
    [(Op::AutoContrast, 0.5, None), (Op::Equalize, 0.9, None)],
    [(Op::ShearY, 0.2, Some(7)), (Op::Posterize, 0.3, Some(7))],
    [(Op::Color, 0.4, Some(3)), (Op::Brightness, 0.6, Some(7))],
    [
        (Op::Sharpness, 0.3, Some(9)),
        (Op::Brightness, 0.7, Some(9)),
    ],
    [(Op::Equalize, 0.6, None), (Op::Equalize, 0.5, None)],
    [(Op::Contrast, 0.6, Some(7)), (Op::Sharpness, 0.6, Some(5))],
    [(Op::Color, 0.7, Some(7)), (Op::TranslateX, 0.5, Some(8))],
    [(Op::Equalize, 0.3, None), (Op::AutoContrast, 0.4, None)],
    [
        (Op::TranslateY, 0.4, Some(3)),
        (Op::Sharpness, 0.2, Some(6)),
    ],
    [(Op::Brightness, 0.9, Some(6)), (Op::Color, 0.2, Some(8))],
    [(Op::Solarize, 0.5, Some(2)), (Op::Invert, 0.0, None)],
    [(Op::Equalize, 0.2, None), (Op::AutoContrast, 0.6, None)],
    [(Op::Equalize, 0.2, None), (Op::Equalize, 0.6, None)],
    [(Op::Color, 0.9, Some(9)), (Op::Equalize, 0.6, None)],
    [(Op::AutoContrast, 0.8, None), (Op::Solarize, 0.2, Some(8))],
    [(Op::Brightness, 0.1, Some(3)), (Op::Color, 0.7, Some(0))],
    [(Op::Solarize, 0.4, Some(5)), (Op::AutoContrast, 0.9, None)],
    [
        (Op::TranslateY, 0.9, Some(9)),
        (Op::TranslateY, 0.7, Some(9)),
    ],
    [(Op::AutoContrast, 0.9, None), (Op::Solarize, 0.8, Some(3))],
    [(Op::Equalize, 0.8, None), (Op::Invert, 0.1, None)],
    [
        (Op::TranslateY, 0.7, Some(9)),
        (Op::AutoContrast, 0.9, None),
    ],
];

/// A policy's sub-policies.
pub(super) fn sub_policies(policy: AutoAugmentPolicy) -> &'static [[PolicyStep; 2]] {
    match policy {
        AutoAugmentPolicy::Cifar10 => &CIFAR10_POLICY,
    }
}

/// `AutoAugment(policy)`: a sub-policy uniformly; each of its two operations applied when a
/// uniform draw is at most its probability, at its bin of 10 of the standard table, negated
/// on a coin flip where signed (all draws made first, as torchvision's `get_params`).
pub(super) fn auto_augment(
    image: &mut [u8],
    shape: ImageShape,
    policy: AutoAugmentPolicy,
    rng: &mut SplitMix64,
) {
    let policies = sub_policies(policy);
    let chosen = policies[rng.below(policies.len())];
    let probs = [unit(rng), unit(rng)];
    let negate = [rng.below(2) == 0, rng.below(2) == 0];
    for (i, (op, p, bin)) in chosen.into_iter().enumerate() {
        if probs[i] <= p {
            let bin = bin.unwrap_or(0);
            apply_at(
                image,
                shape,
                op,
                (Space::Standard, bin, AUTO_AUGMENT_BINS),
                negate[i],
            );
        }
    }
}
