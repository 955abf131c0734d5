//! The epoch loop: one implementation for every [`ImageClassifier`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use kiln_data::{
    Batcher, ImageDataset, Loader, Normalization, balanced_class_weights, epoch_batches,
    weighted_epoch_batches,
};
use kiln_models::ImageClassifier;

use crate::callback::{BatchEnd, Callback, ModelSnapshot, Resumed, TrainInfo};
use crate::config::{Sampler, TrainingConfig};
use crate::data_parallel::{self, BatchGrads, Replicas};
use crate::error::TrainError;
use crate::plan::ConfigError;
use crate::evaluate::evaluate;
use crate::history::{History, Phase, PhaseAccumulator};
use crate::training_state::{self, Position, TrainingState, batch_seed, write_atomically};

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

/// How [`fit`] keeps, restores and interrupts its state.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Keep the resumable training state in this directory ([`crate::training_state`]),
    /// rewritten at the end of every epoch and on interruption.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from this state, saved in `checkpoint_dir` (the caller has already loaded its
    /// weights into the model: [`TrainingState::model_path`]).
    pub resume: Option<TrainingState>,
    /// Checked after every optimizer step: once set (by a Ctrl-C handler, say), training saves
    /// its state and ends with [`TrainError::Interrupted`].
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Train data-parallel over these devices (plain devices, the first the model's; two or
    /// more): each batch is split over them ([`crate::data_parallel`]). Empty: one device.
    pub devices: Vec<Device>,
    /// The model has one output (a binary head, [`crate::binary`]): train it with binary
    /// cross-entropy and this `pos_weight`.
    pub binary_pos_weight: Option<f64>,
}

struct Snapshot<'a, M>(&'a M);

impl<M: ImageClassifier> ModelSnapshot for Snapshot<'_, M> {
    fn save(&self, path: &Path) -> Result<(), TrainError> {
        write_atomically(path, |tmp| {
            self.0.valid().save_file(tmp).map_err(|e| e.to_string())
        })
    }
}

/// Trains `model` (built on `device.autodiff()`) on `train`, validating on `valid` after every
/// epoch, and returns the trained model with the metrics of every epoch.
///
/// Each epoch visits the training set in an order that is a pure function of
/// `(config.seed, epoch)`, and the backend is reseeded before every batch
/// ([`batch_seed`]), so a run resumed from a saved state ([`FitOptions`]) repeats exactly what
/// the uninterrupted run would have done. Training metrics are pooled over samples. A
/// callback may end training early ([`Callback::stop_requested`]).
pub fn fit<M: ImageClassifier + 'static>(
    mut model: M,
    train: &ImageDataset,
    valid: Option<&ImageDataset>,
    norm: Normalization,
    device: &Device,
    config: &TrainingConfig,
    callbacks: &mut [Box<dyn Callback>],
    options: &FitOptions,
) -> Result<Fitted<M>, TrainError> {
    config.check(train.num_classes())?;
    if train.is_empty() {
        return Err(TrainError::EmptySplit { split: "training" });
    }
    let train_loader = Loader::new(
        Batcher::new(norm, device.clone().autodiff()),
        config.loader_workers,
    )
    .with_augmentation(config.augmentation, config.seed);
    let eval_loader = Loader::new(Batcher::new(norm, device.clone()), config.loader_workers);
    let weights = match &config.class_weights {
        Some(w) => Some(w.resolve(&train.class_counts())?),
        None => None,
    };
    let loss_config = CrossEntropyLossConfig::new()
        .with_weights(weights.clone())
        .with_smoothing(config.label_smoothing);
    let loss_fn = loss_config.init(&device.clone().autodiff());
    if options.binary_pos_weight.is_some()
        && (config.class_weights.is_some()
            || config.label_smoothing.is_some()
            || options.devices.len() > 1)
    {
        return Err(ConfigError::rule(
            "binary_head",
            "a binary head takes pos_weight instead of class weights, and no label smoothing \
             or several devices",
        )
        .into());
    }
    let mut replicas = match options.devices.len() {
        0 | 1 => None,
        n if data_parallel::has_running_statistics(&model) => {
            return Err(ConfigError::rule(
                "devices",
                format!(
                    "training on {n} devices: the model has batch-norm running statistics, which \
                     Burn 0.22 would update once per replica instead of once per batch; \
                     data-parallel training takes models without batch norm (e.g. lenet5)"
                ),
            )
            .into());
        }
        _ => {
            let devices: Vec<Device> = options
                .devices
                .iter()
                .map(|d| d.clone().autodiff())
                .collect();
            Some(Replicas::<M>::new(&devices, &loss_config))
        }
    };
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let accumulate = config.grad_accumulation.max(1);
    let total_steps = steps_per_epoch.div_ceil(accumulate) * config.epochs;
    let info = TrainInfo {
        epochs: config.epochs,
        steps_per_epoch,
        train_len: train.len(),
        valid_len: valid.map_or(0, ImageDataset::len),
    };
    let mut optim = config.optimizer.init(config.grad_clipping);
    let sampling_weights = balanced_class_weights(train.labels(), train.num_classes());
    let checkpoint_dir = options.checkpoint_dir.as_deref();
    let mut history = History::new();
    let mut step = 0;
    let mut first = (1, 0);
    let mut resumed: Option<(PhaseAccumulator, f64)> = None;
    let mut stopped_early = None;
    if let Some(state) = &options.resume {
        let dir = checkpoint_dir.ok_or(TrainError::Internal(
            "resuming needs the checkpoint directory of the state",
        ))?;
        optim = state.restore_optimizer(dir, optim)?;
        history = state.history.clone();
        step = state.step;
        first = (state.epoch, state.batch);
        resumed = state.running.clone().map(|r| (r, state.running_seconds));
        stopped_early = state.stopped_early.clone();
        let resumed = Resumed {
            epoch: state.epoch,
            batch: state.batch,
            step,
            history: &history,
        };
        for cb in callbacks.iter_mut() {
            cb.on_resume(&resumed)?;
        }
    }
    for cb in callbacks.iter_mut() {
        cb.on_train_start(&info)?;
    }
    let interrupted = || {
        options
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    };
    // Ctrl-C while the data was loading: stop before the first step, nothing to save.
    if interrupted() {
        return Err(TrainError::Interrupted {
            epoch: first.0,
            batch: first.1,
            saved: None,
        });
    }
    let epochs = match stopped_early {
        Some(_) => first.0..=0,
        None => first.0..=config.epochs,
    };
    for epoch in epochs {
        let start = Instant::now();
        let first_batch = if epoch == first.0 { first.1 } else { 0 };
        let (mut stats, earlier_seconds) = resumed
            .take()
            .unwrap_or_else(|| (PhaseAccumulator::new(train.num_classes()), 0.0));
        // The rate of the epoch's last step so far (a resumed epoch may have no step left).
        let mut lr = match (first_batch, step) {
            (1.., 1..) => config.schedule.lr_at(
                config.lr,
                step - 1,
                total_steps,
                steps_per_epoch.div_ceil(accumulate),
            ),
            _ => config.lr,
        };
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
        model = train_loader.run_from(train, &order, first_batch, epoch as u64, |batches| {
            let mut accumulated = GradientsAccumulator::new();
            for (batch_idx, (batch, indices)) in (first_batch..).zip(batches) {
                lr = config.schedule.lr_at(
                    config.lr,
                    step,
                    total_steps,
                    steps_per_epoch.div_ceil(accumulate),
                );
                let seed = batch_seed(config.seed, epoch, batch_idx);
                device.seed(seed);
                // Batches are grouped by `accumulate` from the epoch's start; the last group
                // may be smaller. Each loss is divided by its group's size, so one step on a
                // group is a step on the mean loss of its batches.
                let group_start = batch_idx - batch_idx % accumulate;
                let group_len = accumulate.min(steps_per_epoch - group_start);
                let BatchGrads {
                    loss: loss_value,
                    logits,
                    grads,
                } = match &mut replicas {
                    None => {
                        let logits = crate::binary::class_logits(model.forward(batch.images));
                        let loss = match options.binary_pos_weight {
                            Some(w) => {
                                crate::binary::binary_loss(logits.clone(), batch.targets.clone(), w)
                            }
                            None => loss_fn.forward(logits.clone(), batch.targets.clone()),
                        };
                        let value = loss.clone().into_scalar::<f64>();
                        let loss = match group_len {
                            1 => loss,
                            n => loss.div_scalar(n as f64),
                        };
                        BatchGrads {
                            loss: value,
                            logits: logits.detach(),
                            grads: GradientsParams::from_grads(loss.backward(), &model),
                        }
                    }
                    Some(replicas) => {
                        let sample_weights: Vec<f64> = indices
                            .iter()
                            .map(|&i| {
                                let class = usize::from(train.labels()[i]);
                                weights.as_ref().map_or(1.0, |w| f64::from(w[class]))
                            })
                            .collect();
                        replicas.backward(
                            &model,
                            batch.images,
                            batch.targets.clone(),
                            &sample_weights,
                            group_len,
                            seed,
                        )?
                    }
                };
                if !loss_value.is_finite() {
                    return Err(TrainError::NonFiniteLoss {
                        epoch,
                        batch: batch_idx,
                        loss: loss_value,
                    });
                }
                if group_len == 1 {
                    model = optim.step(lr, model, grads);
                } else {
                    accumulated.accumulate(&model, grads);
                    if batch_idx + 1 == group_start + group_len {
                        model = optim.step(lr, model, accumulated.grads());
                    }
                }
                stats.add_loss(loss_value, indices.len());
                stats.confusion_mut().update(logits, batch.targets)?;
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
                    if interrupted() {
                        let at = Position {
                            epoch,
                            batch: batch_idx + 1,
                            step,
                            history: &history,
                            running: Some(&stats),
                            running_seconds: earlier_seconds + start.elapsed().as_secs_f64(),
                            stopped_early: None,
                        };
                        return Err(interrupt(checkpoint_dir, &model, &optim, at));
                    }
                }
            }
            Ok(model)
        })?;
        let seconds = earlier_seconds + start.elapsed().as_secs_f64();
        let train_metrics = stats.finish(epoch, Phase::Train, lr, seconds);
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
        let at = Position {
            epoch: epoch + 1,
            batch: 0,
            step,
            history: &history,
            running: None,
            running_seconds: 0.0,
            stopped_early: stopped_early.clone(),
        };
        if let Some(dir) = checkpoint_dir {
            training_state::save(dir, &model, &optim, at.clone())?;
        }
        if stopped_early.is_some() {
            break;
        }
        if interrupted() {
            // Saved just above.
            return Err(TrainError::Interrupted {
                epoch: at.epoch,
                batch: 0,
                saved: checkpoint_dir.map(Path::to_path_buf),
            });
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

/// Saves the state (when `dir` is given) and returns the error that ends an interrupted run.
fn interrupt<M: ImageClassifier>(
    dir: Option<&Path>,
    model: &M,
    optim: &ModuleOptimizer,
    at: Position<'_>,
) -> TrainError {
    let (epoch, batch) = (at.epoch, at.batch);
    let saved = match dir {
        Some(dir) => training_state::save(dir, model, optim, at),
        None => Ok(()),
    };
    match saved {
        Ok(()) => TrainError::Interrupted {
            epoch,
            batch,
            saved: dir.map(Path::to_path_buf),
        },
        Err(e) => e,
    }
}

#[cfg(test)]
#[path = "tests/trainer.rs"]
mod tests;
