//! Mixup and CutMix of a whole batch, as timm's `Mixup` does it in its default `"batch"` mode
//! (`correct_lam=True`): one mixing weight `λ` per batch, image `i` mixed with image `n − 1 − i`
//! (the batch reversed), and soft targets `λ · onehot(yᵢ) + (1 − λ) · onehot(yₙ₋₁₋ᵢ)` that sum
//! to 1. Applied by the [`crate::Loader`]'s workers to the normalized batch, after each image's
//! own augmentation, with draws seeded by `(seed, epoch, batch)`.
//!
//! - Mixup (Zhang et al. 2018): `x ← λ·x + (1 − λ)·reversed(x)`, `λ ~ Beta(α, α)`.
//! - CutMix (Yun et al. 2019): a box of area `(1 − λ)·H·W` centred uniformly (clipped to the
//!   image) pasted from the reversed batch; `λ` is then corrected to the area actually kept.
//!
//! A mixed image has two labels; [`MixedTargets::dominant`] is the one with the larger weight
//! (the image's own at `λ = 0.5`), the label training accuracy is counted against.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// timm's `Mixup(mixup_alpha, cutmix_alpha, prob, switch_prob)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mixing {
    /// Mixup's `α` (0: no Mixup).
    pub mixup_alpha: f32,
    /// CutMix's `α` (0: no CutMix).
    pub cutmix_alpha: f32,
    /// The probability that a batch is mixed at all.
    pub prob: f32,
    /// With both on, the probability that a mixed batch uses CutMix rather than Mixup.
    pub switch_prob: f32,
}

/// The soft targets of a mixed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedTargets {
    /// `[batch, classes]`, row-major; each row sums to 1.
    pub targets: Vec<f32>,
    /// Each image's label with the larger weight.
    pub dominant: Vec<i64>,
    /// The batch's `λ` (after CutMix's correction; 1: not mixed).
    pub lam: f32,
}

/// How one batch is mixed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Mixup,
    CutMix,
}

impl Mixing {
    /// timm's defaults for the weights given: mixed every batch, CutMix half the time when both
    /// are on.
    pub fn new(mixup_alpha: f32, cutmix_alpha: f32) -> Self {
        Self {
            mixup_alpha,
            cutmix_alpha,
            prob: 1.0,
            switch_prob: 0.5,
        }
    }

    /// Checks the settings; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        let alpha = |name: &str, a: f32| match a >= 0.0 && a.is_finite() {
            true => Ok(()),
            false => Err(format!("{name} must be ≥ 0, got {a}")),
        };
        let prob = |name: &str, p: f32| match (0.0..=1.0).contains(&p) {
            true => Ok(()),
            false => Err(format!("{name} must be in [0, 1], got {p}")),
        };
        alpha("mixup_alpha", self.mixup_alpha)?;
        alpha("cutmix_alpha", self.cutmix_alpha)?;
        prob("prob", self.prob)?;
        prob("switch_prob", self.switch_prob)?;
        match self.mixup_alpha > 0.0 || self.cutmix_alpha > 0.0 {
            true => Ok(()),
            false => Err("mixup_alpha or cutmix_alpha must be > 0".into()),
        }
    }

    /// timm's `_params_per_batch`: the batch's `λ` and kind (`λ = 1`: not mixed).
    fn draw(&self, rng: &mut SplitMix64) -> (f32, Kind) {
        if unit(rng) >= f64::from(self.prob) {
            return (1.0, Kind::Mixup);
        }
        let kind = match (self.mixup_alpha > 0.0, self.cutmix_alpha > 0.0) {
            (true, true) if unit(rng) < f64::from(self.switch_prob) => Kind::CutMix,
            (true, _) => Kind::Mixup,
            (false, _) => Kind::CutMix,
        };
        let alpha = match kind {
            Kind::Mixup => self.mixup_alpha,
            Kind::CutMix => self.cutmix_alpha,
        };
        (beta(rng, f64::from(alpha)) as f32, kind)
    }

    /// Mixes the batch `pixels` (`dims` = `[batch, channels, height, width]`, normalized) with
    /// itself reversed and returns its soft targets over `num_classes` classes.
    pub fn apply(
        &self,
        pixels: &mut [f32],
        dims: [usize; 4],
        labels: &[i64],
        num_classes: usize,
        rng: &mut SplitMix64,
    ) -> MixedTargets {
        let (lam, kind) = self.draw(rng);
        let lam = match (lam < 1.0, kind) {
            (false, _) => 1.0,
            (true, Kind::Mixup) => {
                mixup(pixels, dims, lam);
                lam
            }
            (true, Kind::CutMix) => {
                let bbox = cutmix_box(dims[2], dims[3], lam, rng);
                cutmix(pixels, dims, bbox);
                bbox.kept_fraction(dims[2], dims[3])
            }
        };
        mixed_targets(labels, num_classes, lam)
    }
}

/// `λ · onehot(yᵢ) + (1 − λ) · onehot(yₙ₋₁₋ᵢ)` for every `i`, with the dominant labels.
pub fn mixed_targets(labels: &[i64], num_classes: usize, lam: f32) -> MixedTargets {
    let n = labels.len();
    let mut targets = vec![0f32; n * num_classes];
    let mut dominant = Vec::with_capacity(n);
    for (i, &own) in labels.iter().enumerate() {
        let other = labels[n - 1 - i];
        let row = &mut targets[i * num_classes..(i + 1) * num_classes];
        for (label, weight) in [(own, lam), (other, 1.0 - lam)] {
            if let Some(t) = usize::try_from(label).ok().and_then(|c| row.get_mut(c)) {
                *t += weight;
            }
        }
        dominant.push(if lam >= 0.5 { own } else { other });
    }
    MixedTargets {
        targets,
        dominant,
        lam,
    }
}

/// `x ← λ·x + (1 − λ)·reversed(x)`, in place.
fn mixup(pixels: &mut [f32], dims: [usize; 4], lam: f32) {
    let n = dims[0];
    let len = dims[1] * dims[2] * dims[3];
    let original = pixels.to_vec();
    for i in 0..n {
        let other = &original[(n - 1 - i) * len..(n - i) * len];
        let own = &mut pixels[i * len..(i + 1) * len];
        for (x, &y) in own.iter_mut().zip(other) {
            *x = *x * lam + y * (1.0 - lam);
        }
    }
}

/// A CutMix box: rows `y0..y1`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutBox {
    /// First row.
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First column.
    pub x0: usize,
    /// One past the last column.
    pub x1: usize,
}

impl CutBox {
    /// timm's corrected `λ`: the fraction of the image the box leaves.
    pub fn kept_fraction(&self, height: usize, width: usize) -> f32 {
        let area = (self.y1 - self.y0) * (self.x1 - self.x0);
        1.0 - area as f32 / (height * width).max(1) as f32
    }
}

/// timm's `rand_bbox`: sides `⌊H·√(1 − λ)⌋` × `⌊W·√(1 − λ)⌋`, centre uniform over the image,
/// clipped to it.
pub fn cutmix_box(height: usize, width: usize, lam: f32, rng: &mut SplitMix64) -> CutBox {
    let ratio = (1.0 - f64::from(lam)).max(0.0).sqrt();
    let (cut_h, cut_w) = (
        (height as f64 * ratio) as usize,
        (width as f64 * ratio) as usize,
    );
    let cy = rng.below(height.max(1));
    let cx = rng.below(width.max(1));
    CutBox {
        y0: cy.saturating_sub(cut_h / 2),
        y1: (cy + cut_h / 2).min(height),
        x0: cx.saturating_sub(cut_w / 2),
        x1: (cx + cut_w / 2).min(width),
    }
}

/// Pastes `bbox` of the reversed batch into every image, in place.
fn cutmix(pixels: &mut [f32], dims: [usize; 4], bbox: CutBox) {
    let [n, c, h, w] = dims;
    let len = c * h * w;
    let original = pixels.to_vec();
    for i in 0..n {
        let other = (n - 1 - i) * len;
        for ch in 0..c {
            for y in bbox.y0..bbox.y1 {
                let row = ch * h * w + y * w;
                let (from, to) = (other + row, i * len + row);
                pixels[to + bbox.x0..to + bbox.x1]
                    .copy_from_slice(&original[from + bbox.x0..from + bbox.x1]);
            }
        }
    }
}

/// Uniform in `[0, 1)` from 53 random bits.
fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in `(0, 1]`.
fn unit_open(rng: &mut SplitMix64) -> f64 {
    1.0 - unit(rng)
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut SplitMix64) -> f64 {
    let (u, v) = (unit_open(rng), unit(rng));
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A `Gamma(shape, 1)` draw (Marsaglia & Tsang 2000; `shape < 1` boosted by `U^(1/shape)`).
fn gamma(rng: &mut SplitMix64, shape: f64) -> f64 {
    if shape < 1.0 {
        return gamma(rng, shape + 1.0) * unit_open(rng).powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = unit_open(rng);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A `Beta(α, α)` draw, `X / (X + Y)` of two `Gamma(α)` draws.
pub fn beta(rng: &mut SplitMix64, alpha: f64) -> f64 {
    let x = gamma(rng, alpha);
    let y = gamma(rng, alpha);
    match x + y > 0.0 {
        true => x / (x + y),
        false => 0.5,
    }
}

#[cfg(test)]
#[path = "tests/mix.rs"]
mod tests;
