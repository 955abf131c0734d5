//! Data parallelism over several devices, the way Burn's multi-device training strategy does
//! it (burn-train's `MultiDevice` with the optimizer on the main device): each batch is split
//! into one shard per device, a replica of the model ([`Module::fork`]; batch norms' running
//! statistics stay on the main device, [`fork_replica`]) runs forward and
//! backward on each in its own persistent worker thread, the gradients are moved to the main
//! device ([`GradientsParams::to_device`]) and summed, and one optimizer step updates the main
//! model, which the next batch forks again.
//!
//! Each shard's mean loss is weighted by its share of the batch (its share of the class weight
//! when the loss is class-weighted), so the summed gradient is the gradient of the batch's mean
//! loss: the same step as on one device, up to float summation order.
//!
//! Batch norm: every replica's forward and backward run inside
//! [`kiln_models::replicas::with_replica`], so each batch norm meets the same layer of the other
//! replicas. Synchronized ([`ReplicaNorm::Synchronized`], the default, PyTorch's
//! `SyncBatchNorm`) every shard normalizes with the whole batch's statistics and the step equals
//! one device's; per replica (plain DDP) each shard normalizes with its own. Either way the
//! running statistics are updated once per batch, by replica 0. (Burn 0.22's own `BatchNorm`,
//! its `RunningState` shared by the replicas, would compound their updates — measured on
//! resnet20 with a learning rate of 0: 1.66× as far with two replicas taking turns, 2.37× with
//! Flex and ndarray in threads — so a model whose batch norms do not all go through
//! [`kiln_models::batch_norm`] is refused after its first step.)
//!
//! Replicas run concurrently on distinct devices, and always for models with batch norm (the
//! replicas meet inside their forward and backward). Replicas of one device without batch norm
//! take turns: a CPU backend already spreads each operation over every core, and its random
//! stream (dropout) is one per process. Each worker reseeds its device before its shard, so
//! dropout's draws are a function of the batch and the shard. A model with batch norm *and*
//! dropout on replicas of one device is refused: running concurrently, they would draw from the
//! one stream in thread order. A device list mixing Flex with other backends runs every replica
//! on Burn's ops (the fused Flex blocks would meet the others at different points).
//!
//! A replica that fails (a panic in its thread, a device gone) abandons its group, so the others
//! stop waiting, and the step ends with an error naming its device. Everything that touches a
//! replica's device — forking the model onto it, moving the shard there, bringing its logits and
//! gradients back — runs in its worker thread, so a device that goes away mid-step (a remote
//! server that stops: its operations panic) fails that step with an error, never the process.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor};
use kiln_models::ImageClassifier;
use kiln_models::replicas::{
    Abandoned, Replica, ReplicaGroup, ReplicaNorm, fork_replica, training_batch_norms,
    training_modules, with_replica,
};

use crate::error::TrainError;
use crate::plan::ConfigError;

/// One batch's loss, logits and gradients.
pub(crate) struct BatchGrads {
    /// The batch's mean loss.
    pub loss: f64,
    /// Logits `[batch, classes]` on the main device, detached.
    pub logits: Tensor<2>,
    /// Gradients of `loss / group` on the main device.
    pub grads: GradientsParams,
}

/// Shard sizes of a batch of `n` over `k` devices: as equal as possible, the first ones larger.
pub(crate) fn shard_sizes(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n).max(1);
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

/// A shard's work: the model and its images `[n, c, h, w]` and targets `[n]` on the main
/// device (the worker moves them to its own), its share of the batch's loss, the accumulation
/// group's size, the seed of its random stream, and its place among the batch's replicas.
struct Job<M> {
    model: M,
    main: Device,
    images: Tensor<4>,
    targets: Tensor<1, Int>,
    share: f64,
    group: usize,
    seed: u64,
    replica: Replica,
}

/// A shard's result: its share-weighted loss, detached logits and gradients (both on the main
/// device), and how many batch norms its forward ran through kiln's batch norm.
struct Shard {
    loss: f64,
    logits: Tensor<2>,
    grads: GradientsParams,
    batch_norms: usize,
}

/// Why a shard has no result.
enum Failure {
    /// The replica failed: its panic's message.
    Failed(String),
    /// Another replica of the batch failed, or the replicas disagreed; why.
    Abandoned(String),
}

type Done = Result<Shard, Failure>;

/// One worker thread per device, kept for the whole run.
pub(crate) struct Replicas<M> {
    workers: Vec<Worker<M>>,
    /// Whether the shards run concurrently (distinct devices, or batch norms to meet at).
    concurrent: bool,
    norm: ReplicaNorm,
    /// The model's batch norms that train, each of which a replica must meet the others at.
    batch_norms: usize,
}

struct Worker<M> {
    /// The device's name in messages.
    name: String,
    jobs: Option<Sender<Job<M>>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl<M: ImageClassifier + 'static> Replicas<M> {
    /// Workers on `devices` (autodiff devices, called `names` in messages when given) for
    /// `model`, each with the loss `loss` built on its device, batch norms normalizing as `norm`
    /// says.
    pub(crate) fn new(
        model: &M,
        devices: &[Device],
        names: &[String],
        loss: &CrossEntropyLossConfig,
        norm: ReplicaNorm,
    ) -> Result<Self, ConfigError> {
        let batch_norms = training_batch_norms(model);
        if batch_norms > 0
            && norm == ReplicaNorm::Synchronized
            && !kiln_models::replicas::SYNCHRONIZED_AVAILABLE
        {
            return Err(ConfigError::rule(
                "replica_norm",
                "synchronized batch norm needs kiln's `flex` feature; build with it, or pass \
                 --replica-norm per-replica",
            ));
        }
        let distinct = devices
            .iter()
            .enumerate()
            .all(|(i, d)| devices[..i].iter().all(|e| e != d));
        if !distinct && batch_norms > 0 && training_modules(model, "Dropout") > 0 {
            return Err(ConfigError::rule(
                "devices",
                "the model has batch norm and dropout: replicas sharing one device must run \
                 concurrently (they meet at every batch norm) and would draw dropout masks from \
                 the device's one random stream in whatever order the threads reach it, so the \
                 run could not be reproduced or resumed exactly; train on distinct devices or \
                 on one",
            ));
        }
        let fused = kiln_models::has_fused_kernels;
        let mixed = devices.iter().any(fused) && !devices.iter().all(fused);
        let workers = devices
            .iter()
            .enumerate()
            .map(|(i, device)| {
                let name = names.get(i).cloned();
                let name = name.unwrap_or_else(|| format!("{device:?}"));
                Worker::spawn(device, name, loss, mixed)
            })
            .collect();
        Ok(Self {
            workers,
            concurrent: distinct || batch_norms > 0,
            norm,
            batch_norms,
        })
    }

    /// Forward and backward of one batch (`images` `[batch, c, h, w]` and `targets`
    /// `[batch]` on the main device) split over the workers, each shard's weight in the
    /// batch's mean loss given by `weights` (one per sample: its class weight, or 1), the
    /// loss divided by `group` (gradient accumulation); shard `i` draws from a stream seeded
    /// with `seed + i`.
    pub(crate) fn backward(
        &mut self,
        model: &M,
        images: Tensor<4>,
        targets: Tensor<1, Int>,
        weights: &[f64],
        group: usize,
        seed: u64,
    ) -> Result<BatchGrads, TrainError> {
        let main = images.device();
        initialize_parameters(model);
        let total: f64 = weights.iter().sum();
        let sizes = shard_sizes(weights.len(), self.workers.len());
        let replicas = Arc::new(ReplicaGroup::new(sizes.len()));
        let mut start = 0;
        let mut jobs = Vec::new();
        for (i, len) in sizes.into_iter().enumerate() {
            let range = start..start + len;
            start += len;
            jobs.push(Job {
                model: model.clone(),
                main: main.clone(),
                images: images.clone().slice(range.clone()),
                targets: targets.clone().slice(range.clone()),
                share: weights[range].iter().sum::<f64>() / total,
                group,
                seed: seed.wrapping_add(i as u64),
                replica: Replica::new(replicas.clone(), i, self.norm),
            });
        }
        let n = jobs.len();
        let mut results = Vec::with_capacity(n);
        match self.concurrent {
            true => {
                let mut sent = 0;
                let mut unsent = None;
                for (worker, job) in self.workers.iter().zip(jobs) {
                    if let Err(error) = worker.send(job) {
                        // The replicas already started would wait for this one forever.
                        replicas.abandon(error.to_string());
                        unsent = Some(error);
                        break;
                    }
                    sent += 1;
                }
                let mut lost = None;
                for worker in &mut self.workers[..sent] {
                    match worker.receive() {
                        Ok(result) => results.push(result),
                        Err(error) => {
                            // The others may wait for it: release them, then drain them.
                            replicas.abandon(error.to_string());
                            lost.get_or_insert(error);
                        }
                    }
                }
                if let Some(error) = unsent.or(lost) {
                    return Err(error);
                }
            }
            false => {
                for (worker, job) in self.workers.iter_mut().zip(jobs) {
                    worker.send(job)?;
                    results.push(worker.receive()?);
                }
            }
        }
        let shards = self.check(results)?;
        let mut loss = 0.0;
        let mut logits = Vec::with_capacity(n);
        let mut summed = GradientsAccumulator::new();
        for shard in shards {
            loss += shard.loss;
            logits.push(shard.logits);
            summed.accumulate(model, shard.grads);
        }
        Ok(BatchGrads {
            loss,
            logits: Tensor::cat(logits, 0),
            grads: summed.grads(),
        })
    }

    /// The shards, if every replica finished and met the others at every batch norm: the
    /// first failure (a replica's own before the others' abandoning) otherwise.
    fn check(&self, results: Vec<Done>) -> Result<Vec<Shard>, TrainError> {
        let failure = |i: usize, why: String| TrainError::Worker {
            device: self.workers[i].name.clone(),
            why,
        };
        let mut abandoned = None;
        let mut shards = Vec::with_capacity(results.len());
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(shard) => shards.push(shard),
                Err(Failure::Failed(why)) => return Err(failure(i, why)),
                Err(Failure::Abandoned(why)) => {
                    abandoned.get_or_insert_with(|| failure(i, why));
                }
            }
        }
        if let Some(error) = abandoned {
            return Err(error);
        }
        if let Some(shard) = shards.iter().find(|s| s.batch_norms != self.batch_norms) {
            return Err(ConfigError::rule(
                "devices",
                format!(
                    "the model has {} batch norms that train, but a replica ran {} through \
                     kiln::models::batch_norm: a batch norm applied with Burn's \
                     BatchNorm::forward directly would normalize each shard alone and update \
                     its running statistics once per replica (and one applied twice cannot be \
                     told apart from it); normalize with kiln::models::batch_norm or \
                     ConvNormBlock, each once per forward, or train on one device",
                    self.batch_norms, shard.batch_norms
                ),
            )
            .into());
        }
        Ok(shards)
    }
}

impl<M: ImageClassifier + 'static> Worker<M> {
    /// A worker thread on `device`, called `name` (with Burn's ops only when `reference_ops`).
    fn spawn(
        device: &Device,
        name: String,
        loss: &CrossEntropyLossConfig,
        reference_ops: bool,
    ) -> Self {
        let (jobs, inbox) = channel::<Job<M>>();
        let (outbox, done) = channel::<Done>();
        let loss_fn: CrossEntropyLoss = loss.init(device);
        let on = device.clone();
        let called = name.clone();
        quiet_worker_panics();
        let thread = std::thread::spawn(move || {
            QUIET.set(true);
            for job in inbox {
                let replicas = job.replica.group().clone();
                let index = job.replica.index();
                let run = || run_shard(&on, &loss_fn, job);
                let result = catch_unwind(AssertUnwindSafe(|| match reference_ops {
                    true => kiln_models::with_reference_ops(run),
                    false => run(),
                }));
                if result.is_ok() {
                    // A replica that finished cannot be waited for.
                    replicas.depart(index);
                }
                let result = result.map_err(|payload| {
                    let failure = Failure::of(payload);
                    if let Failure::Failed(why) = &failure {
                        replicas.abandon(format!("a replica on {called} failed: {why}"));
                    }
                    failure
                });
                if outbox.send(result).is_err() {
                    break;
                }
            }
        });
        Worker {
            name,
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        }
    }
}

/// Gives `model`'s lazily initialized parameters their values here, on the main thread. Burn
/// draws a parameter's initial value from its device's random stream on first use, which would
/// otherwise be a worker's fork: after the worker reseeded the device for its shard, racing the
/// other workers (measured: two Flex replicas of a fresh resnet20 started from different weights
/// in every run, 2–10% off one device's loss after an epoch).
fn initialize_parameters<M: Module>(model: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

/// One shard's forward and backward on `device`, as its replica: the model forked onto the
/// device, the shard moved there, its logits and gradients moved back to the main device.
fn run_shard<M: ImageClassifier>(
    device: &Device,
    loss_fn: &CrossEntropyLoss,
    job: Job<M>,
) -> Shard {
    device.seed(job.seed);
    let Job {
        model,
        main,
        images,
        targets,
        share,
        group,
        replica,
        ..
    } = job;
    let model = fork_replica(model, device);
    let (images, targets) = (images.to_device(device), targets.to_device(device));
    with_replica(&replica, || {
        let logits = model.forward(images);
        let loss = loss_fn.forward(logits.clone(), targets);
        let value = loss.clone().into_scalar::<f64>();
        let scaled = loss.mul_scalar(share).div_scalar(group as f64);
        let grads = GradientsParams::from_grads(scaled.backward(), &model);
        Shard {
            loss: value * share,
            logits: logits.detach().to_device(&main),
            grads: grads.to_device(&main, &model),
            batch_norms: replica.layers(),
        }
    })
}

impl Failure {
    /// What a replica's unwinding carried: an abandoned group's reason, or a panic's message.
    fn of(payload: Box<dyn Any + Send>) -> Self {
        if let Some(Abandoned(why)) = payload.downcast_ref::<Abandoned>() {
            return Self::Abandoned(why.clone());
        }
        Self::Failed(panic_message(payload.as_ref()))
    }
}

thread_local! {
    /// Whether this thread's panics are reported as a step's error rather than printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Panics in worker threads print nothing: their message ends the step as
/// [`TrainError::Worker`], which names the device (a remote server gone away makes every
/// operation on its device panic). Other threads' panics go to the hook that was installed.
fn quiet_worker_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.get() {
                previous(info);
            }
        }));
    });
}

/// A panic's message.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
    message.unwrap_or_else(|| "a panic".into())
}

impl<M> Worker<M> {
    fn send(&self, job: Job<M>) -> Result<(), TrainError> {
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        match sent {
            true => Ok(()),
            false => Err(self.failure()),
        }
    }

    fn receive(&mut self) -> Result<Done, TrainError> {
        match self.done.recv() {
            Ok(done) => Ok(done),
            Err(_) => Err(self.failure_joined()),
        }
    }

    fn failure(&self) -> TrainError {
        TrainError::Worker {
            device: self.name.clone(),
            why: "it has stopped".into(),
        }
    }

    /// The worker's panic, once it has ended.
    fn failure_joined(&mut self) -> TrainError {
        let why = match self.thread.take().map(JoinHandle::join) {
            Some(Err(payload)) => panic_message(payload.as_ref()),
            _ => "it stopped".into(),
        };
        TrainError::Worker {
            device: self.name.clone(),
            why,
        }
    }
}

impl<M> Drop for Replicas<M> {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            // Closing the channel ends the worker's loop.
            worker.jobs.take();
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
