//! `torch.optim.lr_scheduler.ReduceLROnPlateau`: the rate multiplied by `factor` once a
//! monitored quantity has not improved for more than `patience` epochs, then `cooldown` epochs
//! of rest. Unlike the other schedules ([`crate::LrSchedule`]) it depends on what the run
//! measured, so its state ([`PlateauState`]) is part of the training state and resumes with it.

use serde::{Deserialize, Serialize};

use crate::history::EpochMetrics;
use crate::monitor::{Mode, Monitor};

/// How an improvement is measured against the best value so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better than `best · (1 ∓ threshold)`.
    Rel,
    /// Better than `best ∓ threshold`.
    Abs,
}

/// ReduceLROnPlateau's settings (PyTorch's names and defaults but `patience`, which the
/// recipe sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// Steps of linear warm-up before it (0: none); at most a fifth of the run.
    #[serde(default)]
    pub warmup_steps: usize,
    /// The monitored quantity (`valid_loss`, `valid_accuracy`, …: [`Monitor::parse`]).
    pub monitor: String,
    /// Lower or higher is better [default: min for a loss, max otherwise].
    #[serde(default)]
    pub mode: Option<Mode>,
    /// The rate's multiplier at a plateau, in (0, 1).
    pub factor: f64,
    /// Epochs without improvement tolerated before the rate drops.
    pub patience: usize,
    /// The least change that counts as an improvement.
    pub threshold: f64,
    /// Whether `threshold` is relative or absolute.
    pub threshold_mode: ThresholdMode,
    /// Epochs after a drop during which epochs without improvement are not counted.
    pub cooldown: usize,
    /// The rate never drops below this.
    pub min_lr: f64,
    /// A drop smaller than this is not made.
    pub eps: f64,
}

impl Plateau {
    /// PyTorch's defaults (`factor` 0.1, `threshold` 1e-4 relative, no cooldown, `min_lr` 0,
    /// `eps` 1e-8) on `monitor` with `patience`.
    pub fn new(monitor: impl Into<String>, patience: usize) -> Self {
        Self {
            warmup_steps: 0,
            monitor: monitor.into(),
            mode: None,
            factor: 0.1,
            patience,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }

    /// Whether `value` improves on `best` (PyTorch's `is_better`; anything beats no best, NaN
    /// never improves).
    fn is_better(&self, mode: Mode, value: f64, best: Option<f64>) -> bool {
        let Some(best) = best else {
            return !value.is_nan();
        };
        match (mode, self.threshold_mode) {
            (Mode::Min, ThresholdMode::Rel) => value < best * (1.0 - self.threshold),
            (Mode::Min, ThresholdMode::Abs) => value < best - self.threshold,
            (Mode::Max, ThresholdMode::Rel) => value > best * (1.0 + self.threshold),
            (Mode::Max, ThresholdMode::Abs) => value > best + self.threshold,
        }
    }
}

/// Where the schedule stands: the rate, and PyTorch's `best`, `num_bad_epochs` and
/// `cooldown_counter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The rate before warm-up.
    #[serde(with = "crate::history::exact_f64")]
    pub lr: f64,
    /// The best monitored value so far (none before the first epoch ends).
    #[serde(default)]
    pub best: Option<f64>,
    /// Epochs since the last improvement (not counting cooldown).
    pub num_bad_epochs: usize,
    /// Cooldown epochs left.
    pub cooldown_counter: usize,
}

impl PlateauState {
    /// The state before the first epoch, at the base rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        }
    }

    /// PyTorch's `scheduler.step(value)` at an epoch's end.
    pub fn step(&mut self, settings: &Plateau, mode: Mode, value: f64) {
        if settings.is_better(mode, value, self.best) {
            self.best = Some(value);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > settings.patience {
            let reduced = (self.lr * settings.factor).max(settings.min_lr);
            if self.lr - reduced > settings.eps {
                self.lr = reduced;
            }
            self.cooldown_counter = settings.cooldown;
            self.num_bad_epochs = 0;
        }
    }

    /// [`Self::step`] with the monitored value of `metrics` (the epoch's phases), if one of them
    /// has it.
    pub fn step_epoch(&mut self, settings: &Plateau, monitor: &Monitor, metrics: &[EpochMetrics]) {
        if let Some(value) = metrics.iter().find_map(|m| monitor.value(m)) {
            self.step(settings, monitor.mode, value);
        }
    }
}

#[cfg(test)]
#[path = "tests/plateau.rs"]
mod tests;
