//! A whole run: data → model → training → test evaluation → artifacts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::Device;
use kiln_data::DatasetFiles;
use kiln_eval::{ClassificationReport, Predictions};
use kiln_models::{Architecture, ImportReport, freeze_backbone, import_weights};

use crate::best_checkpoint::BestCheckpoint;
use crate::callback::{Callback, DataInfo};
use crate::class_weights::ClassWeights;
use crate::config::RunConfig;
use crate::curves_plot::CurvesPlot;
use crate::early_stopping::EarlyStopping;
use crate::epoch_checkpoints::EpochCheckpoints;
use crate::error::TrainError;
use crate::plan::ConfigError;
use crate::fitting::{curve_of, run_diagnostics};
use crate::history::History;
use crate::last_checkpoint::LastCheckpoint;
use crate::lr_monitor::LrMonitor;
use crate::metrics_csv::MetricsCsv;
use crate::metrics_jsonl::MetricsJsonl;
use crate::split_eval::{EvalSplit, SplitOutputs, SplitReport, Splits, report_split};
use crate::trainer::{FitOptions, Fitted, fit};
use crate::training_state::{STATE_FILE, TrainingState};

/// File names inside the artifact directory.
pub mod artifacts {
    /// The resolved [`RunConfig`](crate::RunConfig), JSON.
    pub const CONFIG: &str = "config.json";
    /// Per-epoch metrics.
    pub const METRICS: &str = "metrics.csv";
    /// The trained weights (burnpack).
    pub const MODEL: &str = "model.bpk";
    /// Test-split classification report (scikit-learn `output_dict` layout + extras).
    pub const EVAL: &str = "eval.json";
    /// Test-split per-sample predictions.
    pub const PREDICTIONS: &str = "predictions.csv";
    /// The best epoch's weights by the monitored metric (with `save_best`).
    pub const BEST_MODEL: &str = "model-best.bpk";
    /// The latest completed epoch's weights, rewritten every epoch.
    pub const LAST_MODEL: &str = "model-last.bpk";
    /// [`METRICS`] as JSON lines.
    pub const METRICS_JSONL: &str = "metrics.jsonl";
    /// Image files left out as unreadable, one `path<TAB>why` per line (only when any were).
    pub const SKIPPED: &str = "skipped.txt";
    /// The leakage check of the splits (with `leakage_check`): every duplicate found.
    pub const LEAKAGE: &str = "leakage.json";
    /// The resumable training state ([`crate::training_state`]), a directory.
    pub const TRAINING_STATE: &str = "training-state";
    /// The kept epochs' weights (`keep_checkpoints`), a directory of `epoch-NNN.bpk`.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// The learning rate of every optimizer step.
    pub const LR: &str = "lr.csv";
    /// Loss, accuracy, the monitored metric and the learning rate by epoch (and `.svg`).
    pub const CURVES_PNG: &str = "training_curves.png";
}

/// How [`run_with`] starts and stops.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue the run whose state is in the artifact directory (`kiln train --resume`)
    /// instead of starting afresh.
    pub resume: bool,
    /// Set (by a Ctrl-C handler) to stop after the current optimizer step, saving the state
    /// ([`TrainError::Interrupted`]).
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The devices of a data-parallel run (`devices` of them, the first being the
    /// run's device); empty for one device.
    pub devices: Vec<Device>,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Where the dataset's files were found.
    pub files: DatasetFiles,
    /// Images trained on, validated on and tested on.
    pub sizes: [usize; 3],
    /// Every epoch's metrics.
    pub history: History,
    /// The test-split report.
    pub report: ClassificationReport,
    /// The test split's per-sample probabilities.
    pub predictions: Predictions,
    /// The artifact directory.
    pub artifact_dir: PathBuf,
    /// Why training stopped before the last epoch, if it did.
    pub stopped_early: Option<String>,
    /// What importing the pretrained weights did, if the run started from any.
    pub import: Option<ImportReport>,
}

/// Runs `config` on `device` (a plain device: autodiff is enabled for training internally).
/// `callbacks` come after the built-in `metrics.csv` and `metrics.jsonl` writers and before
/// the `model-last.bpk` checkpoint.
pub fn run<A: Architecture>(
    config: &RunConfig<A>,
    device: &Device,
    callbacks: Vec<Box<dyn Callback>>,
) -> Result<RunOutcome, TrainError> {
    run_with(config, device, callbacks, &RunOptions::default())
}

/// [`run`], resumable and interruptible: the training state is kept in
/// [`artifacts::TRAINING_STATE`] of the artifact directory, and `options.resume` continues from it
/// — to the same metrics and weights as an uninterrupted run (on the CPU backends).
pub fn run_with<A: Architecture>(
    config: &RunConfig<A>,
    device: &Device,
    mut callbacks: Vec<Box<dyn Callback>>,
    options: &RunOptions,
) -> Result<RunOutcome, TrainError> {
    // Every setting is checked before anything is read or written.
    let plan = config.plan()?;
    let wanted = config.devices;
    if wanted > 1 && options.devices.len() != wanted {
        return Err(ConfigError::rule(
            "devices",
            format!(
                "the run trains on {wanted} devices but {} were given",
                options.devices.len()
            ),
        )
        .into());
    }
    let dir = &config.artifact_dir;
    let checkpoint_dir = dir.join(artifacts::TRAINING_STATE);
    let resume = match options.resume {
        true => Some(TrainingState::read(&checkpoint_dir)?.ok_or_else(|| {
            TrainError::artifact(
                checkpoint_dir.join(STATE_FILE),
                "no training state to resume (the run saved none: it ended before its first epoch?)",
            )
        })?),
        false => None,
    };
    let Splits {
        dataset,
        class_names,
        normalization: norm,
        skipped,
        leakage,
        deduped,
        files,
        train,
        valid,
        test,
        valid_len,
    } = Splits::load_checked(config, config.leakage_check)?;
    let sizes = [train.len(), valid.len(), test.len()];
    let name = dataset.name();
    let info = DataInfo {
        dataset: &name,
        files: &files,
        sizes,
        skipped: &skipped,
        leakage: &leakage,
        deduped,
    };
    let extra = plan.metrics;
    let monitor = plan.monitor;
    // Balanced class weights become the numbers used, recorded in config.json.
    let mut training = config.training.clone();
    if let Some(w) = &training.class_weights {
        training.class_weights = Some(ClassWeights::Values(w.resolve(&train.class_counts())?));
    }
    for cb in callbacks.iter_mut() {
        cb.on_data_loaded(&info)?;
    }

    device.seed(config.training.seed);
    let mut model = config.model.init(&device.clone().autodiff());
    let mut import = None;
    if let Some(state) = &resume {
        // The saved weights carry their parameter ids, which key the optimizer's state.
        let frozen = config
            .pretrained
            .as_ref()
            .is_some_and(|p| p.freeze_backbone);
        if frozen {
            model = freeze_backbone(model, config.model.head());
        }
        let path = state.model_path(&checkpoint_dir);
        model = model
            .try_load_file(&path)
            .map_err(|e| TrainError::artifact(&path, e))?;
    } else if let Some(pretrained) = &config.pretrained {
        let (loaded, report) = import_weights(&config.model, model, &pretrained.weights)?;
        model = match pretrained.freeze_backbone {
            true => freeze_backbone(loaded, config.model.head()),
            false => loaded,
        };
        import = Some(report);
    }

    // Only now touch the artifact directory: a run that cannot start leaves it as it was, and
    // one that starts leaves no outputs of an earlier run beside its own (a resumed run keeps
    // its checkpoints).
    std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
    let kept_on_resume = [artifacts::BEST_MODEL, artifacts::LAST_MODEL];
    for stale in [artifacts::TRAINING_STATE, artifacts::CHECKPOINTS] {
        let path = dir.join(stale);
        if resume.is_none() && path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| TrainError::artifact(&path, e))?;
        }
    }
    for stale in [
        artifacts::MODEL,
        artifacts::BEST_MODEL,
        artifacts::LAST_MODEL,
        artifacts::EVAL,
        artifacts::PREDICTIONS,
        artifacts::SKIPPED,
        artifacts::LEAKAGE,
    ]
    .into_iter()
    .filter(|f| resume.is_none() || !kept_on_resume.contains(f))
    {
        let path = dir.join(stale);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TrainError::artifact(&path, e));
            }
            _ => {}
        }
    }
    let mut resolved = RunConfig {
        dataset,
        valid_size: Some(valid_len),
        training: training.clone(),
        ..config.clone()
    };
    write_json(&dir.join(artifacts::CONFIG), &resolved)?;
    if !leakage.is_empty() {
        let report = serde_json::json!({ "overlaps": leakage, "deduped": deduped });
        write_json(&dir.join(artifacts::LEAKAGE), &report)?;
    }
    if !skipped.is_empty() {
        let path = dir.join(artifacts::SKIPPED);
        let lines: String = skipped
            .iter()
            .map(|(file, why)| format!("{}\t{why}\n", file.display()))
            .collect();
        std::fs::write(&path, lines).map_err(|e| TrainError::artifact(&path, e))?;
    }

    let jsonl = MetricsJsonl::create(&dir.join(artifacts::METRICS_JSONL), extra.clone())?;
    callbacks.insert(
        0,
        Box::new(MetricsCsv::create(&dir.join(artifacts::METRICS), extra)?),
    );
    callbacks.insert(1, Box::new(jsonl));
    let monitor_only = monitor.as_ref().map(|(m, _)| m.clone());
    callbacks.push(Box::new(LrMonitor::new(&dir.join(artifacts::LR))));
    let curves = dir.join(artifacts::CURVES_PNG).with_extension("");
    callbacks.push(Box::new(CurvesPlot::new(&curves, monitor_only.clone())));
    callbacks.push(Box::new(LastCheckpoint::new(
        dir.join(artifacts::LAST_MODEL),
    )));
    if config.keep_checkpoints > 0 {
        callbacks.push(Box::new(EpochCheckpoints::new(
            &dir.join(artifacts::CHECKPOINTS),
            config.keep_checkpoints,
            monitor_only,
        )));
    }
    if let Some((monitor, m)) = monitor {
        if m.save_best {
            let path = dir.join(artifacts::BEST_MODEL);
            callbacks.push(Box::new(BestCheckpoint::new(monitor.clone(), path)));
        }
        if let Some(patience) = m.early_stopping_patience {
            callbacks.push(Box::new(EarlyStopping::new(monitor, patience, m.min_delta)));
        }
    }
    let Fitted {
        model,
        history,
        stopped_early,
    } = fit(
        model,
        &train,
        Some(&valid),
        norm,
        device,
        &training,
        &mut callbacks,
        &FitOptions {
            checkpoint_dir: Some(checkpoint_dir),
            resume,
            interrupt: options.interrupt.clone(),
            devices: options.devices.clone(),
            binary_pos_weight: config.binary_head.map(|h| h.pos_weight),
        },
    )?;

    // Ctrl-C after the last step (during the last validation): the state of the finished
    // training is saved; `--resume` runs only the evaluation.
    if options
        .interrupt
        .as_ref()
        .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    {
        return Err(TrainError::Interrupted {
            epoch: config.training.epochs + 1,
            batch: 0,
            saved: Some(dir.join(artifacts::TRAINING_STATE)),
        });
    }
    let model = model.valid();
    // A binary head's threshold: fixed, or chosen on the validation split (never on test) and
    // recorded, so that `kiln eval` applies the same one.
    if let Some(head) = resolved.binary_head {
        let eval_loader = kiln_data::Loader::new(
            kiln_data::Batcher::new(norm, device.clone()),
            config.training.loader_workers,
        );
        let scored = crate::evaluate(
            &model,
            &valid,
            &eval_loader,
            config.training.batch_size,
            true,
        )?
        .predictions
        .ok_or(TrainError::Internal("the evaluation collected no predictions"))?;
        let positive = crate::binary::positive_scores(&scored.scores_f64());
        let threshold =
            crate::binary::choose_threshold(head.threshold, scored.labels(), &positive)?
                .ok_or_else(|| TrainError::NoThreshold {
                    rule: head.threshold,
                    positive: class_names
                        .get(1)
                        .map_or("positive", String::as_str)
                        .to_string(),
                })?;
        resolved.binary_head = Some(crate::config::BinaryHead {
            chosen: Some(threshold),
            ..head
        });
        write_json(&dir.join(artifacts::CONFIG), &resolved)?;
    }
    let model_path = dir.join(artifacts::MODEL);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::artifact(&model_path, e))?;
    let outputs = SplitOutputs::named(dir, EvalSplit::Test);
    let SplitReport {
        report,
        predictions,
        ..
    } = report_split(
        &model,
        &test,
        norm,
        device,
        &resolved,
        outputs,
        run_diagnostics(
            &train.class_counts(),
            &curve_of(&history),
            &class_names,
            &config.diagnostics,
        ),
    )?;
    Ok(RunOutcome {
        files,
        sizes,
        history,
        report,
        predictions,
        artifact_dir: dir.clone(),
        stopped_early,
        import,
    })
}

pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::artifact(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| TrainError::artifact(path, e))
}
