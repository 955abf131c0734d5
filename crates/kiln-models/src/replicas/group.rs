//! The rendezvous of a batch's replicas: every replica hands in its values, every replica gets
//! everyone's back, in replica order.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// What an exchange carries, so that replicas which reach different exchanges (a model whose
/// replicas took different paths) are stopped instead of mixing unrelated numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag {
    /// What the values are.
    pub kind: Kind,
    /// The batch norm's position in the forward (0 for the first a replica meets).
    pub layer: usize,
    /// Its channels.
    pub channels: usize,
}

/// The kinds of exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Forward: per-channel count, mean and squared deviations, merged into the batch's.
    Moments,
    /// Forward, per-replica mode: per-channel mean and variance, for the running averages.
    RunningStatistics,
    /// Backward: the two per-channel sums the input gradient needs, summed.
    GradientSums,
}

/// The replicas of one batch, meeting at each batch norm (see [`crate::replicas`]).
///
/// A reusable barrier: an exchange completes when all `parties` have handed in their values,
/// and hands every one of them all the values in replica order, so each replica combines them
/// in the same order and gets bit-identical results. [`ReplicaGroup::abandon`] ends every
/// waiting and later exchange, so one failed replica cannot leave the others waiting forever.
#[derive(Debug)]
pub struct ReplicaGroup {
    parties: usize,
    round: Mutex<Round>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Round {
    /// Completed exchanges.
    generation: u64,
    /// The exchange under way (set by its first arrival).
    tag: Option<Tag>,
    /// Each replica's values in the exchange under way.
    slots: Vec<Option<Vec<f64>>>,
    arrived: usize,
    /// Replicas that have finished their step ([`ReplicaGroup::depart`]).
    departed: usize,
    /// The last completed exchange's values, in replica order.
    result: Arc<Vec<Vec<f64>>>,
    /// Why the group was abandoned.
    abandoned: Option<String>,
}

impl ReplicaGroup {
    /// A group of `parties` replicas (at least one).
    pub fn new(parties: usize) -> Self {
        let parties = parties.max(1);
        Self {
            parties,
            round: Mutex::new(Round {
                slots: vec![None; parties],
                ..Round::default()
            }),
            changed: Condvar::new(),
        }
    }

    /// How many replicas meet here.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Ends every exchange now waiting and every later one with `why` (a replica failed).
    pub fn abandon(&self, why: impl Into<String>) {
        let mut round = self.lock();
        round.abandoned.get_or_insert_with(|| why.into());
        self.changed.notify_all();
    }

    /// Replica `index` has finished its step: an exchange other replicas wait at, or reach
    /// later, can never complete, so it abandons the group then.
    pub fn depart(&self, index: usize) {
        let mut round = self.lock();
        round.departed += 1;
        if round.arrived > 0 {
            let why = format!(
                "replica {index} finished its step while others wait at {:?}",
                round.tag
            );
            round.abandoned.get_or_insert(why);
            self.changed.notify_all();
        }
    }

    /// Why the group was abandoned, if it was.
    pub fn abandoned(&self) -> Option<String> {
        self.lock().abandoned.clone()
    }

    /// Hands in replica `index`'s `values` for the exchange `tag` and waits for the others':
    /// everyone's values in replica order, or why the group was abandoned (also when the
    /// replicas reached different exchanges).
    pub(crate) fn all_gather(
        &self,
        index: usize,
        tag: Tag,
        values: Vec<f64>,
    ) -> Result<Arc<Vec<Vec<f64>>>, String> {
        let mut round = self.lock();
        if let Some(why) = &round.abandoned {
            return Err(why.clone());
        }
        if round.departed > 0 {
            let why = format!("replica {index} reached {tag:?} after another finished its step");
            round.abandoned = Some(why.clone());
            self.changed.notify_all();
            return Err(why);
        }
        match round.tag {
            Some(expected) if expected != tag => {
                let why = format!(
                    "the replicas disagree: replica {index} reached {tag:?} while another is at \
                     {expected:?}"
                );
                round.abandoned = Some(why.clone());
                self.changed.notify_all();
                return Err(why);
            }
            _ => round.tag = Some(tag),
        }
        let Some(slot) = round.slots.get_mut(index) else {
            let why = format!("replica {index} is not one of {}", self.parties);
            round.abandoned = Some(why.clone());
            self.changed.notify_all();
            return Err(why);
        };
        *slot = Some(values);
        round.arrived += 1;
        if round.arrived == self.parties {
            let values = round.slots.iter_mut().map(|s| s.take().unwrap_or_default());
            round.result = Arc::new(values.collect());
            round.arrived = 0;
            round.tag = None;
            round.generation += 1;
            self.changed.notify_all();
            return Ok(round.result.clone());
        }
        let generation = round.generation;
        while round.generation == generation && round.abandoned.is_none() {
            round = self
                .changed
                .wait(round)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // The result stays until this replica has read it: the next exchange cannot complete
        // without it.
        match (&round.abandoned, round.generation == generation) {
            (Some(why), true) => Err(why.clone()),
            _ => Ok(round.result.clone()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        // Nothing panics while holding the lock; a poisoned lock's state is still consistent.
        self.round.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
