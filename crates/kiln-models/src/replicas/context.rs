//! Which replica the current thread runs, and its batch norms' meeting points.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::ReplicaNorm;
use super::group::{Kind, ReplicaGroup, Tag};
use super::moments::Moments;

/// One replica of a batch split over several: its group, its place in it, and how its batch
/// norms normalize. Cloned into the backward of every batch norm it runs.
#[derive(Clone, Debug)]
pub struct Replica {
    group: Arc<ReplicaGroup>,
    index: usize,
    norm: ReplicaNorm,
    /// Batch norms met in the forward so far.
    layers: Arc<AtomicUsize>,
}

impl Replica {
    /// Replica `index` of `group`, normalizing as `norm` says.
    pub fn new(group: Arc<ReplicaGroup>, index: usize, norm: ReplicaNorm) -> Self {
        Self {
            group,
            index,
            norm,
            layers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many batch norms this replica's forward has run through kiln's batch norm
    /// ([`crate::batch_norm`], the fused blocks): a model with more batch-norm layers than this
    /// has some this replica could not synchronize.
    pub fn layers(&self) -> usize {
        self.layers.load(Ordering::Relaxed)
    }

    /// The group this replica meets in.
    pub fn group(&self) -> &Arc<ReplicaGroup> {
        &self.group
    }

    /// Its place in the group (0 updates the running statistics).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The link of the next batch norm of the forward.
    pub(crate) fn next_layer(&self) -> LayerLink {
        self.layer(self.layers.fetch_add(1, Ordering::Relaxed))
    }

    /// The link of batch norm number `layer` of the forward.
    pub(crate) fn layer(&self, layer: usize) -> LayerLink {
        LayerLink {
            replica: self.clone(),
            layer,
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Replica>> = const { RefCell::new(None) };
}

/// Runs `f` (a replica's forward and backward) as `replica`: every batch norm kiln applies on
/// this thread meanwhile meets the other replicas of its group. A replica whose group is
/// abandoned unwinds out of `f` with an [`Abandoned`] payload (no panic message):
/// catch it with [`std::panic::catch_unwind`].
pub fn with_replica<R>(replica: &Replica, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Replica>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(replica.clone()));
    let _restore = Restore(previous);
    f()
}

/// The replica this thread runs, inside [`with_replica`].
pub(crate) fn current() -> Option<Replica> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The payload a replica unwinds with when its group is abandoned: why.
#[derive(Clone, Debug)]
pub struct Abandoned(pub String);

/// Leaves the replica's forward or backward: its group was abandoned.
fn leave(why: String) -> ! {
    std::panic::resume_unwind(Box::new(Abandoned(why)))
}

/// One batch norm of one replica: where it meets the same layer of the other replicas.
#[derive(Clone, Debug)]
pub(crate) struct LayerLink {
    replica: Replica,
    layer: usize,
}

impl LayerLink {
    /// How this layer normalizes.
    pub fn norm(&self) -> ReplicaNorm {
        self.replica.norm
    }

    /// The number of the layer in the forward (the fused operations carry it).
    pub fn layer(&self) -> usize {
        self.layer
    }

    /// Abandons the group with `why` and leaves this replica's step.
    #[cfg(not(feature = "flex"))]
    pub fn fail(&self, why: String) -> ! {
        self.replica.group.abandon(why.clone());
        leave(why)
    }

    /// Whether this is replica 0, the one that updates the running statistics.
    pub fn updates_running_statistics(&self) -> bool {
        self.replica.index == 0
    }

    fn gather(&self, kind: Kind, channels: usize, values: Vec<f64>) -> Arc<Vec<Vec<f64>>> {
        let tag = Tag {
            kind,
            layer: self.layer,
            channels,
        };
        match self
            .replica
            .group
            .all_gather(self.replica.index, tag, values)
        {
            Ok(all) => all,
            Err(why) => leave(why),
        }
    }

    /// The whole batch's moments per channel, from this replica's: merged in replica order.
    pub fn merge_moments(&self, local: &[Moments]) -> Vec<Moments> {
        let flat = local.iter().flat_map(|m| [m.count, m.mean, m.m2]).collect();
        let all = self.gather(Kind::Moments, local.len(), flat);
        (0..local.len())
            .map(|c| {
                all.iter().fold(Moments::default(), |acc, replica| {
                    let at = |i: usize| replica.get(3 * c + i).copied().unwrap_or(0.0);
                    acc.merge(Moments {
                        count: at(0),
                        mean: at(1),
                        m2: at(2),
                    })
                })
            })
            .collect()
    }

    /// The replicas' per-channel `mean` and `variance`, each replica weighted by its `count`
    /// of values: what the running statistics move towards in [`ReplicaNorm::PerReplica`].
    pub fn average_statistics(&self, count: f64, mean: &[f64], variance: &[f64]) -> [Vec<f64>; 2] {
        let channels = mean.len();
        let mut flat = Vec::with_capacity(1 + 2 * channels);
        flat.push(count);
        flat.extend_from_slice(mean);
        flat.extend_from_slice(variance);
        let all = self.gather(Kind::RunningStatistics, channels, flat);
        let total: f64 = all.iter().map(|r| r.first().copied().unwrap_or(0.0)).sum();
        let average = |offset: usize| -> Vec<f64> {
            (0..channels)
                .map(|c| {
                    all.iter()
                        .map(|r| {
                            let weight = r.first().copied().unwrap_or(0.0);
                            weight * r.get(offset + c).copied().unwrap_or(0.0)
                        })
                        .sum::<f64>()
                        / total
                })
                .collect()
        };
        [average(1), average(1 + channels)]
    }

    /// Per-channel pairs of sums, summed over the replicas in replica order.
    pub fn sum_pairs(&self, local: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let flat = local.iter().flat_map(|&(a, b)| [a, b]).collect();
        let all = self.gather(Kind::GradientSums, local.len(), flat);
        (0..local.len())
            .map(|c| {
                all.iter().fold((0.0, 0.0), |(a, b), replica| {
                    let at = |i: usize| replica.get(2 * c + i).copied().unwrap_or(0.0);
                    (a + at(0), b + at(1))
                })
            })
            .collect()
    }
}
