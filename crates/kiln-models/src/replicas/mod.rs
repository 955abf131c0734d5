//! Batch norm when one batch is split over replicas of a model (data-parallel training).
//!
//! A batch norm normalizes with its batch's statistics, so a batch split into shards that each
//! normalize on their own is not the batch normalized whole, and replicas that each update the
//! running statistics update them once per replica instead of once per batch. The trainer runs
//! each replica's forward and backward inside [`with_replica`]; there, every batch norm kiln
//! applies ([`crate::batch_norm`], the fused Flex blocks, every built-in model) meets the same
//! layer of the other replicas at their [`ReplicaGroup`]:
//!
//! - [`ReplicaNorm::Synchronized`] (PyTorch's `SyncBatchNorm`): each replica's per-channel
//!   count, mean and sum of squared deviations are merged (Chan et al.'s formula, in replica
//!   order) and every shard is normalized with the whole batch's statistics; in the backward,
//!   the two per-channel sums the input gradient needs are summed over the replicas. The step
//!   equals one device's on the whole batch, up to float summation order.
//! - [`ReplicaNorm::PerReplica`] (plain DDP): each shard normalizes with its own statistics.
//!
//! Either way the running statistics are updated once per batch (as on one device), by replica
//! 0: towards the whole batch's statistics, or towards the replicas' average weighted by shard
//! size.
//!
//! What travels between replicas is per-channel numbers through host memory: synchronized,
//! three per channel forward and two backward; per replica, a mean and a variance per channel
//! and a count forward. Every replica must run the same layers in the same order; replicas that
//! reach different exchanges, or one that finishes its step while another waits
//! ([`ReplicaGroup::depart`]), abandon the group instead of mixing numbers or waiting forever.

// Without `flex` the synchronized merge has no operation to run in: its helpers go unused.
#![cfg_attr(not(feature = "flex"), allow(dead_code, unused_imports))]

mod batch_norm;
mod context;
mod group;
pub(crate) mod moments;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use batch_norm::batch_norm;
pub(crate) use batch_norm::update_running;
pub use context::{Abandoned, Replica, with_replica};
pub(crate) use context::{LayerLink, current};
pub use group::ReplicaGroup;

/// How batch norm normalizes when a batch is split over replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicaNorm {
    /// With the whole batch's statistics (PyTorch's `SyncBatchNorm`): the same step as on one
    /// device.
    #[default]
    Synchronized,
    /// With each shard's own statistics (plain DDP); the running statistics move towards the
    /// replicas' average.
    PerReplica,
}

impl ReplicaNorm {
    /// The names [`FromStr`] takes, for messages.
    pub const NAMES: [&str; 2] = ["synchronized", "per-replica"];
}

impl fmt::Display for ReplicaNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Synchronized => Self::NAMES[0],
            Self::PerReplica => Self::NAMES[1],
        })
    }
}

impl FromStr for ReplicaNorm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "synchronized" => Ok(Self::Synchronized),
            "per-replica" => Ok(Self::PerReplica),
            other => Err(format!(
                "`{other}` is not a replica norm (one of: {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// Whether this build can synchronize batch norm across replicas: the merge runs on the host
/// through a Flex operation (feature `flex`).
pub const SYNCHRONIZED_AVAILABLE: bool = cfg!(feature = "flex");

/// `module` forked onto `device` for a replica (as [`Module::fork`](burn::module::Module::fork):
/// parameters moved and detached, those that train still requiring gradients), except its
/// batch norms' running statistics, which stay where they are.
///
/// A replica never reads them (it normalizes with batch statistics), and replica 0 updates them
/// where they live ([`batch_norm`]). Burn's `RunningState` is one value shared by every clone of
/// the module, which `fork` moves: forking the replicas would carry it from device to device —
/// from one remote server straight to the next, which then need to reach each other, and a
/// restarted server would be asked for a value it never held.
pub fn fork_replica<M: burn::module::Module>(module: M, device: &burn::tensor::Device) -> M {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::{Bool, Int, Tensor};

    struct Fork<'a> {
        device: &'a burn::tensor::Device,
        path: Vec<String>,
    }
    impl ModuleMapper for Fork<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.into());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let running = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            match running {
                true => param,
                false => param.fork(self.device),
            }
        }
        fn map_int<const D: usize>(
            &mut self,
            param: Param<Tensor<D, Int>>,
        ) -> Param<Tensor<D, Int>> {
            param.fork(self.device)
        }
        fn map_bool<const D: usize>(
            &mut self,
            param: Param<Tensor<D, Bool>>,
        ) -> Param<Tensor<D, Bool>> {
            param.fork(self.device)
        }
    }
    module.map(&mut Fork {
        device,
        path: Vec::new(),
    })
}

/// How many batch norms of `module` train (are not frozen): in a data-parallel step, every one
/// of them must run through [`batch_norm`] (as all of kiln's models and blocks do), which
/// [`Replica::layers`] counts.
pub fn training_batch_norms<M: burn::module::Module>(module: &M) -> usize {
    training_modules(module, "BatchNorm")
}

/// How many modules of Burn type `kind` (`"BatchNorm"`, `"Dropout"`) in `module` have their
/// training behaviour enabled (are not frozen).
pub fn training_modules<M: burn::module::Module>(module: &M, kind: &str) -> usize {
    use burn::module::{Flag, ModuleVisitor, Param};

    struct Count {
        container: String,
        path: Vec<(String, String)>,
        training: usize,
    }
    impl ModuleVisitor for Count {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.path.push((name.into(), container_type.into()));
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_flag(&mut self, flag: &Param<Flag>) {
            let counted = self.path.last().is_some_and(|(name, container)| {
                name == "training" && *container == self.container
            });
            if counted && flag.val().is_enabled() {
                self.training += 1;
            }
        }
    }
    let mut count = Count {
        container: format!("Struct:{kind}"),
        path: Vec::new(),
        training: 0,
    };
    module.visit(&mut count);
    count.training
}
