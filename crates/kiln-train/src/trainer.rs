//! The epoch loop: one implementation for every [`ImageClassifier`].

use std::path::Path;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use kiln_data::{
    Batcher, ImageDataset, Loader, Normalization, balanced_class_weights, epoch_batches,
    weighted_epoch_batches,
};
use kiln_models::ImageClassifier;

use crate::callback::{BatchEnd, Callback, ModelSnapshot, TrainInfo};
use crate::config::{Sampler, TrainingConfig};
use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::history::{History, Phase, PhaseAccumulator};

/// What [`fit`] returns.
#[derive(Debug, Clone)]
pub struct Fitted<M> {
    /// The model after the last epoch run.
    pub model: M,
    /// Every epoch's metrics.
    pub history: History,
    /// Why training ended before `config.epochs`, if a callback stopped it.
    pub stopped_early: Option<String>,
}

struct Snapshot<'a, M>(&'a M);

impl<M: ImageClassifier> ModelSnapshot for Snapshot<'_, M> {
    fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        self.0
            .valid()
            .save_file(&tmp)
            .map_err(|e| TrainError::artifact(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| TrainError::artifact(path, e))
    }
}

/// Trains `model` (built on `device.autodiff()`) on `train`, validating on `valid` after every
/// epoch, and returns the trained model with the metrics of every epoch.
///
/// Each epoch visits the training set in an order that is a pure function of
/// `(config.seed, epoch)`; training metrics are pooled over samples. A callback may end
/// training early ([`Callback::stop_requested`]).
pub fn fit<M: ImageClassifier>(
    mut model: M,
    train: &ImageDataset,
    valid: Option<&ImageDataset>,
    norm: Normalization,
    device: &Device,
    config: &TrainingConfig,
    callbacks: &mut [Box<dyn Callback>],
) -> Result<Fitted<M>, TrainError> {
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(format!(
            "batch size and epochs must be positive (got {} and {})",
            config.batch_size, config.epochs
        )));
    }
    if train.is_empty() {
        return Err(TrainError::Config("the training split is empty".into()));
    }
    let train_loader = Loader::new(
        Batcher::new(norm, device.clone().autodiff()),
        config.loader_workers,
    )
    .with_augmentation(config.augmentation, config.seed);
    let eval_loader = Loader::new(Batcher::new(norm, device.clone()), config.loader_workers);
    if let Some(a) = config.label_smoothing.filter(|a| !(0.0..1.0).contains(a)) {
        return Err(TrainError::Config(format!(
            "label smoothing must be in [0, 1), got {a}"
        )));
    }
    let weights = match &config.class_weights {
        Some(w) => Some(w.resolve(&train.class_counts())?),
        None => None,
    };
    let loss_fn = CrossEntropyLossConfig::new()
        .with_weights(weights)
        .with_smoothing(config.label_smoothing)
        .init(&device.clone().autodiff());
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let accumulate = config.grad_accumulation.max(1);
    let total_steps = steps_per_epoch.div_ceil(accumulate) * config.epochs;
    let info = TrainInfo {
        epochs: config.epochs,
        steps_per_epoch,
        train_len: train.len(),
        valid_len: valid.map_or(0, ImageDataset::len),
    };
    for cb in callbacks.iter_mut() {
        cb.on_train_start(&info)?;
    }
    let mut optim = config.optimizer.init(config.grad_clipping);
    let sampling_weights = balanced_class_weights(train.labels(), train.num_classes());
    let mut history = History::new();
    let mut step = 0;
    let mut stopped_early = None;
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        let mut stats = PhaseAccumulator::new(train.num_classes());
        let mut lr = config.lr;
        let order = match config.sampler {
            Sampler::Shuffle => epoch_batches(
                train.len(),
                config.batch_size,
                Some((config.seed, epoch as u64)),
            ),
            Sampler::Balanced => weighted_epoch_batches(
                train.labels(),
                &sampling_weights,
                config.batch_size,
                (config.seed, epoch as u64),
            ),
        };
        model = train_loader.run(train, &order, epoch as u64, |batches| {
            let mut accumulated = GradientsAccumulator::new();
            for (batch_idx, (batch, indices)) in batches.enumerate() {
                lr = config.schedule.lr_at(
                    config.lr,
                    step,
                    total_steps,
                    steps_per_epoch.div_ceil(accumulate),
                );
                let logits = model.forward(batch.images);
                let loss = loss_fn.forward(logits.clone(), batch.targets.clone());
                let loss_value = loss.clone().into_scalar::<f64>();
                if !loss_value.is_finite() {
                    return Err(TrainError::NonFiniteLoss {
                        epoch,
                        batch: batch_idx,
                        loss: loss_value,
                    });
                }
                // Batches are grouped by `accumulate` from the epoch's start; the last group
                // may be smaller. Each loss is divided by its group's size, so one step on a
                // group is a step on the mean loss of its batches.
                let group_start = batch_idx - batch_idx % accumulate;
                let group_len = accumulate.min(steps_per_epoch - group_start);
                if group_len == 1 {
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    model = optim.step(lr, model, grads);
                } else {
                    let scaled = loss.div_scalar(group_len as f64);
                    let grads = GradientsParams::from_grads(scaled.backward(), &model);
                    accumulated.accumulate(&model, grads);
                    if batch_idx + 1 == group_start + group_len {
                        model = optim.step(lr, model, accumulated.grads());
                    }
                }
                stats.add_loss(loss_value, indices.len());
                stats
                    .confusion_mut()
                    .update(logits.detach(), batch.targets)?;
                let event = BatchEnd {
                    epoch,
                    batch: batch_idx,
                    step,
                    loss: loss_value,
                    lr,
                    running: &stats,
                };
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(&event, &history)?;
                }
                if batch_idx + 1 == group_start + group_len {
                    step += 1;
                }
            }
            Ok(model)
        })?;
        let train_metrics = stats.finish(epoch, Phase::Train, lr, start.elapsed().as_secs_f64());
        history.push(train_metrics.clone());
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(&train_metrics, &history)?;
            cb.on_phase_end(&train_metrics, &history)?;
        }
        if let Some(valid) = valid.filter(|v| !v.is_empty()) {
            let eval = evaluate(
                &model.valid(),
                valid,
                &eval_loader,
                config.batch_size,
                false,
            )?;
            let m = eval.stats.finish(epoch, Phase::Valid, lr, eval.seconds);
            history.push(m.clone());
            for cb in callbacks.iter_mut() {
                cb.on_validation_end(&m, &history)?;
                cb.on_phase_end(&m, &history)?;
            }
        }
        for cb in callbacks.iter_mut() {
            cb.on_epoch_complete(&history, &Snapshot(&model))?;
        }
        stopped_early = callbacks.iter().find_map(|cb| cb.stop_requested());
        if stopped_early.is_some() {
            break;
        }
    }
    for cb in callbacks.iter_mut() {
        cb.on_train_end(&history)?;
    }
    Ok(Fitted {
        model,
        history,
        stopped_early,
    })
}

#[cfg(test)]
#[path = "tests/trainer.rs"]
mod tests;
