//! Photometric transforms of `u8` CHW images (torchvision's `functional` adjustments on `uint8`
//! tensors) and `ColorJitter`.
//!
//! The arithmetic follows torchvision's `_functional_tensor` step by step in `f32`, including its
//! conversions back to `u8`: truncation after `_blend`'s clamp, `round` (ties to even) after the
//! sharpness blur, `× 255.999` then truncation after the HSV round trip. Three channels are RGB;
//! any other count is treated as independent gray planes (torchvision accepts only 1 there),
//! which the RGB-only adjustments (saturation, hue) leave unchanged.

use super::uniform;
use crate::images::ImageShape;
use crate::rng::SplitMix64;

/// `rgb_to_grayscale`'s luma weights.
const LUMA: [f32; 3] = [0.2989, 0.587, 0.114];

/// One of `ColorJitter`'s four adjustments, in torchvision's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Adjustment {
    /// `adjust_brightness`.
    Brightness,
    /// `adjust_contrast`.
    Contrast,
    /// `adjust_saturation`.
    Saturation,
    /// `adjust_hue`.
    Hue,
}

impl Adjustment {
    /// All four, indexed as torchvision's `fn_idx` numbers them.
    const ALL: [Self; 4] = [
        Self::Brightness,
        Self::Contrast,
        Self::Saturation,
        Self::Hue,
    ];
}

/// What one `ColorJitter` call drew: the order of the adjustments and each one's factor (hue:
/// its shift), `None` where the jitter is 0 and the adjustment is skipped.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JitterDraw {
    /// The adjustments in the order they are applied (a random permutation of all four).
    pub order: [Adjustment; 4],
    /// Brightness, contrast, saturation and hue, in that order.
    pub factors: [Option<f32>; 4],
}

/// `ColorJitter(brightness, contrast, saturation, hue)` with `jitter` in that order: the draw of
/// [`jitter_params`], then each drawn adjustment in the drawn order.
pub(super) fn jitter(image: &mut [u8], shape: ImageShape, jitter: [f32; 4], rng: &mut SplitMix64) {
    let draw = jitter_params(jitter, rng);
    for adjustment in draw.order {
        let i = adjustment as usize;
        let Some(factor) = draw.factors[i] else {
            continue;
        };
        match adjustment {
            Adjustment::Brightness => adjust_brightness(image, f64::from(factor)),
            Adjustment::Contrast => adjust_contrast(image, shape, f64::from(factor)),
            Adjustment::Saturation => adjust_saturation(image, shape, f64::from(factor)),
            Adjustment::Hue => adjust_hue(image, shape, factor),
        }
    }
}

/// `ColorJitter.get_params`: a random order of the four adjustments, then each factor uniform in
/// `[max(0, 1 − x), 1 + x]` (hue: a shift uniform in `±x`), none where `x` is 0.
pub(super) fn jitter_params(jitter: [f32; 4], rng: &mut SplitMix64) -> JitterDraw {
    let permutation = rng.permutation(4);
    let order = std::array::from_fn(|i| Adjustment::ALL[permutation[i]]);
    let mut factors = [None; 4];
    for (i, (&x, factor)) in jitter.iter().zip(&mut factors).enumerate() {
        if x == 0.0 {
            continue;
        }
        let is_hue = Adjustment::ALL[i] == Adjustment::Hue;
        let (lo, hi) = match is_hue {
            true => (-x, x),
            false => ((1.0 - x).max(0.0), 1.0 + x),
        };
        *factor = Some(uniform(rng, lo, hi));
    }
    JitterDraw { order, factors }
}

/// torchvision's `_blend` of one `u8` value with another value, on `uint8`:
/// `ratio · a + (1 − ratio) · b` in `f32`, clamped to [0, 255] and truncated.
fn blend(a: f32, b: f32, weights: BlendWeights) -> u8 {
    let mixed = weights.ratio * a + weights.rest * b;
    // `as` truncates toward zero, as `Tensor.to(torch.uint8)` does after the clamp.
    mixed.clamp(0.0, 255.0) as u8
}

/// The two `f32` weights of `_blend(·, ·, ratio)`: `ratio` and `1 − ratio`, the latter computed
/// in double precision, as Python does before the tensor arithmetic (so the blend factors
/// are `f64`, as torchvision's Python floats).
#[derive(Debug, Clone, Copy)]
struct BlendWeights {
    ratio: f32,
    rest: f32,
}

impl BlendWeights {
    /// The weights for `ratio`.
    fn new(ratio: f64) -> Self {
        Self {
            ratio: ratio as f32,
            rest: (1.0 - ratio) as f32,
        }
    }
}

/// The CHW planes of `image`, one per channel.
fn planes(image: &mut [u8], shape: ImageShape) -> std::slice::ChunksExactMut<'_, u8> {
    image.chunks_exact_mut((shape.height * shape.width).max(1))
}

/// The red, green and blue planes of an RGB `image`, or `None` when it is not RGB.
fn rgb_planes(image: &mut [u8], shape: ImageShape) -> Option<(&mut [u8], &mut [u8], &mut [u8])> {
    let plane = shape.height * shape.width;
    if shape.channels != 3 || image.len() < 3 * plane {
        return None;
    }
    let (r, rest) = image.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    Some((r, g, &mut b[..plane]))
}

/// `rgb_to_grayscale` of one pixel: the luma weights summed in `f32`, truncated to `u8`.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    let [wr, wg, wb] = LUMA;
    (wr * f32::from(r) + wg * f32::from(g) + wb * f32::from(b)) as u8
}

/// `adjust_brightness(img, factor)`: a blend with black.
pub(super) fn adjust_brightness(image: &mut [u8], factor: f64) {
    let weights = BlendWeights::new(factor);
    for v in image.iter_mut() {
        *v = blend(f32::from(*v), 0.0, weights);
    }
}

/// `adjust_contrast(img, factor)`: a blend with the mean of the grayscale image (of the image
/// itself when it is not RGB), the mean taken in `f32` over the truncated `u8` luma.
pub(super) fn adjust_contrast(image: &mut [u8], shape: ImageShape, factor: f64) {
    let mean = contrast_mean(image, shape);
    let weights = BlendWeights::new(factor);
    for v in image.iter_mut() {
        *v = blend(f32::from(*v), mean, weights);
    }
}

/// The mean `adjust_contrast` blends with: of the luma for RGB, of every value otherwise.
fn contrast_mean(image: &mut [u8], shape: ImageShape) -> f32 {
    // The sums are exact integers (below 2^24 for any image kiln trains on, as in torch's f32).
    let (sum, count) = match rgb_planes(image, shape) {
        Some((r, g, b)) => {
            let sum = r
                .iter()
                .zip(g.iter())
                .zip(b.iter())
                .map(|((&r, &g), &b)| u64::from(luma(r, g, b)))
                .sum::<u64>();
            (sum, r.len())
        }
        None => (image.iter().map(|&v| u64::from(v)).sum(), image.len()),
    };
    match count {
        0 => 0.0,
        n => sum as f32 / n as f32,
    }
}

/// `adjust_saturation(img, factor)`: a blend of each RGB pixel with its luma; unchanged unless
/// RGB.
pub(super) fn adjust_saturation(image: &mut [u8], shape: ImageShape, factor: f64) {
    let Some((r, g, b)) = rgb_planes(image, shape) else {
        return;
    };
    let weights = BlendWeights::new(factor);
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let gray = f32::from(luma(*r, *g, *b));
        *r = blend(f32::from(*r), gray, weights);
        *g = blend(f32::from(*g), gray, weights);
        *b = blend(f32::from(*b), gray, weights);
    }
}

/// `adjust_hue(img, shift)`: each RGB pixel to HSV in [0, 1] floats, its hue shifted by `shift`
/// modulo 1, back to RGB and to `u8` (`× 255.999`, truncated); unchanged unless RGB.
pub(super) fn adjust_hue(image: &mut [u8], shape: ImageShape, shift: f32) {
    let Some((r, g, b)) = rgb_planes(image, shape) else {
        return;
    };
    let to_u8 = |v: f32| (v * 255.999) as u8;
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let rgb = [*r, *g, *b].map(|v| f32::from(v) / 255.0);
        let [h, s, v] = rgb_to_hsv(rgb);
        let [nr, ng, nb] = hsv_to_rgb([(h + shift).rem_euclid(1.0), s, v]);
        (*r, *g, *b) = (to_u8(nr), to_u8(ng), to_u8(nb));
    }
}

/// torchvision's `_rgb2hsv` of one pixel (components in [0, 1]).
fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let equal = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if equal { 1.0 } else { maxc };
    let divisor = if equal { 1.0 } else { cr };
    let (rc, gc, bc) = (
        (maxc - r) / divisor,
        (maxc - g) / divisor,
        (maxc - b) / divisor,
    );
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    [(h / 6.0 + 1.0) % 1.0, s, maxc]
}

/// torchvision's `_hsv2rgb` of one pixel (components in [0, 1]).
fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let sector = (h * 6.0).floor();
    let f = h * 6.0 - sector;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match (sector as i32).rem_euclid(6) {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// `adjust_sharpness(img, factor)`: a blend with the image smoothed by torchvision's 3×3 kernel
/// (1 around a centre of 5, over 13), the smoothed values rounded (ties to even) and the
/// one-pixel border kept; unchanged when a side is 2 pixels or less.
pub(super) fn adjust_sharpness(image: &mut [u8], shape: ImageShape, factor: f64) {
    let (h, w) = (shape.height, shape.width);
    if h <= 2 || w <= 2 {
        return;
    }
    let source = image.to_vec();
    let weights = BlendWeights::new(factor);
    for (channel, original) in planes(image, shape).zip(source.chunks_exact(h * w)) {
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let value = f32::from(original[i]);
                let interior = (1..h - 1).contains(&y) && (1..w - 1).contains(&x);
                // The border is blended with itself: `_blend`'s float arithmetic need not keep it.
                let smooth = match interior {
                    true => smoothed(original, w, i),
                    false => value,
                };
                channel[i] = blend(value, smooth, weights);
            }
        }
    }
}

/// `_blurred_degenerate_image`'s value at interior index `i` of a plane `w` wide: the 3×3
/// neighbourhood weighted 1 (centre 5) over 13, rounded ties to even. The weighted sum is an
/// integer, so its quotient by 13 is never within 1/26 of a tie: no float error can flip it.
fn smoothed(plane: &[u8], w: usize, i: usize) -> f32 {
    let rows = [i - w, i, i + w];
    let sum: u32 = rows
        .iter()
        .flat_map(|&c| plane[c - 1..=c + 1].iter())
        .map(|&v| u32::from(v))
        .sum::<u32>()
        + 4 * u32::from(plane[i]);
    (sum as f32 / 13.0).round_ties_even()
}

/// `autocontrast(img)`: each channel stretched linearly so its minimum becomes 0 and its
/// maximum 255 (`(v − min) · 255 / (max − min)` in `f32`, truncated); a constant channel is
/// unchanged.
pub(super) fn autocontrast(image: &mut [u8], shape: ImageShape) {
    for channel in planes(image, shape) {
        let (Some(&lo), Some(&hi)) = (channel.iter().min(), channel.iter().max()) else {
            continue;
        };
        if lo == hi {
            continue;
        }
        let (lo, scale) = (f32::from(lo), 255.0 / (f32::from(hi) - f32::from(lo)));
        for v in channel.iter_mut() {
            *v = ((f32::from(*v) - lo) * scale).clamp(0.0, 255.0) as u8;
        }
    }
}

/// `equalize(img)`: each channel through its histogram-equalizing lookup table, as
/// torchvision's `_scale_channel`.
pub(super) fn equalize(image: &mut [u8], shape: ImageShape) {
    for channel in planes(image, shape) {
        if let Some(lut) = equalize_lut(channel) {
            for v in channel.iter_mut() {
                *v = lut[usize::from(*v)];
            }
        }
    }
}

/// `_scale_channel`'s lookup table: `step` is the count of every value but the brightest
/// present, over 255 (floored); value `v` maps to `(pixels below v + step / 2) / step`, capped
/// at 255. `None` (leave the channel) when `step` is 0.
fn equalize_lut(channel: &[u8]) -> Option<[u8; 256]> {
    let mut histogram = [0u64; 256];
    for &v in channel {
        histogram[usize::from(v)] += 1;
    }
    let brightest = histogram.iter().rposition(|&n| n > 0)?;
    let step = histogram[..brightest].iter().sum::<u64>() / 255;
    if step == 0 {
        return None;
    }
    let mut lut = [0u8; 256];
    let mut below = 0u64;
    for (entry, &count) in lut.iter_mut().zip(&histogram) {
        *entry = ((below + step / 2) / step).min(255) as u8;
        below += count;
    }
    Some(lut)
}

/// `posterize(img, bits)`: each value keeps its `bits` high bits.
pub(super) fn posterize(image: &mut [u8], bits: u32) {
    let mask = u8::MAX.checked_shl(8u32.saturating_sub(bits)).unwrap_or(0);
    for v in image.iter_mut() {
        *v &= mask;
    }
}

/// `solarize(img, threshold)`: each value at or above `threshold` inverted.
pub(super) fn solarize(image: &mut [u8], threshold: f32) {
    for v in image.iter_mut() {
        if f32::from(*v) >= threshold {
            *v = u8::MAX - *v;
        }
    }
}

/// `invert(img)`: `255 − v`.
pub(super) fn invert(image: &mut [u8]) {
    for v in image.iter_mut() {
        *v = u8::MAX - *v;
    }
}
