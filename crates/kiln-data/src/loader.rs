//! Batches assembled on worker threads while the model computes, delivered in order.
//!
//! [`Loader::run`] takes an epoch's batches of indices (e.g. [`crate::epoch_batches`]) and gives
//! its closure an iterator over them as device tensors, in order, while `workers` threads build
//! the following ones from the `u8` storage ([`Batcher::host_batch`]). Worker `w` builds batches
//! `w, w + workers, …` and keeps at most [`Loader::PREFETCH`] of them ready, so memory stays
//! bounded and the order — hence every result — does not depend on the number of workers. With
//! `workers = 0` batches are built on the calling thread when asked for (PyTorch's
//! `num_workers=0`).

use std::sync::mpsc::{Receiver, sync_channel};

use crate::augment::Augmentation;
use crate::batch::{Batch, Batcher, HostBatch};
use crate::images::ImageDataset;
use crate::mix::Mixing;
use crate::rng::SplitMix64;

/// Builds batches ahead of the consumer on worker threads.
#[derive(Debug, Clone)]
pub struct Loader {
    batcher: Batcher,
    workers: usize,
    augmentation: Augmentation,
    mixing: Option<Mixing>,
    seed: u64,
}

impl Loader {
    /// Batches each worker keeps ready ahead of the consumer.
    pub const PREFETCH: usize = 2;

    /// A loader building batches with `batcher` on `workers` threads (0: on the caller's).
    pub fn new(batcher: Batcher, workers: usize) -> Self {
        Self {
            batcher,
            workers,
            augmentation: Augmentation::NONE,
            mixing: None,
            seed: 0,
        }
    }

    /// The same loader augmenting every image ([`crate::augment`]), the random draws of image
    /// `j` of batch `b` of an epoch coming from a generator seeded by `(seed, epoch, b, j)`.
    pub fn with_augmentation(self, augmentation: Augmentation, seed: u64) -> Self {
        Self {
            augmentation,
            seed,
            ..self
        }
    }

    /// The same loader mixing every batch ([`crate::mix`]: Mixup, CutMix) after augmenting its
    /// images, the draws of batch `b` of an epoch from a generator seeded by
    /// `(seed, epoch, b)`; its batches carry soft targets.
    pub fn with_mixing(self, mixing: Option<Mixing>) -> Self {
        Self { mixing, ..self }
    }

    /// The host batch `b` of an epoch.
    fn build(&self, data: &ImageDataset, indices: &[usize], epoch: u64, b: usize) -> HostBatch {
        if self.augmentation.is_none() && self.mixing.is_none() {
            return self.batcher.host_batch(data, indices);
        }
        let epoch_seed = SplitMix64::for_stream(self.seed, epoch).next_u64();
        let mut host = self
            .batcher
            .augmented_batch(data, indices, &self.augmentation, |j| {
                SplitMix64::for_stream(epoch_seed, ((b as u64) << 32) | j as u64)
            });
        if let Some(mixing) = &self.mixing {
            // Streams 2^32·b + j are the images'; the batch's own is past every image's.
            let mut rng = SplitMix64::for_stream(epoch_seed, ((b as u64) << 32) | 0xffff_ffff);
            let mixed = mixing.apply(
                &mut host.pixels,
                host.dims,
                &host.labels,
                data.num_classes(),
                &mut rng,
            );
            host.labels = mixed.dominant;
            host.soft_targets = Some(mixed.targets);
        }
        host
    }

    /// Runs `f` with an iterator over `batches` of `data` (epoch `epoch`: it seeds the
    /// augmentation), built ahead on the worker threads. When `f` returns — having read every
    /// batch or not — the workers stop.
    pub fn run<'a, R>(
        &'a self,
        data: &'a ImageDataset,
        batches: &'a [Vec<usize>],
        epoch: u64,
        f: impl FnOnce(&mut Batches<'a>) -> R,
    ) -> R {
        self.run_from(data, batches, 0, epoch, f)
    }

    /// [`run`](Self::run) starting at batch `first` (a resumed epoch): the batches before it
    /// are not built, and the ones after it are the same as in a whole epoch.
    pub fn run_from<'a, R>(
        &'a self,
        data: &'a ImageDataset,
        batches: &'a [Vec<usize>],
        first: usize,
        epoch: u64,
        f: impl FnOnce(&mut Batches<'a>) -> R,
    ) -> R {
        let first = first.min(batches.len());
        let workers = self.workers.min(batches.len() - first);
        std::thread::scope(|scope| {
            let receivers = (0..workers)
                .map(|w| {
                    let (tx, rx) = sync_channel(Self::PREFETCH);
                    scope.spawn(move || {
                        let mine = batches.iter().enumerate().skip(first + w);
                        for (b, indices) in mine.step_by(workers) {
                            // The consumer hung up (it stopped early): nothing more to build.
                            if tx.send(self.build(data, indices, epoch, b)).is_err() {
                                break;
                            }
                        }
                    });
                    rx
                })
                .collect();
            // Dropped when `f` returns, before the scope joins the workers: a worker blocked
            // on a full channel then sees the hang-up and ends.
            let mut iter = Batches {
                loader: self,
                epoch,
                data,
                batches,
                receivers,
                first,
                next: first,
            };
            f(&mut iter)
        })
    }
}

/// The batches of one [`Loader::run`], in order: each with the dataset indices it holds.
pub struct Batches<'a> {
    loader: &'a Loader,
    epoch: u64,
    data: &'a ImageDataset,
    batches: &'a [Vec<usize>],
    receivers: Vec<Receiver<HostBatch>>,
    first: usize,
    next: usize,
}

impl<'a> Iterator for Batches<'a> {
    type Item = (Batch, &'a [usize]);

    fn next(&mut self) -> Option<Self::Item> {
        let indices = self.batches.get(self.next)?;
        let host = match self.receivers.len() {
            0 => None,
            n => self.receivers[(self.next - self.first) % n].recv().ok(),
        };
        // A worker only hangs up early by panicking; the batch is then built here rather than
        // lost (the scope re-raises the panic when it ends).
        let host =
            host.unwrap_or_else(|| self.loader.build(self.data, indices, self.epoch, self.next));
        self.next += 1;
        Some((self.loader.batcher.to_device(host), indices))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

#[cfg(test)]
#[path = "tests/loader.rs"]
mod tests;
