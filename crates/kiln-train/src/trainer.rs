//! The epoch loop: one implementation for every [`ImageClassifier`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsAccumulator, ModuleOptimizer};
use burn::tensor::Device;
use kiln_data::{
    Batch, Batcher, ImageDataset, Loader, Normalization, balanced_class_weights, epoch_batches,
    weighted_epoch_batches,
};
use kiln_models::ImageClassifier;
use kiln_models::replicas::ReplicaNorm;

use crate::callback::{BatchEnd, Callback, ModelSnapshot, Resumed, TrainInfo};
use crate::config::{Sampler, TrainingConfig};
use crate::data_parallel::{BatchGrads, Replicas};
use crate::ema::WeightAverage;
use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::history::{History, Phase, PhaseAccumulator};
use crate::monitor::Monitor;
use crate::plan::{ConfigError, check_binary_training};
use crate::plateau::PlateauState;
use crate::schedule::LrSchedule;
use crate::soft_targets::SoftCrossEntropy;
use crate::step::{DataParallel, OneDevice, StepStrategy};
use crate::training_state::{self, Position, TrainingState, batch_seed, write_atomically};

/// What [`fit`] returns.
#[derive(Debug, Clone)]
pub struct Fitted<M> {
    /// The model after the last epoch run: with an EMA ([`TrainingConfig::ema`]), its
    /// averaged weights.
    pub model: M,
    /// With an EMA, the trained (not averaged) weights.
    pub raw: Option<M>,
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
    /// Train data-parallel over these devices (plain devices): each batch is split over them
    /// ([`crate::data_parallel`]), the gradients summed on the model's device. Empty, or the
    /// model's device alone: one device. One other device alone computes every step there.
    pub devices: Vec<Device>,
    /// What messages call each of `devices` (the names a run's `device_list` gives them, such
    /// as a server's address); empty: as `Debug` prints them.
    pub device_names: Vec<String>,
    /// How batch norms normalize when the batch is split over `devices`.
    pub replica_norm: ReplicaNorm,
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

/// The data [`fit`] trains and validates on.
#[derive(Debug, Clone, Copy)]
pub struct FitData<'a> {
    /// The training split.
    pub train: &'a ImageDataset,
    /// The validation split, evaluated after every epoch (none, or empty: no validation).
    pub valid: Option<&'a ImageDataset>,
    /// How pixels are normalized.
    pub norm: Normalization,
}

/// Everything about how [`fit`] trains but the model and the data, in one value.
#[derive(Debug, Clone)]
pub struct FitSettings {
    /// The device the model lives on (a plain device: autodiff is enabled internally).
    pub device: Device,
    /// The recipe; checked by [`TrainingConfig::check`] before the first step.
    pub training: TrainingConfig,
    /// State, resume, interruption, several devices, a binary head.
    pub options: FitOptions,
}

impl FitSettings {
    /// Trains with `training` on `device`, with the default [`FitOptions`].
    pub fn new(device: Device, training: TrainingConfig) -> Self {
        Self {
            device,
            training,
            options: FitOptions::default(),
        }
    }
}

/// Trains `model` (built on `settings.device.autodiff()`) on `data.train`, validating on
/// `data.valid` after every epoch, and returns the trained model with the metrics of every
/// epoch.
///
/// Each epoch visits the training set in an order that is a pure function of
/// `(config.seed, epoch)`, and the backend is reseeded before every batch
/// ([`batch_seed`]), so a run resumed from a saved state ([`FitOptions`]) repeats exactly what
/// the uninterrupted run would have done. Training metrics are pooled over samples. A
/// callback may end training early ([`Callback::stop_requested`]). How a batch's gradients are
/// computed — on one device, or split over several — is a step strategy (`step.rs`).
pub fn fit<M: ImageClassifier + 'static>(
    model: M,
    data: FitData<'_>,
    settings: &FitSettings,
    callbacks: &mut [Box<dyn Callback>],
) -> Result<Fitted<M>, TrainError> {
    let config = &settings.training;
    config.check(data.train.num_classes())?;
    if data.train.is_empty() {
        return Err(TrainError::EmptySplit { split: "training" });
    }
    let mut strategy = step_strategy(&model, data.train, settings)?;
    let device = &settings.device;
    let loaders = Loaders {
        train: Loader::new(
            Batcher::new(data.norm, device.clone().autodiff()),
            config.loader_workers,
        )
        .with_augmentation(config.augmentation.clone(), config.seed)
        .with_mixing(config.mixing),
        eval: Loader::new(
            Batcher::new(data.norm, device.clone()),
            config.loader_workers,
        ),
    };
    let mut run = EpochLoop::start(&model, data, settings, callbacks)?;
    let mut model = model;
    for epoch in run.epochs() {
        model = run.train_phase(model, epoch, &loaders.train, strategy.as_mut(), callbacks)?;
        run.validation_phase(&model, epoch, &loaders.eval, callbacks)?;
        if run.end_epoch(&model, epoch, callbacks)? {
            break;
        }
    }
    for cb in callbacks.iter_mut() {
        cb.on_train_end(&run.history)?;
    }
    let (model, raw) = match &run.average {
        Some(average) => (average.applied(model.clone()), Some(model)),
        None => (model, None),
    };
    Ok(Fitted {
        model,
        raw,
        history: run.history,
        stopped_early: run.stopped_early,
    })
}

/// The strategy `settings` ask for: one device, or data-parallel over `options.devices`.
fn step_strategy<M: ImageClassifier + 'static>(
    model: &M,
    train: &ImageDataset,
    settings: &FitSettings,
) -> Result<Box<dyn StepStrategy<M>>, TrainError> {
    let config = &settings.training;
    let options = &settings.options;
    if options.binary_pos_weight.is_some() {
        check_binary_training(config, options.devices.len())?;
    }
    let weights = match &config.class_weights {
        Some(w) => Some(w.resolve(&train.class_counts())?),
        None => None,
    };
    let loss = CrossEntropyLossConfig::new()
        .with_weights(weights.clone())
        .with_smoothing(config.label_smoothing);
    let autodiff = settings.device.clone().autodiff();
    let one_device = match options.devices.as_slice() {
        [] => true,
        [only] => *only == settings.device,
        _ => false,
    };
    match options.devices.len() {
        _ if one_device => Ok(Box::new(OneDevice {
            loss: loss.init(&autodiff),
            soft: SoftCrossEntropy::new(weights.as_deref(), config.label_smoothing, &autodiff),
            binary_pos_weight: options.binary_pos_weight,
        })),
        n if config.mixing.is_some() => Err(ConfigError::rule(
            "mixing",
            format!("Mixup and CutMix train on one device, not {n}"),
        )
        .into()),
        _ => {
            let devices: Vec<Device> = options
                .devices
                .iter()
                .map(|d| d.clone().autodiff())
                .collect();
            Ok(Box::new(DataParallel {
                replicas: Replicas::new(
                    model,
                    &devices,
                    &options.device_names,
                    &loss,
                    options.replica_norm,
                )?,
                labels: train.labels().to_vec(),
                class_weights: weights,
            }))
        }
    }
}

/// The optimizer the recipe asks for (the norm and bias parameters of `model` a group of
/// their own when their decay differs), with a resumed run's saved state loaded into it.
fn restored_optimizer<M: ImageClassifier>(
    settings: &FitSettings,
    model: &M,
) -> Result<ModuleOptimizer, TrainError> {
    let config = &settings.training;
    let optim = config.optimizer_for(model);
    let Some(state) = &settings.options.resume else {
        return Ok(optim);
    };
    let dir = (settings.options.checkpoint_dir.as_deref()).ok_or(TrainError::Internal(
        "resuming needs the checkpoint directory of the state",
    ))?;
    state.restore_optimizer(dir, optim)
}

/// The loaders of the two phases: training batches (on the autodiff device, augmented) and
/// evaluation batches.
struct Loaders {
    train: Loader,
    eval: Loader,
}

/// The state of the epoch loop between its stages (the model is passed through them: an
/// optimizer step consumes it, and updates its tensors in place when it is their only owner).
struct EpochLoop<'a> {
    data: FitData<'a>,
    settings: &'a FitSettings,
    optim: ModuleOptimizer,
    history: History,
    /// Optimizer steps taken.
    step: usize,
    /// The epoch and batch training starts at (1, 0; or where a resumed run stopped).
    first: (usize, usize),
    /// A resumed epoch's running metrics and seconds so far.
    resumed: Option<(PhaseAccumulator, f64)>,
    stopped_early: Option<String>,
    steps_per_epoch: usize,
    total_steps: usize,
    /// The rate of the last step.
    lr: f64,
    sampling_weights: Vec<f64>,
    /// The moving average of the weights, if the recipe keeps one.
    average: Option<WeightAverage>,
    /// The plateau schedule's monitored quantity and state, if the recipe has one.
    plateau: Option<(Monitor, PlateauState)>,
}

impl<'a> EpochLoop<'a> {
    /// Restores a saved state if resuming, and tells the callbacks training starts.
    fn start<M: ImageClassifier>(
        model: &M,
        data: FitData<'a>,
        settings: &'a FitSettings,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<Self, TrainError> {
        let config = &settings.training;
        let steps_per_epoch = data.train.len().div_ceil(config.batch_size);
        let accumulate = config.grad_accumulation;
        let plateau = match config.plateau_monitor(data.train.num_classes())? {
            Some(monitor)
                if monitor.phase == Phase::Valid && data.valid.is_none_or(|v| v.is_empty()) =>
            {
                return Err(ConfigError::rule(
                    "schedule.monitor",
                    format!(
                        "{} needs a validation split, and the run has none",
                        monitor.name
                    ),
                )
                .into());
            }
            Some(monitor) => Some((monitor, PlateauState::new(config.lr))),
            None => None,
        };
        let mut run = Self {
            data,
            settings,
            optim: restored_optimizer(settings, model)?,
            history: History::new(),
            step: 0,
            first: (1, 0),
            resumed: None,
            stopped_early: None,
            steps_per_epoch,
            total_steps: config.epochs * steps_per_epoch.div_ceil(accumulate),
            lr: config.lr,
            sampling_weights: balanced_class_weights(data.train.labels(), data.train.num_classes()),
            average: config.ema.map(|ema| WeightAverage::new(ema, model)),
            plateau,
        };
        if let Some(state) = &settings.options.resume {
            run.restore(model, state, callbacks)?;
        }
        let info = TrainInfo {
            epochs: config.epochs,
            steps_per_epoch,
            train_len: data.train.len(),
            valid_len: data.valid.map_or(0, ImageDataset::len),
        };
        for cb in callbacks.iter_mut() {
            cb.on_train_start(&info)?;
        }
        // Ctrl-C while the data was loading: stop before the first step, nothing to save.
        if run.interrupted() {
            return Err(TrainError::Interrupted {
                epoch: run.first.0,
                batch: run.first.1,
                saved: None,
            });
        }
        Ok(run)
    }

    /// Continues from `state`: the history and the position it saved (the optimizer is
    /// [`restored_optimizer`]).
    fn restore<M: ImageClassifier>(
        &mut self,
        model: &M,
        state: &TrainingState,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<(), TrainError> {
        if let Some(ema) = self.settings.training.ema {
            let dir = self.checkpoint_dir().ok_or(TrainError::Internal(
                "resuming needs the checkpoint directory of the state",
            ))?;
            self.average = Some(WeightAverage::new(ema, &state.load_average(dir, model)?));
        }
        if let (Some((_, plateau)), Some(saved)) = (&mut self.plateau, &state.plateau) {
            *plateau = saved.clone();
        }
        self.history = state.history.clone();
        self.step = state.step;
        self.first = (state.epoch, state.batch);
        self.resumed = state.running.clone().map(|r| (r, state.running_seconds));
        self.stopped_early = state.stopped_early.clone();
        let resumed = Resumed {
            epoch: state.epoch,
            batch: state.batch,
            step: self.step,
            history: &self.history,
        };
        for cb in callbacks.iter_mut() {
            cb.on_resume(&resumed)?;
        }
        Ok(())
    }

    fn checkpoint_dir(&self) -> Option<&'a Path> {
        self.settings.options.checkpoint_dir.as_deref()
    }

    fn interrupted(&self) -> bool {
        let flag = self.settings.options.interrupt.as_ref();
        flag.is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// The epochs left to run (none if a callback already stopped the run).
    fn epochs(&self) -> std::ops::RangeInclusive<usize> {
        match self.stopped_early {
            Some(_) => self.first.0..=0,
            None => self.first.0..=self.settings.training.epochs,
        }
    }

    /// The learning rate at optimizer step `step`.
    fn lr_at(&self, step: usize) -> f64 {
        let config = &self.settings.training;
        let steps_per_epoch = self.steps_per_epoch.div_ceil(config.grad_accumulation);
        let base = self.plateau.as_ref().map_or(config.lr, |(_, p)| p.lr);
        config
            .schedule
            .lr_at(base, step, self.total_steps, steps_per_epoch)
    }

    /// The model validation, checkpoints and callbacks see: the averaged weights, if kept.
    fn shown<M: ImageClassifier>(&self, model: &M) -> M {
        match &self.average {
            Some(average) => average.applied(model.clone()),
            None => model.clone(),
        }
    }

    /// The epoch's batches: a seeded shuffle, or balanced draws with replacement.
    fn batch_order(&self, epoch: usize) -> Vec<Vec<usize>> {
        let config = &self.settings.training;
        let train = self.data.train;
        let seed = (config.seed, epoch as u64);
        match config.sampler {
            Sampler::Shuffle => epoch_batches(train.len(), config.batch_size, Some(seed)),
            Sampler::Balanced => weighted_epoch_batches(
                train.labels(),
                &self.sampling_weights,
                config.batch_size,
                seed,
            ),
        }
    }

    /// One epoch's training phase, from its first batch (or where a resumed run stopped).
    fn train_phase<M: ImageClassifier + 'static>(
        &mut self,
        mut model: M,
        epoch: usize,
        loader: &Loader,
        strategy: &mut dyn StepStrategy<M>,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<M, TrainError> {
        let start = Instant::now();
        let first_batch = if epoch == self.first.0 {
            self.first.1
        } else {
            0
        };
        let (mut stats, earlier_seconds) = self
            .resumed
            .take()
            .unwrap_or_else(|| (PhaseAccumulator::new(self.data.train.num_classes()), 0.0));
        // The rate of the epoch's last step so far (a resumed epoch may have no step left).
        self.lr = match (first_batch, self.step) {
            (1.., 1..) => self.lr_at(self.step - 1),
            _ => self.settings.training.lr,
        };
        let order = self.batch_order(epoch);
        let train = self.data.train;
        let model = loader.run_from(train, &order, first_batch, epoch as u64, |batches| {
            let mut accumulated = GradientsAccumulator::new();
            for (batch_idx, (batch, indices)) in (first_batch..).zip(batches) {
                let at = BatchAt {
                    epoch,
                    batch: batch_idx,
                    earlier_seconds,
                    start,
                };
                let step = Step {
                    accumulated: &mut accumulated,
                    strategy: &mut *strategy,
                    stats: &mut stats,
                };
                model = self.train_batch(model, at, batch, indices, step, callbacks)?;
            }
            Ok::<_, TrainError>(model)
        })?;
        let seconds = earlier_seconds + start.elapsed().as_secs_f64();
        let metrics = stats.finish(epoch, Phase::Train, self.lr, seconds);
        self.history.push(metrics.clone());
        for cb in callbacks.iter_mut() {
            cb.on_train_phase_end(&metrics, &self.history)?;
            cb.on_phase_end(&metrics, &self.history)?;
        }
        Ok(model)
    }

    /// One batch: its gradients from the strategy, an optimizer step at the end of its
    /// accumulation group, its metrics, the callbacks, and a check for Ctrl-C.
    fn train_batch<M: ImageClassifier + 'static>(
        &mut self,
        model: M,
        at: BatchAt,
        batch: Batch,
        indices: &[usize],
        step: Step<'_, M>,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<M, TrainError> {
        let Step {
            accumulated,
            strategy,
            stats,
        } = step;
        let config = &self.settings.training;
        let accumulate = config.grad_accumulation;
        self.lr = self.lr_at(self.step);
        let seed = batch_seed(config.seed, at.epoch, at.batch);
        self.settings.device.seed(seed);
        // Batches are grouped by `accumulate` from the epoch's start; the last group may be
        // smaller. Each loss is divided by its group's size, so one step on a group is a step
        // on the mean loss of its batches.
        let group_start = at.batch - at.batch % accumulate;
        let group_len = accumulate.min(self.steps_per_epoch - group_start);
        let targets = batch.targets.clone();
        let BatchGrads {
            loss,
            logits,
            grads,
        } = strategy.gradients(&model, batch, indices, group_len, seed)?;
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                epoch: at.epoch,
                batch: at.batch,
                loss,
            });
        }
        let ends_group = at.batch + 1 == group_start + group_len;
        let model = match (group_len, ends_group) {
            (1, _) => self.optim.step(self.lr, model, grads),
            (_, false) => {
                accumulated.accumulate(&model, grads);
                model
            }
            (_, true) => {
                accumulated.accumulate(&model, grads);
                self.optim.step(self.lr, model, accumulated.grads())
            }
        };
        stats.add_loss(loss, indices.len());
        stats.confusion_mut().update(logits, targets)?;
        let event = BatchEnd {
            epoch: at.epoch,
            batch: at.batch,
            step: self.step,
            loss,
            lr: self.lr,
            running: stats,
        };
        for cb in callbacks.iter_mut() {
            cb.on_batch_end(&event, &self.history)?;
        }
        if ends_group {
            self.step += 1;
            if let Some(average) = &mut self.average {
                average.update(&model, self.step);
            }
            if self.interrupted() {
                let position = Position {
                    epoch: at.epoch,
                    batch: at.batch + 1,
                    step: self.step,
                    history: &self.history,
                    running: Some(stats),
                    running_seconds: at.earlier_seconds + at.start.elapsed().as_secs_f64(),
                    stopped_early: None,
                    plateau: self.plateau.as_ref().map(|(_, p)| p),
                };
                let average = self.average.as_ref().map(|_| self.shown(&model));
                return Err(interrupt(
                    self.checkpoint_dir(),
                    (&model, average.as_ref()),
                    &self.optim,
                    position,
                ));
            }
        }
        Ok(model)
    }

    /// Evaluates the model on the validation split, if there is one.
    fn validation_phase<M: ImageClassifier>(
        &mut self,
        model: &M,
        epoch: usize,
        loader: &Loader,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<(), TrainError> {
        let Some(valid) = self.data.valid.filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        let batch_size = self.settings.training.batch_size;
        let eval = evaluate(
            &self.shown(model).valid(),
            valid,
            loader,
            batch_size,
            false,
            None,
        )?;
        let metrics = eval
            .stats
            .finish(epoch, Phase::Valid, self.lr, eval.seconds);
        self.history.push(metrics.clone());
        for cb in callbacks.iter_mut() {
            cb.on_validation_end(&metrics, &self.history)?;
            cb.on_phase_end(&metrics, &self.history)?;
        }
        Ok(())
    }

    /// The epoch's end: callbacks with the model, whether one stops the run, the training
    /// state saved. `true` when training ends here.
    fn end_epoch<M: ImageClassifier>(
        &mut self,
        model: &M,
        epoch: usize,
        callbacks: &mut [Box<dyn Callback>],
    ) -> Result<bool, TrainError> {
        if let Some((monitor, plateau)) = &mut self.plateau
            && let LrSchedule::Plateau(settings) = &self.settings.training.schedule
        {
            let this_epoch = self.history.iter().filter(|m| m.epoch == epoch);
            plateau.step_epoch(settings, monitor, &this_epoch.cloned().collect::<Vec<_>>());
        }
        let shown = self.shown(model);
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(&self.history, &Snapshot(&shown))?;
        }
        self.stopped_early = callbacks.iter().find_map(|cb| cb.stop_requested());
        let at = Position {
            epoch: epoch + 1,
            batch: 0,
            step: self.step,
            history: &self.history,
            running: None,
            running_seconds: 0.0,
            stopped_early: self.stopped_early.clone(),
            plateau: self.plateau.as_ref().map(|(_, p)| p),
        };
        if let Some(dir) = self.checkpoint_dir() {
            let average = self.average.as_ref().map(|_| &shown);
            training_state::save(dir, (model, average), &self.optim, at.clone())?;
        }
        if self.stopped_early.is_some() {
            return Ok(true);
        }
        if self.interrupted() {
            // Saved just above.
            return Err(TrainError::Interrupted {
                epoch: at.epoch,
                batch: 0,
                saved: self.checkpoint_dir().map(Path::to_path_buf),
            });
        }
        Ok(false)
    }
}

/// What a training step works with besides the model: the gradients accumulated in its group,
/// how gradients are computed, the phase's running metrics.
struct Step<'s, M> {
    accumulated: &'s mut GradientsAccumulator<M>,
    strategy: &'s mut dyn StepStrategy<M>,
    stats: &'s mut PhaseAccumulator,
}

/// Where a batch is in the run, and when its epoch's phase started.
#[derive(Debug, Clone, Copy)]
struct BatchAt {
    epoch: usize,
    batch: usize,
    /// Seconds of this phase before a resume.
    earlier_seconds: f64,
    start: Instant,
}

/// Saves the state (when `dir` is given) and returns the error that ends an interrupted run.
fn interrupt<M: ImageClassifier>(
    dir: Option<&Path>,
    model: (&M, Option<&M>),
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
