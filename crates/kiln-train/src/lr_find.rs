//! The learning-rate range test (Smith 2017; Lightning's `Tuner.lr_find`, fastai's
//! `lr_find`): a few hundred training steps with the rate growing exponentially from
//! `start_lr` to `end_lr`, the loss smoothed as it goes, stopped once the smoothed loss exceeds
//! `diverge` × its best; the suggested rate is Lightning's: where the smoothed loss falls
//! fastest (the most negative `numpy.gradient`, the first 10 and the last point left out).
//!
//! It trains a throw-away copy of the model with the run's recipe — optimizer, loss,
//! augmentation, mixing — and changes no run.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use kiln_data::{Batcher, ImageDataset, Loader, Normalization, epoch_batches};
use kiln_models::ImageClassifier;
use serde::Serialize;

use crate::config::TrainingConfig;
use crate::data_parallel::BatchGrads;
use crate::error::TrainError;
use crate::plan::ConfigError;
use crate::soft_targets::SoftCrossEntropy;
use crate::step::{OneDevice, StepStrategy};

/// The range test's settings (Lightning's defaults but the rates).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LrFindSettings {
    /// The first step's rate.
    pub start_lr: f64,
    /// The rate the last step would reach.
    pub end_lr: f64,
    /// Steps at most.
    pub steps: usize,
    /// The smoothing `β` of the loss's running average (bias-corrected).
    pub smoothing: f64,
    /// Stop once the smoothed loss exceeds this many times its best.
    pub diverge: f64,
}

impl Default for LrFindSettings {
    fn default() -> Self {
        Self {
            start_lr: 1e-7,
            end_lr: 10.0,
            steps: 100,
            smoothing: 0.98,
            diverge: 4.0,
        }
    }
}

/// One step of the test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LrFindPoint {
    /// The rate of the step.
    pub lr: f64,
    /// The batch's loss.
    pub loss: f64,
    /// The bias-corrected running average of the losses so far.
    pub smoothed: f64,
}

/// What the test found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LrFind {
    /// The settings it ran with.
    pub settings: LrFindSettings,
    /// Every step run.
    pub points: Vec<LrFindPoint>,
    /// The suggested rate (none when too few steps ran).
    pub suggestion: Option<f64>,
    /// Why it stopped before `steps`, if it did.
    pub stopped: Option<String>,
}

impl LrFindSettings {
    /// The rate of 0-based step `i`: `start · (end / start)^(i / steps)` (Lightning's
    /// `_ExponentialLR`).
    pub fn lr_at(&self, i: usize) -> f64 {
        self.start_lr * (self.end_lr / self.start_lr).powf(i as f64 / self.steps as f64)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, rule: &str| Err(ConfigError::rule(field, rule.to_string()));
        if !(self.start_lr > 0.0 && self.end_lr > self.start_lr && self.end_lr.is_finite()) {
            return bad("end_lr", "the rates must satisfy 0 < start < end");
        }
        if self.steps < 2 {
            return bad("steps", "the test needs at least 2 steps");
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return bad("smoothing", "must be in [0, 1)");
        }
        if self.diverge <= 1.0 {
            return bad("diverge", "must be above 1");
        }
        Ok(())
    }
}

/// Lightning's suggestion: the index of the most negative `numpy.gradient` of `smoothed`
/// among the points after the first 10 and before the last.
pub fn suggest(smoothed: &[f64]) -> Option<usize> {
    const SKIP_BEGIN: usize = 10;
    let end = smoothed.len().checked_sub(1)?;
    let kept: Vec<(usize, f64)> = (SKIP_BEGIN..end)
        .map(|i| (i, smoothed[i]))
        .filter(|(_, l)| l.is_finite())
        .collect();
    if kept.len() < 2 {
        return None;
    }
    let n = kept.len();
    let gradient = |j: usize| match j {
        0 => kept[1].1 - kept[0].1,
        j if j == n - 1 => kept[j].1 - kept[j - 1].1,
        j => (kept[j + 1].1 - kept[j - 1].1) / 2.0,
    };
    (0..n)
        .min_by(|&a, &b| gradient(a).total_cmp(&gradient(b)))
        .map(|j| kept[j].0)
}

/// Runs the range test on `model` (built on `device.autodiff()`), training on `train` with
/// `training`'s optimizer, loss, augmentation and mixing.
pub fn lr_find<M: ImageClassifier + 'static>(
    mut model: M,
    train: &ImageDataset,
    norm: Normalization,
    device: &Device,
    training: &TrainingConfig,
    settings: LrFindSettings,
) -> Result<LrFind, TrainError> {
    settings.check()?;
    training.check(train.num_classes())?;
    if train.len() < training.batch_size {
        return Err(ConfigError::rule(
            "batch_size",
            format!(
                "the test needs a full batch: {} images for batch {}",
                train.len(),
                training.batch_size
            ),
        )
        .into());
    }
    let autodiff = device.clone().autodiff();
    let weights = match &training.class_weights {
        Some(w) => Some(w.resolve(&train.class_counts())?),
        None => None,
    };
    let mut strategy = OneDevice {
        loss: CrossEntropyLossConfig::new()
            .with_weights(weights.clone())
            .with_smoothing(training.label_smoothing)
            .init(&autodiff),
        soft: SoftCrossEntropy::new(weights.as_deref(), training.label_smoothing, &autodiff),
        binary_pos_weight: None,
    };
    let mut optim = training.optimizer_for(&model);
    let loader = Loader::new(Batcher::new(norm, autodiff), training.loader_workers)
        .with_augmentation(training.augmentation.clone(), training.seed)
        .with_mixing(training.mixing);
    let mut points: Vec<LrFindPoint> = Vec::with_capacity(settings.steps);
    let (mut average, mut best) = (0.0, f64::INFINITY);
    let mut stopped = None;
    let mut epoch = 1u64;
    'epochs: while points.len() < settings.steps {
        let order: Vec<Vec<usize>> = epoch_batches(
            train.len(),
            training.batch_size,
            Some((training.seed, epoch)),
        )
        .into_iter()
        .filter(|b| b.len() == training.batch_size)
        .collect();
        let result = loader.run(train, &order, epoch, |batches| {
            for (batch, indices) in batches {
                let i = points.len();
                if i == settings.steps {
                    return Ok(None);
                }
                let lr = settings.lr_at(i);
                let BatchGrads { loss, grads, .. } =
                    strategy.gradients(&model, batch, indices, 1, 0)?;
                model = optim.step(lr, model.clone(), grads);
                average = settings.smoothing * average + (1.0 - settings.smoothing) * loss;
                let smoothed = average / (1.0 - settings.smoothing.powi(i as i32 + 1));
                points.push(LrFindPoint { lr, loss, smoothed });
                if !loss.is_finite() {
                    return Ok(Some(format!("the loss is not finite at rate {lr:.3e}")));
                }
                if i > 0 && smoothed > settings.diverge * best {
                    return Ok(Some(format!(
                        "the smoothed loss passed {}× its best at rate {lr:.3e}",
                        settings.diverge
                    )));
                }
                best = best.min(smoothed);
            }
            Ok::<_, TrainError>(None)
        })?;
        if let Some(why) = result {
            stopped = Some(why);
            break 'epochs;
        }
        epoch += 1;
    }
    let smoothed: Vec<f64> = points.iter().map(|p| p.smoothed).collect();
    Ok(LrFind {
        settings,
        suggestion: suggest(&smoothed).map(|i| points[i].lr),
        points,
        stopped,
    })
}

#[cfg(test)]
#[path = "tests/lr_find.rs"]
mod tests;
