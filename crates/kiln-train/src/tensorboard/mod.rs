//! TensorBoard event files in `<run>/tensorboard/`, written by the [`TensorBoard`] callback:
//! `tensorboard --logdir artifacts` shows every run's curves side by side.
//!
//! | tag | step | what |
//! |---|---|---|
//! | `step/loss`, `step/lr` | optimizer steps taken (1, 2, …) | mean loss of the step's batches, its learning rate |
//! | `train/C`, `valid/C` | epoch (1-based) | every column `C` of `metrics.csv` |
//! | `valid/confusion_matrix`, `valid/per_class` | epoch | the validation heatmap and per-class bars (PNG) |
//! | `config` | 0 | the run's `config.json` (text) |
//! | `test/accuracy`, `test/macro_f1`, `test/report` | last epoch | the test split's figures and classification report |
//!
//! A resumed run rewrites the events of the steps and epochs it keeps into a new file and
//! removes the old files, so that no tag has two values at one step.

mod event;
mod record;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_eval::plot::{ConfusionHeatmap, Figure, PerClassBars, png_bytes};
use kiln_eval::{ClassificationReport, MetricSpec, ZeroDivision};

pub use event::{Event, Kind, Value, What};
pub use record::{masked_crc32c, read_events, read_records, write_record};

use crate::callback::{BatchEnd, Callback, Resumed, TrainInfo};
use crate::error::TrainError;
use crate::history::{EpochMetrics, History, Phase};

/// An event file being written: one record per event, flushed as it is written, so that a
/// killed run keeps every event before the last.
#[derive(Debug)]
pub struct EventFile {
    path: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl EventFile {
    /// A new file in `dir` (created if needed), named as TensorFlow names them
    /// (`events.out.tfevents.<seconds>.<host>.<pid>.<n>`), starting with the file version.
    pub fn create(dir: &Path) -> Result<Self, TrainError> {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default();
        let host: String = (host.trim().chars())
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let host = if host.is_empty() { "kiln".into() } else { host };
        let name = format!(
            "events.out.tfevents.{}.{host}.{}.{n}",
            now() as u64,
            std::process::id()
        );
        let path = dir.join(name);
        let file = std::fs::File::create_new(&path).map_err(|e| TrainError::artifact(&path, e))?;
        let mut this = Self {
            path,
            out: BufWriter::new(file),
        };
        this.write(&Event::file_version(now()))?;
        Ok(this)
    }

    /// Appends `event` and flushes it.
    pub fn write(&mut self, event: &Event) -> Result<(), TrainError> {
        record::write_record(&mut self.out, event)
            .and_then(|()| self.out.flush())
            .map_err(|e| TrainError::artifact(&self.path, e))
    }

    /// Appends one value at `step`, stamped now.
    pub fn add(&mut self, step: usize, value: Value) -> Result<(), TrainError> {
        self.write(&Event::value(now(), step as i64, value))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The event files of `dir` (names containing `tfevents`), sorted by name; none when the
/// directory does not exist.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::artifact(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| TrainError::artifact(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.contains("tfevents")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Writes the run's TensorBoard events ([module docs](self)) into one directory.
#[derive(Debug)]
pub struct TensorBoard {
    dir: PathBuf,
    class_names: Vec<String>,
    extra: Vec<MetricSpec>,
    accumulate: usize,
    /// Batches per epoch: the last ends the epoch's last (maybe shorter) group.
    batches: usize,
    config: String,
    file: Option<EventFile>,
    /// From before a resume: the events kept, and the files they came from.
    kept: Vec<Event>,
    replaced: Vec<PathBuf>,
    step: StepLoss,
}

/// The batches of the optimizer step under way.
#[derive(Debug, Default)]
struct StepLoss {
    step: usize,
    loss_sum: f64,
    batches: usize,
    lr: f64,
}

impl TensorBoard {
    /// Events into `dir` for a run over `class_names` with the `extra` metric columns,
    /// `accumulate` batches per optimizer step, and `config` (the run's `config.json` text)
    /// shown as text.
    pub fn new(
        dir: &Path,
        class_names: &[String],
        extra: Vec<MetricSpec>,
        accumulate: usize,
        config: &str,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            class_names: class_names.to_vec(),
            extra,
            accumulate: accumulate.max(1),
            batches: 0,
            config: code_block(config),
            file: None,
            kept: Vec::new(),
            replaced: Vec::new(),
            step: StepLoss::default(),
        }
    }

    fn add(&mut self, step: usize, value: Value) -> Result<(), TrainError> {
        match self.file.as_mut() {
            Some(file) => file.add(step, value),
            None => Ok(()),
        }
    }

    /// Writes the finished optimizer step's loss and rate at step `n + 1` (steps taken).
    fn flush_step(&mut self) -> Result<(), TrainError> {
        let s = std::mem::take(&mut self.step);
        if s.batches == 0 {
            return Ok(());
        }
        let loss = (s.loss_sum / s.batches as f64) as f32;
        self.add(s.step + 1, Value::scalar("step/loss", loss))?;
        self.add(s.step + 1, Value::scalar("step/lr", s.lr as f32))
    }

    fn images(&mut self, m: &EpochMetrics) -> Result<(), TrainError> {
        let labels: Vec<usize> = (0..m.confusion.num_classes()).collect();
        let names = Some(self.class_names.as_slice());
        let report =
            ClassificationReport::new(&m.confusion, Some(&labels), names, ZeroDivision::Zero)?;
        let tag = |name: &str| format!("{}/{name}", m.phase);
        let path = self
            .file
            .as_ref()
            .map_or(self.dir.clone(), |f| f.path.clone());
        let heatmap = ConfusionHeatmap::from_report(&report);
        let heatmap = image(&path, &tag("confusion_matrix"), &heatmap)?;
        self.add(m.epoch, heatmap)?;
        let bars = image(
            &path,
            &tag("per_class"),
            &PerClassBars::from_report(&report),
        )?;
        self.add(m.epoch, bars)
    }
}

/// `figure` as an image value for the event file `path`.
fn image(path: &Path, tag: &str, figure: &impl Figure) -> Result<Value, TrainError> {
    let png = png_bytes(figure).map_err(|e| TrainError::artifact(path, format!("{tag}: {e}")))?;
    Ok(Value::png(tag, png, figure.size()))
}

/// `text` as a Markdown code block (indented), shown as written.
fn code_block(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether an event written before a resume stays: step values of the steps taken, epoch
/// values of the epochs finished, the configuration; never the test figures (written again).
fn kept_on_resume(event: &Event, resumed: &Resumed<'_>) -> bool {
    let step = usize::try_from(event.step).unwrap_or(0);
    match event.tag() {
        None => false,
        Some("config") => true,
        Some(tag) if tag.starts_with("step/") => step <= resumed.step,
        Some(tag) if tag.starts_with("test/") => false,
        Some(_) => step < resumed.epoch,
    }
}

impl Callback for TensorBoard {
    /// Reads the events written before; the ones kept are rewritten at the start. A file
    /// damaged in the middle keeps the events before the damage (with a warning on stderr).
    fn on_resume(&mut self, resumed: &Resumed<'_>) -> Result<(), TrainError> {
        self.replaced = event_files(&self.dir)?;
        let mut seen = std::collections::HashSet::new();
        for path in &self.replaced {
            let (events, damage) = record::read_records(path)?;
            if let Some(damage) = damage {
                eprintln!("warning: {damage}; the TensorBoard events after it are dropped");
            }
            for event in events {
                let key = (event.tag().map(str::to_string), event.step);
                if kept_on_resume(&event, resumed) && seen.insert(key) {
                    self.kept.push(event);
                }
            }
        }
        Ok(())
    }

    fn on_train_start(&mut self, info: &TrainInfo) -> Result<(), TrainError> {
        self.batches = info.steps_per_epoch;
        let mut file = EventFile::create(&self.dir)?;
        let kept = std::mem::take(&mut self.kept);
        for event in &kept {
            file.write(event)?;
        }
        for old in std::mem::take(&mut self.replaced) {
            std::fs::remove_file(&old).map_err(|e| TrainError::artifact(&old, e))?;
        }
        self.file = Some(file);
        if !kept.iter().any(|e| e.tag() == Some("config")) {
            let config = Value::text("config", &self.config);
            self.add(0, config)?;
        }
        Ok(())
    }

    fn on_batch_end(&mut self, b: &BatchEnd<'_>, _history: &History) -> Result<(), TrainError> {
        if self.step.batches > 0 && self.step.step != b.step {
            self.flush_step()?;
        }
        self.step.step = b.step;
        self.step.loss_sum += b.loss;
        self.step.batches += 1;
        self.step.lr = b.lr;
        // A full group, or the epoch's last batch, ends the step (Ctrl-C may stop right after).
        match self.step.batches >= self.accumulate || b.batch + 1 == self.batches {
            true => self.flush_step(),
            false => Ok(()),
        }
    }

    fn on_train_phase_end(&mut self, _m: &EpochMetrics, _h: &History) -> Result<(), TrainError> {
        self.flush_step()
    }

    fn on_phase_end(&mut self, m: &EpochMetrics, _history: &History) -> Result<(), TrainError> {
        let fixed = [
            ("loss", m.loss),
            ("accuracy", m.accuracy),
            ("macro_f1", m.macro_f1),
            ("lr", m.lr),
            ("seconds", m.seconds),
        ];
        // An extra metric of a fixed column's name (`macro_f1`) is that column again.
        let extra = (self.extra.iter())
            .filter(|s| !fixed.iter().any(|(name, _)| *name == s.name))
            .map(|s| (s.name.as_str(), s.compute(&m.confusion)));
        let values: Vec<Value> = (fixed.into_iter().chain(extra))
            .map(|(name, v)| Value::scalar(&format!("{}/{name}", m.phase), v as f32))
            .collect();
        for value in values {
            self.add(m.epoch, value)?;
        }
        match m.phase {
            Phase::Valid => self.images(m),
            Phase::Train => Ok(()),
        }
    }
}

/// Writes the test split's accuracy, macro-F1 and classification report (as text) at step
/// `epoch` into a new event file in `dir`.
pub fn write_test_summary(
    dir: &Path,
    report: &ClassificationReport,
    epoch: usize,
) -> Result<(), TrainError> {
    let mut values = Vec::new();
    // Micro-averaged F1 is the accuracy when the report covers every label present.
    if report.micro_is_accuracy {
        values.push(Value::scalar("test/accuracy", report.micro.f1 as f32));
    }
    values.push(Value::scalar("test/macro_f1", report.macro_avg.f1 as f32));
    values.push(Value::text("test/report", &code_block(&report.to_text(4))));
    let mut file = EventFile::create(dir)?;
    values.into_iter().try_for_each(|v| file.add(epoch, v))
}

#[cfg(test)]
#[path = "../tests/tensorboard.rs"]
mod tests;
