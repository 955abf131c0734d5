//! The latest epoch's weights, kept on disk as training goes.

use std::path::PathBuf;

use crate::checkpoint::{CheckpointAction, CheckpointStrategy, Checkpointer};

/// Saves the model (inference form) to its path at the end of every epoch — to a temporary
/// file, then renamed — so a run that stops (a non-finite loss, a crash, a kill) leaves the
/// weights of its last completed epoch, never a half-written file.
pub type LastCheckpoint = Checkpointer<Latest>;

/// The strategy of [`LastCheckpoint`]: every epoch, the same file.
#[derive(Debug, Clone)]
pub struct Latest {
    path: PathBuf,
}

impl LastCheckpoint {
    /// Keeps the latest epoch's weights at `path`.
    pub fn new(path: PathBuf) -> Self {
        Checkpointer::with(Latest { path })
    }
}

impl CheckpointStrategy for Latest {
    fn decide(&mut self, _epoch: usize) -> Vec<CheckpointAction> {
        vec![CheckpointAction::Save(self.path.clone())]
    }
}
