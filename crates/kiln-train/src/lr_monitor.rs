//! `lr.csv`: the learning rate of every optimizer step (Lightning's `LearningRateMonitor` with
//! `logging_interval="step"`), to see a warm-up or a schedule's shape within epochs.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::callback::{BatchEnd, Callback, Resumed, TrainInfo};
use crate::error::TrainError;
use crate::history::History;

/// The header of `lr.csv`: the step, the epoch and first batch of the step, the rate.
pub const LR_CSV_HEADER: &str = "step,epoch,batch,lr";

/// Writes `lr.csv`, one row per optimizer step, each flushed as it is written.
#[derive(Debug)]
pub struct LrMonitor {
    path: PathBuf,
    file: Option<BufWriter<std::fs::File>>,
    /// Rows kept from before a resume.
    earlier: String,
    last_step: Option<usize>,
}

impl LrMonitor {
    /// A monitor writing `path` when training starts.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            file: None,
            earlier: String::new(),
            last_step: None,
        }
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
    ) -> Result<(), TrainError> {
        match self.file.as_mut() {
            Some(file) => f(file).map_err(|e| TrainError::artifact(&self.path, e)),
            None => Ok(()),
        }
    }
}

impl Callback for LrMonitor {
    /// Keeps the rows of the steps taken before the saved state (a killed run may have logged
    /// a few more, which the resumed run logs again).
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(TrainError::artifact(&self.path, e)),
        };
        self.earlier = text
            .lines()
            .skip(1)
            .filter(|row| {
                let step = row.split(',').next().and_then(|s| s.parse::<usize>().ok());
                step.is_some_and(|s| s < resumed.step)
            })
            .map(|row| format!("{row}\n"))
            .collect();
        Ok(())
    }

    fn on_train_start(&mut self, _info: &TrainInfo) -> Result<(), TrainError> {
        let file =
            std::fs::File::create(&self.path).map_err(|e| TrainError::artifact(&self.path, e))?;
        self.file = Some(BufWriter::new(file));
        let earlier = std::mem::take(&mut self.earlier);
        self.write(|f| write!(f, "{LR_CSV_HEADER}\n{earlier}").and_then(|()| f.flush()))
    }

    fn on_batch_end(&mut self, b: &BatchEnd<'_>, _history: &History) -> Result<(), TrainError> {
        // Every batch of an accumulation group reports the group's step: log it once.
        if self.last_step.is_some_and(|s| s == b.step) {
            return Ok(());
        }
        self.last_step = Some(b.step);
        let (step, epoch, batch, lr) = (b.step, b.epoch, b.batch, b.lr);
        // Flushed at once: a mid-epoch training state saved after this step must find the row
        // on disk, whatever ends the process next.
        self.write(|f| writeln!(f, "{step},{epoch},{batch},{lr}").and_then(|()| f.flush()))
    }
}
