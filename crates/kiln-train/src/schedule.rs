//! Learning rate as a pure function of the optimizer step (nanoGPT style): resuming at step `s`
//! needs nothing but `s`.

use serde::{Deserialize, Serialize};

use crate::plateau::Plateau;

/// How the learning rate moves over the run. Warm-up, where a schedule has it, is linear from
/// `base / warmup_steps` to `base` over the first `warmup_steps` steps, capped at a fifth of
/// the run so that short runs still get the rest of the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Warm-up, then the base rate.
    WarmupConstant {
        /// Steps of linear warm-up.
        warmup_steps: usize,
    },
    /// Warm-up, then a cosine decay towards `min_ratio × base`, reached just after the last
    /// step.
    WarmupCosine {
        /// Steps of linear warm-up.
        warmup_steps: usize,
        /// Final rate as a fraction of the base rate.
        min_ratio: f64,
    },
    /// `torch.optim.lr_scheduler.StepLR` stepped once per epoch: `base · γ^⌊epoch / step⌋`
    /// (0-based epoch), after an optional warm-up that scales it.
    Step {
        /// Steps of linear warm-up (0: none).
        #[serde(default)]
        warmup_steps: usize,
        /// Epochs between decays.
        step_epochs: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// `MultiStepLR` stepped once per epoch: `base · γ^(number of milestones ≤ epoch)`
    /// (0-based epoch), after an optional warm-up that scales it.
    MultiStep {
        /// Steps of linear warm-up (0: none).
        #[serde(default)]
        warmup_steps: usize,
        /// The epochs at which the rate is multiplied by `gamma`.
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f64,
    },
    /// `torch.optim.lr_scheduler.OneCycleLR` (cosine annealing, two phases,
    /// `cycle_momentum=False`: the optimizer's momentum is not cycled) with `base` as `max_lr`: from `base / div_factor` up to `base` over the first `pct_start` of the run,
    /// then down to `base / (div_factor · final_div_factor)` at the last step.
    OneCycle {
        /// Share of the run spent increasing.
        pct_start: f64,
        /// `max_lr / initial_lr`.
        div_factor: f64,
        /// `initial_lr / min_lr`.
        final_div_factor: f64,
    },
    /// `ReduceLROnPlateau` ([`crate::plateau`]): the rate drops when a monitored quantity
    /// stops improving; `base` is then the schedule's current rate, after an optional warm-up
    /// that scales it.
    Plateau(Plateau),
}

impl LrSchedule {
    /// PyTorch's `OneCycleLR` defaults.
    pub const ONE_CYCLE: Self = Self::OneCycle {
        pct_start: 0.3,
        div_factor: 25.0,
        final_div_factor: 1e4,
    };

    /// The rate at 0-based `step` of `total_steps`, with `steps_per_epoch` optimizer steps in
    /// an epoch (for [`Self::Plateau`], `base` is the plateau state's rate).
    pub fn lr_at(&self, base: f64, step: usize, total_steps: usize, steps_per_epoch: usize) -> f64 {
        let warm = |warmup_steps: usize| {
            let w = warmup_steps.min(total_steps / 5);
            match step < w {
                true => (step + 1) as f64 / w as f64,
                false => 1.0,
            }
        };
        let epoch = step / steps_per_epoch.max(1);
        match self {
            Self::Constant => base,
            Self::WarmupConstant { warmup_steps } => base * warm(*warmup_steps),
            Self::WarmupCosine {
                warmup_steps,
                min_ratio,
            } => {
                let w = (*warmup_steps).min(total_steps / 5);
                if step < w {
                    return base * warm(w);
                }
                let decay_steps = total_steps.saturating_sub(w).max(1);
                let progress = ((step - w) as f64 / decay_steps as f64).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                base * (min_ratio + (1.0 - min_ratio) * cosine)
            }
            Self::Step {
                warmup_steps,
                step_epochs,
                gamma,
            } => {
                let decays = epoch / (*step_epochs).max(1);
                base * gamma.powi(decays as i32) * warm(*warmup_steps)
            }
            Self::MultiStep {
                warmup_steps,
                milestones,
                gamma,
            } => {
                let decays = milestones.iter().filter(|&&m| m <= epoch).count();
                base * gamma.powi(decays as i32) * warm(*warmup_steps)
            }
            Self::Plateau(p) => base * warm(p.warmup_steps),
            Self::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                let initial = base / div_factor;
                let min = initial / final_div_factor;
                // PyTorch: the peak is at (fractional) step pct_start·total − 1, the end at
                // total − 1; a run too short for a rising phase starts at the peak.
                let up = pct_start * total_steps as f64 - 1.0;
                let down = total_steps as f64 - 1.0 - up;
                let anneal = |start: f64, end: f64, pct: f64| {
                    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
                };
                let s = step as f64;
                match (s <= up && up > 0.0, down > 0.0) {
                    (true, _) => anneal(initial, base, s / up),
                    (false, true) => anneal(base, min, ((s - up.max(0.0)) / down).clamp(0.0, 1.0)),
                    (false, false) => min,
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/schedule.rs"]
mod tests;
