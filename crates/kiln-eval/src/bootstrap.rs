//! The seeded percentile bootstrap: how far a figure would move on another test set drawn the
//! same way.
//!
//! A resample draws `n` of the `n` samples with replacement; it is represented by how many
//! times each sample was drawn (its counts, one byte each: a sample drawn more than 254 times
//! saturates at 255, which for `n` draws among `n` samples has a probability below 10⁻⁵⁰⁰), so
//! a statistic is a weighted pass over the original arrays — no copy of the data, no sort per
//! resample. Resample `r` draws from its own
//! generator seeded by `(seed, r)`, so the result does not depend on the thread count; the
//! resamples run in parallel (rayon). The interval is numpy's `nanpercentile(values, [2.5,
//! 97.5])` (linear interpolation) of the resampled values, NaN values (a statistic undefined on
//! a resample) left out.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// Resamples drawn unless asked otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// The confidence level of the intervals.
pub const LEVEL: f64 = 0.95;

/// How to bootstrap: how many resamples, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples drawn (at least 2).
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            resamples: DEFAULT_RESAMPLES,
            seed: 0,
        }
    }
}

/// A percentile interval at [`LEVEL`]; NaN ends when the statistic was never defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The lower end (2.5th percentile).
    pub low: f64,
    /// The upper end (97.5th percentile).
    pub high: f64,
}

impl Interval {
    /// `high − low`.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }

    /// Whether `x` lies in `[low, high]`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

impl Serialize for Interval {
    /// `[low, high]`, NaN as `null`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let end = |v: f64| v.is_finite().then_some(v);
        [end(self.low), end(self.high)].serialize(s)
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(3);
        write!(f, "[{:.p$}, {:.p$}]", self.low, self.high)
    }
}

impl Bootstrap {
    /// `resamples` resamples from `seed`; at least 2 resamples.
    pub fn new(resamples: usize, seed: u64) -> Result<Self, EvalError> {
        match resamples >= 2 {
            true => Ok(Self { resamples, seed }),
            false => Err(EvalError::Invalid {
                what: "bootstrap resamples",
                problem: format!("must be at least 2, got {resamples}"),
            }),
        }
    }

    /// The intervals of `stats` statistics over resamples of `n` samples: `statistic(counts,
    /// out)` writes the `stats` values of the resample whose sample `i` was drawn `counts[i]`
    /// times.
    pub fn intervals<F>(&self, n: usize, stats: usize, statistic: F) -> Vec<Interval>
    where
        F: Fn(&[u8], &mut [f64]) + Sync,
    {
        let values = self.distribution(n, stats, statistic);
        values.into_iter().map(percentile_interval).collect()
    }

    /// Every resample's values of the `stats` statistics, by statistic.
    pub fn distribution<F>(&self, n: usize, stats: usize, statistic: F) -> Vec<Vec<f64>>
    where
        F: Fn(&[u8], &mut [f64]) + Sync,
    {
        let rows: Vec<Vec<f64>> = (0..self.resamples)
            .into_par_iter()
            .map_init(
                || vec![0u8; n],
                |counts, r| {
                    draw_counts(counts, self.seed, r as u64);
                    let mut out = vec![f64::NAN; stats];
                    statistic(counts, &mut out);
                    out
                },
            )
            .collect();
        (0..stats)
            .map(|s| rows.iter().map(|row| row[s]).collect())
            .collect()
    }
}

/// Fills `counts` with resample `r`'s draw counts: `counts.len()` uniform draws.
fn draw_counts(counts: &mut [u8], seed: u64, r: u64) {
    counts.fill(0);
    let n = counts.len() as u64;
    let mut rng = WyRand::new(seed ^ r.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..n {
        // Lemire's multiply-shift: a uniform index below n without division.
        let i = ((u128::from(rng.next()) * u128::from(n)) >> 64) as usize;
        counts[i] = counts[i].saturating_add(1);
    }
}

/// wyrand (Wang Yi): one multiply per draw, passes BigCrush and PractRand.
struct WyRand(u64);

impl WyRand {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xA076_1D64_78BD_642F);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xE703_7ED1_A0B4_28DB);
        ((t >> 64) as u64) ^ (t as u64)
    }
}

/// numpy's `nanpercentile(values, [2.5, 97.5])` with linear interpolation.
pub fn percentile_interval(mut values: Vec<f64>) -> Interval {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    // The quantiles of LEVEL = 0.95 as literals: (1 − 0.95) / 2 is 0.025000000000000022.
    Interval {
        low: percentile(&values, 0.025),
        high: percentile(&values, 0.975),
    }
}

/// The `q` quantile (0..=1) of sorted `values`, interpolating linearly; NaN when empty.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let pos = q * last as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = (lo + 1).min(last);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
#[path = "tests/bootstrap.rs"]
mod tests;
