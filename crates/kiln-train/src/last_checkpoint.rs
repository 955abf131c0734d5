//! The latest epoch's weights, kept on disk as training goes.

use std::path::PathBuf;

use crate::callback::{Callback, ModelSnapshot};
use crate::error::TrainError;
use crate::history::History;

/// Saves the model (inference form) to `path` at the end of every epoch — to a temporary file,
/// then renamed — so a run that stops (a non-finite loss, a crash, a kill) leaves the weights
/// of its last completed epoch, never a half-written file.
#[derive(Debug, Clone)]
pub struct LastCheckpoint {
    path: PathBuf,
}

impl LastCheckpoint {
    /// Keeps the latest epoch's weights at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl Callback for LastCheckpoint {
    fn on_epoch_end(
        &mut self,
        _history: &History,
        model: &dyn ModelSnapshot,
    ) -> Result<(), TrainError> {
        model.save(&self.path)
    }
}
