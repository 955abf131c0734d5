//! Data parallelism over several devices, the way Burn's multi-device training strategy does
//! it (burn-train's `MultiDevice` with the optimizer on the main device): each batch is split
//! into one shard per device, a replica of the model ([`Module::fork`]) runs forward and
//! backward on each in its own persistent worker thread, the gradients are moved to the main
//! device ([`GradientsParams::to_device`]) and summed, and one optimizer step updates the main
//! model, which the next batch forks again.
//!
//! Each shard's mean loss is weighted by its share of the batch (its share of the class weight
//! when the loss is class-weighted), so the summed gradient is the gradient of the batch's mean
//! loss: the same step as on one device, up to float summation order.
//!
//! Models with running statistics (batch normalization) are refused: Burn 0.22's
//! `RunningState`, shared by the replicas, compounds their updates — measured on resnet20 with a
//! learning rate of 0, four batches moved the stem's running mean 1.66× as far with two
//! replicas taking turns, 2.09× with three and 2.37× with Flex and ndarray in threads, instead
//! of as far as one device does ([`has_running_statistics`]).
//!
//! Replicas run concurrently only on distinct devices. When a device appears twice (the CPU
//! backends have one device), the workers take turns: a CPU backend already spreads each
//! operation over every core, and its random stream (dropout) is one per process. Each worker
//! reseeds its device before its shard, so dropout's draws are a function of the batch and
//! the shard either way.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor};
use kiln_models::ImageClassifier;

use crate::error::TrainError;

/// One batch's loss, logits and gradients.
pub(crate) struct BatchGrads {
    /// The batch's mean loss.
    pub loss: f64,
    /// Logits `[batch, classes]` on the main device, detached.
    pub logits: Tensor<2>,
    /// Gradients of `loss / group` on the main device.
    pub grads: GradientsParams,
}

/// Whether `model` holds running statistics (a batch norm's `running_mean` / `running_var`),
/// which data-parallel training cannot keep right (see the module docs).
pub fn has_running_statistics<M: Module>(model: &M) -> bool {
    #[derive(Default)]
    struct Find {
        inside: Vec<String>,
        found: bool,
    }
    impl ModuleVisitor for Find {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.inside.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.inside.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.found |= self
                .inside
                .last()
                .is_some_and(|n| n == "running_mean" || n == "running_var");
        }
    }
    let mut find = Find::default();
    model.visit(&mut find);
    find.found
}

/// Shard sizes of a batch of `n` over `k` devices: as equal as possible, the first ones larger.
pub(crate) fn shard_sizes(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n).max(1);
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

/// A shard's work: the replica, its images `[n, c, h, w]` and targets `[n]` on its device, its
/// share of the batch's loss, the accumulation group's size and the seed of its random stream.
struct Job<M> {
    replica: M,
    images: Tensor<4>,
    targets: Tensor<1, Int>,
    share: f64,
    group: usize,
    seed: u64,
}

/// A shard's result: its share-weighted loss, detached logits, gradients, and the replica.
type Done<M> = (f64, Tensor<2>, GradientsParams, M);

/// One worker thread per device, kept for the whole run.
pub(crate) struct Replicas<M> {
    workers: Vec<Worker<M>>,
    /// Whether every device is a different one (then the shards run concurrently).
    concurrent: bool,
}

struct Worker<M> {
    device: Device,
    jobs: Option<Sender<Job<M>>>,
    done: Receiver<Done<M>>,
    thread: Option<JoinHandle<()>>,
}

impl<M: ImageClassifier + 'static> Replicas<M> {
    /// Workers on `devices` (autodiff devices), each with the loss `loss` built on its device.
    pub(crate) fn new(devices: &[Device], loss: &CrossEntropyLossConfig) -> Self {
        let workers = devices
            .iter()
            .map(|device| {
                let (jobs, inbox) = channel::<Job<M>>();
                let (outbox, done) = channel::<Done<M>>();
                let loss_fn: CrossEntropyLoss = loss.init(device);
                let on = device.clone();
                let thread = std::thread::spawn(move || {
                    for job in inbox {
                        on.seed(job.seed);
                        let logits = job.replica.forward(job.images);
                        let loss = loss_fn.forward(logits.clone(), job.targets);
                        let value = loss.clone().into_scalar::<f64>();
                        let scaled = loss.mul_scalar(job.share).div_scalar(job.group as f64);
                        let grads = GradientsParams::from_grads(scaled.backward(), &job.replica);
                        let result = (value * job.share, logits.detach(), grads, job.replica);
                        if outbox.send(result).is_err() {
                            break;
                        }
                    }
                });
                Worker {
                    device: device.clone(),
                    jobs: Some(jobs),
                    done,
                    thread: Some(thread),
                }
            })
            .collect();
        let concurrent = devices
            .iter()
            .enumerate()
            .all(|(i, d)| devices[..i].iter().all(|e| e != d));
        Self {
            workers,
            concurrent,
        }
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
        let total: f64 = weights.iter().sum();
        let mut start = 0;
        let mut jobs = Vec::new();
        for (i, len) in shard_sizes(weights.len(), self.workers.len())
            .into_iter()
            .enumerate()
        {
            let range = start..start + len;
            start += len;
            let device = &self.workers[i].device;
            jobs.push(Job {
                replica: model.clone().fork(device),
                images: images.clone().slice(range.clone()).to_device(device),
                targets: targets.clone().slice(range.clone()).to_device(device),
                share: weights[range].iter().sum::<f64>() / total,
                group,
                seed: seed.wrapping_add(i as u64),
            });
        }
        let n = jobs.len();
        let mut results = Vec::with_capacity(n);
        match self.concurrent {
            true => {
                for (worker, job) in self.workers.iter().zip(jobs) {
                    worker.send(job)?;
                }
                for worker in &mut self.workers[..n] {
                    results.push(worker.receive()?);
                }
            }
            false => {
                for (worker, job) in self.workers.iter_mut().zip(jobs) {
                    worker.send(job)?;
                    results.push(worker.receive()?);
                }
            }
        }
        let mut loss = 0.0;
        let mut logits = Vec::with_capacity(n);
        let mut summed = GradientsAccumulator::new();
        for (value, shard_logits, grads, replica) in results {
            loss += value;
            logits.push(shard_logits.to_device(&main));
            summed.accumulate(model, grads.to_device(&main, &replica));
        }
        Ok(BatchGrads {
            loss,
            logits: Tensor::cat(logits, 0),
            grads: summed.grads(),
        })
    }
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

    fn receive(&mut self) -> Result<Done<M>, TrainError> {
        match self.done.recv() {
            Ok(done) => Ok(done),
            Err(_) => Err(self.failure_joined()),
        }
    }

    fn failure(&self) -> TrainError {
        TrainError::Worker {
            device: format!("{:?}", self.device),
            why: "it has stopped".into(),
        }
    }

    /// The worker's panic, once it has ended.
    fn failure_joined(&mut self) -> TrainError {
        let why = match self.thread.take().map(JoinHandle::join) {
            Some(Err(payload)) => payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into()),
            _ => "it stopped".into(),
        };
        TrainError::Worker {
            device: format!("{:?}", self.device),
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
