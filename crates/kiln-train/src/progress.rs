//! Progress display: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::callback::{BatchEnd, Callback, DataInfo, TrainInfo};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History};

/// Shows training progress on stdout.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    info: Option<TrainInfo>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(std::io::stdout().is_terminal())
    }
}

impl Progress {
    /// A bar when `interactive`, plain epoch lines otherwise.
    pub fn new(interactive: bool) -> Self {
        Self {
            bar: None,
            interactive,
            info: None,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }
}

fn summary(m: &EpochMetrics) -> String {
    format!(
        "epoch {} {:<5} loss {:.4}  accuracy {:.4}  macro-F1 {:.4}  lr {:.2e}  {:.1}s ({:.0} img/s)",
        m.epoch,
        m.phase,
        m.loss,
        m.accuracy,
        m.macro_f1,
        m.lr,
        m.seconds,
        m.samples as f64 / m.seconds.max(1e-9)
    )
}

impl Callback for Progress {
    fn on_data_loaded(&mut self, d: &DataInfo<'_>) -> Result<(), TrainError> {
        let [train, valid, test] = d.sizes;
        println!("run: {}", d.run_dir.display());
        println!(
            "data: {} from {} ({}); {train} train / {valid} valid / {test} test images",
            d.dataset,
            d.files.dir.display(),
            d.files.source
        );
        if !d.leakage.is_empty() {
            println!("leakage check (exact and near-duplicate images across the splits):");
            for overlap in d.leakage {
                println!("  {}", overlap.summary());
            }
            if d.deduped > 0 {
                println!(
                    "  --dedupe: dropped {} training images that duplicate a validation or test image",
                    d.deduped
                );
            }
        }
        if !d.skipped.is_empty() {
            println!(
                "skipped {} unreadable image file(s) (all listed in {} in the artifact directory):",
                d.skipped.len(),
                crate::run::artifacts::SKIPPED
            );
            for (path, why) in d.skipped.iter().take(10) {
                println!("  {}: {why}", path.display());
            }
            if d.skipped.len() > 10 {
                println!("  … and {} more", d.skipped.len() - 10);
            }
        }
        Ok(())
    }

    fn on_train_start(&mut self, info: &TrainInfo) -> Result<(), TrainError> {
        println!(
            "training on {} images, validating on {}, {} epochs of {} steps",
            info.train_len, info.valid_len, info.epochs, info.steps_per_epoch
        );
        self.info = Some(info.clone());
        Ok(())
    }

    fn on_batch_end(&mut self, b: &BatchEnd<'_>, _history: &History) -> Result<(), TrainError> {
        if !self.interactive {
            return Ok(());
        }
        let steps = self.info.as_ref().map_or(0, |i| i.steps_per_epoch) as u64;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stdout());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_prefix(format!("epoch {}", b.epoch));
        bar.set_position(b.batch as u64 + 1);
        bar.set_message(format!(
            "loss {:.4} acc {:.4}",
            b.running.loss(),
            b.running.accuracy()
        ));
        Ok(())
    }

    fn on_train_phase_end(
        &mut self,
        m: &EpochMetrics,
        _history: &History,
    ) -> Result<(), TrainError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.line(summary(m));
        Ok(())
    }

    fn on_validation_end(
        &mut self,
        m: &EpochMetrics,
        _history: &History,
    ) -> Result<(), TrainError> {
        self.line(summary(m));
        Ok(())
    }
}
