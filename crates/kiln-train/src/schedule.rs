//! Learning rate as a pure function of the optimizer step (nanoGPT style): resuming at step `s`
//! needs nothing but `s`.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Linear warm-up from 0 over `warmup_steps` (at most a fifth of the run, so short runs
    /// still decay), then a cosine decay towards `min_ratio × base`, reached just after the
    /// last step.
    WarmupCosine {
        /// Steps of linear warm-up.
        warmup_steps: usize,
        /// Final rate as a fraction of the base rate.
        min_ratio: f64,
    },
}

impl LrSchedule {
    /// The rate at 0-based `step` of `total_steps`.
    pub fn lr_at(&self, base: f64, step: usize, total_steps: usize) -> f64 {
        match *self {
            Self::Constant => base,
            Self::WarmupCosine {
                warmup_steps,
                min_ratio,
            } => {
                let warmup_steps = warmup_steps.min(total_steps / 5);
                if step < warmup_steps {
                    return base * (step + 1) as f64 / warmup_steps as f64;
                }
                let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
                let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                base * (min_ratio + (1.0 - min_ratio) * cosine)
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/schedule.rs"]
mod tests;
