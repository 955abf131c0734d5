//! `RandomErasing` on normalized pixels.

use serde::{Deserialize, Serialize};

use super::geometry::Window;
use super::{uniform, unit};
use crate::images::ImageShape;
use crate::rng::SplitMix64;

/// torchvision's `RandomErasing.get_params` tries before it gives up.
const ERASING_TRIES: usize = 10;

/// What an erased rectangle is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErasingValue {
    /// This value in every channel, in normalized units (0: the channel's mean).
    Constant(f32),
    /// Standard-normal noise per pixel (torchvision's `value="random"`).
    Random,
}

/// `RandomErasing(p, scale, ratio, value)` on `pixels` (CHW floats of `shape`): with
/// probability `p`, the rectangle of [`erasing_window`] (if one fits) filled with `value` in
/// every channel.
pub(super) fn random_erasing(
    pixels: &mut [f32],
    shape: ImageShape,
    p: f32,
    scale: [f32; 2],
    ratio: [f32; 2],
    value: ErasingValue,
    rng: &mut SplitMix64,
) {
    // `torch.rand(1) < p`.
    if unit(rng) >= p {
        return;
    }
    if let Some(window) = erasing_window(shape, scale, ratio, rng) {
        fill(pixels, shape, window, value, rng);
    }
}

/// `RandomErasing.get_params`: up to ten tries of an area `H·W·uniform(scale)` and an aspect
/// ratio (height / width) `exp(uniform(ln ratio))`, sides rounded (ties to even, as Python's
/// `round`); the first strictly smaller than the image on both sides, placed uniformly. `None`
/// when no try fits (the image stays as it is).
pub(super) fn erasing_window(
    shape: ImageShape,
    scale: [f32; 2],
    ratio: [f32; 2],
    rng: &mut SplitMix64,
) -> Option<Window> {
    let (height, width) = (shape.height, shape.width);
    let area = (height * width) as f64;
    let log_ratio = [ratio[0].ln(), ratio[1].ln()];
    for _ in 0..ERASING_TRIES {
        let erase_area = area * f64::from(uniform(rng, scale[0], scale[1]));
        let aspect = f64::from(uniform(rng, log_ratio[0], log_ratio[1]).exp());
        let h = round_side((erase_area * aspect).sqrt());
        let w = round_side((erase_area / aspect).sqrt());
        if h < height && w < width {
            let top = rng.below(height - h + 1);
            let left = rng.below(width - w + 1);
            return Some(Window {
                top,
                left,
                height: h,
                width: w,
            });
        }
    }
    None
}

/// A side length rounded as Python's `int(round(x))` (ties to even); too large for any image
/// when `x` is not a finite non-negative number, so that the try fails.
fn round_side(x: f64) -> usize {
    match x.is_finite() && x >= 0.0 {
        true => x.round_ties_even() as usize,
        false => usize::MAX,
    }
}

/// `F.erase`: every channel of `window` set to `value` (`Random`: a standard normal draw per
/// element, channel by channel, row by row).
fn fill(
    pixels: &mut [f32],
    shape: ImageShape,
    window: Window,
    value: ErasingValue,
    rng: &mut SplitMix64,
) {
    let (h, w) = (shape.height, shape.width);
    let mut normals = NormalPairs::default();
    for channel in pixels.chunks_exact_mut((h * w).max(1)) {
        for y in window.top..window.top + window.height {
            let row = y * w;
            for v in &mut channel[row + window.left..row + window.left + window.width] {
                *v = match value {
                    ErasingValue::Constant(c) => c,
                    ErasingValue::Random => normals.next(rng),
                };
            }
        }
    }
}

/// Standard normal draws by the Box–Muller transform, which makes them in pairs: the second of
/// each pair is kept for the next call.
#[derive(Debug, Default)]
struct NormalPairs {
    spare: Option<f32>,
}

impl NormalPairs {
    /// The next standard normal draw.
    fn next(&mut self, rng: &mut SplitMix64) -> f32 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 − u is in (0, 1] (and kept off 0 should `unit` round up to 1), so the log is finite.
        let u1 = (1.0 - unit(rng)).max(f32::MIN_POSITIVE);
        let u2 = unit(rng);
        let radius = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f32::consts::TAU * u2).sin_cos();
        self.spare = Some(radius * sin);
        radius * cos
    }
}
