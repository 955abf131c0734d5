//! A whole run: data → model → training → test evaluation → artifacts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::Device;
use kiln_data::DatasetFiles;
use kiln_eval::{ClassificationReport, Predictions};
use kiln_models::{Architecture, ImageClassifier, ImportReport, freeze_backbone, import_weights};

use crate::best_checkpoint::BestCheckpoint;
use crate::callback::{Callback, DataInfo};
use crate::class_weights::ClassWeights;
use crate::config::{BinaryHead, Calibration, RunConfig};
use crate::curves_plot::CurvesPlot;
use crate::early_stopping::EarlyStopping;
use crate::epoch_checkpoints::EpochCheckpoints;
use crate::error::TrainError;
use crate::eval_split::EvalSplit;
use crate::fitting::{curve_of, run_diagnostics};
use crate::history::History;
use crate::last_checkpoint::LastCheckpoint;
use crate::lr_monitor::LrMonitor;
use crate::metrics_csv::MetricsCsv;
use crate::metrics_jsonl::MetricsJsonl;
use crate::plan::ConfigError;
use crate::plan::RunPlan;
use crate::run_dir::{DirPolicy, RunDir};
use crate::split_report::{SplitOutputs, SplitReport, report_split};
use crate::splits::Splits;
use crate::tensorboard::TensorBoard;
use crate::trainer::{FitData, FitOptions, FitSettings, fit};
use crate::training_state::{STATE_FILE, TrainingState};

/// File names inside the artifact directory.
pub mod artifacts {
    /// The resolved [`RunConfig`](crate::RunConfig), JSON.
    pub const CONFIG: &str = "config.json";
    /// Per-epoch metrics.
    pub const METRICS: &str = "metrics.csv";
    /// The trained weights (burnpack): with an EMA, the averaged ones.
    pub const MODEL: &str = "model.bpk";
    /// With an EMA, the trained weights that were averaged.
    pub const MODEL_RAW: &str = "model-raw.bpk";
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
    /// TensorBoard event files ([`crate::tensorboard`]), a directory.
    pub const TENSORBOARD: &str = "tensorboard";
    /// What the run is doing or how it ended ([`crate::RunStatus`]).
    pub const STATUS: &str = "status.json";
    /// Locked by the process running the run; names it ([`crate::RunDir`]).
    pub const LOCK: &str = "kiln.lock";
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
    /// Where a new run writes, given the configuration's artifact directory: in it (refused
    /// when it holds a run), replacing the run it holds, or in a new `version-N` under it.
    pub directory: DirPolicy,
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
///
/// The stages, in order: plan (every setting checked, [`RunConfig::plan`]) → claim the run's
/// directory ([`RunDir`]: locked for this process; a new run never replaces or mixes with
/// another by accident, [`RunOptions::directory`]) → load the splits → build the model (fresh,
/// imported or resumed) → begin ([`RunDir::begin`]: the first write, `status.json`) and prepare
/// the artifact directory (`config.json`) → callbacks from the plan → [`fit`] → choose a binary
/// head's decision threshold on the validation split → evaluate the test split and write the
/// weights and report. `status.json` records how the run ended; a run that fails before it
/// begins leaves the directory as it was.
pub fn run_with<A: Architecture>(
    config: &RunConfig<A>,
    device: &Device,
    callbacks: Vec<Box<dyn Callback>>,
    options: &RunOptions,
) -> Result<RunOutcome, TrainError> {
    let plan = config.plan()?;
    check_devices(config.devices, options)?;
    let mut claimed = match options.resume {
        true => RunDir::claim_existing(&config.artifact_dir)?,
        false => RunDir::claim_new(&config.artifact_dir, options.directory)?,
    };
    let here = RunConfig {
        artifact_dir: claimed.path().to_path_buf(),
        ..config.clone()
    };
    let result = run_claimed(plan, &here, &mut claimed, device, callbacks, options);
    let recorded = match claimed.begun() {
        true => claimed.end(result.as_ref().map(|_| ())),
        false => claimed.abandon(),
    };
    let outcome = result?;
    recorded?;
    Ok(outcome)
}

/// [`run_with`]'s stages after the directory is claimed; `config.artifact_dir` is the run's.
fn run_claimed<A: Architecture>(
    plan: RunPlan<'_, A>,
    config: &RunConfig<A>,
    claimed: &mut RunDir,
    device: &Device,
    mut callbacks: Vec<Box<dyn Callback>>,
    options: &RunOptions,
) -> Result<RunOutcome, TrainError> {
    let dir = &config.artifact_dir;
    let state_dir = dir.join(artifacts::TRAINING_STATE);
    let resume = match options.resume {
        true => Some(saved_state(&state_dir)?),
        false => None,
    };
    let splits = load_splits(config, &mut callbacks)?;
    if config.evaluation.calibration.is_some() && splits.valid.is_empty() {
        return Err(ConfigError::rule(
            "evaluation.calibration",
            "temperature scaling is fitted on the validation split, which holds no images",
        )
        .into());
    }
    let sizes = [splits.train.len(), splits.valid.len(), splits.test.len()];
    // Balanced class weights become the numbers used, recorded in config.json.
    let mut training = config.training.clone();
    if let Some(w) = &training.class_weights {
        let counts = splits.train.class_counts();
        training.class_weights = Some(ClassWeights::Values(w.resolve(&counts)?));
    }
    let (model, import) = build_model(config, device, resume.as_ref(), &state_dir)?;
    let mut resolved = RunConfig {
        dataset: splits.dataset.clone(),
        valid_size: Some(splits.valid_len),
        training: training.clone(),
        ..config.clone()
    };
    // Ctrl-C while the data was loading: stop before the run begins, the directory as it was.
    if (options.interrupt.as_ref()).is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed)) {
        return Err(TrainError::Interrupted {
            epoch: resume.as_ref().map_or(1, |s| s.epoch),
            batch: resume.as_ref().map_or(0, |s| s.batch),
            saved: resume.is_some().then(|| state_dir.clone()),
        });
    }
    claimed.begin()?;
    prepare_artifact_dir(&resolved, &splits, resume.is_some())?;
    builtin_callbacks(plan, &resolved, &splits.class_names, &mut callbacks)?;
    let data = FitData {
        train: &splits.train,
        valid: Some(&splits.valid),
        norm: splits.normalization,
    };
    let fit_options = FitOptions {
        checkpoint_dir: Some(state_dir),
        resume,
        interrupt: options.interrupt.clone(),
        devices: options.devices.clone(),
        device_names: config.device_list.clone(),
        replica_norm: config.replica_norm,
        binary_pos_weight: config.binary_head.map(|h| h.pos_weight),
    };
    let settings = FitSettings {
        device: device.clone(),
        training,
        options: fit_options,
    };
    let fitted = fit(model, data, &settings, &mut callbacks)?;
    // Ctrl-C after the last step (during the last validation): the state of the finished
    // training is saved; `--resume` runs only the evaluation.
    let interrupt = options.interrupt.as_ref();
    if interrupt.is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed)) {
        let saved = Some(dir.join(artifacts::TRAINING_STATE));
        let epoch = config.training.epochs + 1;
        return Err(TrainError::Interrupted {
            epoch,
            batch: 0,
            saved,
        });
    }
    if let Some(raw) = &fitted.raw {
        let path = dir.join(artifacts::MODEL_RAW);
        raw.valid()
            .save_file(&path)
            .map_err(|e| TrainError::artifact(&path, e))?;
    }
    let model = fitted.model.valid();
    // What is fitted on the validation split — the temperature, then a binary head's threshold
    // on the calibrated probabilities — is recorded in config.json.
    if let Some(Calibration::Temperature { .. }) = resolved.evaluation.calibration {
        let fitted = fit_temperature(&model, &splits, device, &resolved)?;
        resolved.evaluation.calibration = Some(Calibration::Temperature {
            fitted: Some(fitted),
        });
    }
    if let Some(head) = resolved.binary_head {
        let chosen = choose_threshold(&model, head, &splits, device, &resolved)?;
        resolved.binary_head = Some(BinaryHead {
            chosen: Some(chosen),
            ..head
        });
    }
    if resolved.binary_head.is_some() || resolved.evaluation.calibration.is_some() {
        write_json(&dir.join(artifacts::CONFIG), &resolved)?;
    }
    let report = evaluate_and_write(&model, &splits, &fitted.history, device, &resolved)?;
    if resolved.tensorboard {
        let epochs = fitted.history.last().map_or(0, |m| m.epoch);
        let events = dir.join(artifacts::TENSORBOARD);
        crate::tensorboard::write_test_summary(&events, &report.report, epochs)?;
    }
    Ok(RunOutcome {
        files: splits.files,
        sizes,
        history: fitted.history,
        report: report.report,
        predictions: report.predictions,
        artifact_dir: dir.clone(),
        stopped_early: fitted.stopped_early,
        import,
    })
}

/// A data-parallel run is given as many devices as it was planned for.
fn check_devices(wanted: usize, options: &RunOptions) -> Result<(), ConfigError> {
    let given = options.devices.len();
    match wanted > 1 && given != wanted {
        true => Err(ConfigError::rule(
            "devices",
            format!("the run trains on {wanted} devices but {given} were given"),
        )),
        false => Ok(()),
    }
}

/// The run's splits, loaded and checked; the callbacks told what was read.
fn load_splits<A>(
    config: &RunConfig<A>,
    callbacks: &mut [Box<dyn Callback>],
) -> Result<Splits, TrainError> {
    let splits = Splits::load_checked(config, config.leakage_check)?;
    let name = splits.dataset.name();
    let info = DataInfo {
        run_dir: &config.artifact_dir,
        dataset: &name,
        files: &splits.files,
        sizes: [splits.train.len(), splits.valid.len(), splits.test.len()],
        skipped: &splits.skipped,
        leakage: &splits.leakage,
        deduped: splits.deduped,
    };
    for cb in callbacks.iter_mut() {
        cb.on_data_loaded(&info)?;
    }
    Ok(splits)
}

/// The last stage: the trained weights written as `model.bpk`, the test split evaluated and its
/// report and predictions written, with the diagnostics of the training curves.
fn evaluate_and_write<M: ImageClassifier, A>(
    model: &M,
    splits: &Splits,
    history: &History,
    device: &Device,
    resolved: &RunConfig<A>,
) -> Result<SplitReport, TrainError> {
    let dir = &resolved.artifact_dir;
    let model_path = dir.join(artifacts::MODEL);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::artifact(&model_path, e))?;
    let mut diagnostics = run_diagnostics(
        &splits.train.class_counts(),
        &curve_of(history),
        &splits.class_names,
        &resolved.diagnostics,
    );
    diagnostics.extend(crate::ema::weights_note(
        resolved.training.ema.as_ref(),
        None,
    ));
    let outputs = SplitOutputs::named(dir, EvalSplit::Test);
    let (test, norm) = (&splits.test, splits.normalization);
    report_split(model, test, norm, device, resolved, outputs, diagnostics)
}

/// The training state a resumed run continues from.
fn saved_state(state_dir: &Path) -> Result<TrainingState, TrainError> {
    TrainingState::read(state_dir)?.ok_or_else(|| {
        TrainError::artifact(
            state_dir.join(STATE_FILE),
            "no training state to resume (the run saved none: it ended before its first epoch?)",
        )
    })
}

/// The model to train on `device`'s autodiff form: freshly initialized (seeded by the
/// recipe), with imported pretrained weights, or with a resumed run's saved weights.
fn build_model<A: Architecture>(
    config: &RunConfig<A>,
    device: &Device,
    resume: Option<&TrainingState>,
    state_dir: &Path,
) -> Result<(A::Model, Option<ImportReport>), TrainError> {
    device.seed(config.training.seed);
    let model = config.model.init(&device.clone().autodiff());
    let frozen = config
        .pretrained
        .as_ref()
        .is_some_and(|p| p.freeze_backbone);
    if let Some(state) = resume {
        // The saved weights carry their parameter ids, which key the optimizer's state.
        let model = match frozen {
            true => freeze_backbone(model, config.model.head()),
            false => model,
        };
        let path = state.model_path(state_dir);
        let model = model
            .try_load_file(&path)
            .map_err(|e| TrainError::artifact(&path, e))?;
        return Ok((model, None));
    }
    let Some(pretrained) = &config.pretrained else {
        return Ok((model, None));
    };
    let (loaded, report) = import_weights(&config.model, model, &pretrained.weights)?;
    let model = match frozen {
        true => freeze_backbone(loaded, config.model.head()),
        false => loaded,
    };
    Ok((model, Some(report)))
}

/// The first write of a run's own files (the directory is claimed, and holds no other run):
/// the resolved `config.json`, with `leakage.json` and `skipped.txt` when there is anything
/// to say. A resumed run first removes the final outputs it will write again. A run that
/// cannot start never gets here.
fn prepare_artifact_dir<A: serde::Serialize>(
    resolved: &RunConfig<A>,
    splits: &Splits,
    resuming: bool,
) -> Result<(), TrainError> {
    let dir = &resolved.artifact_dir;
    // A resumed run writes these again at its end.
    let rewritten = [
        artifacts::MODEL,
        artifacts::EVAL,
        artifacts::PREDICTIONS,
        artifacts::SKIPPED,
        artifacts::LEAKAGE,
    ];
    if resuming {
        for path in rewritten.map(|name| dir.join(name)) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::artifact(&path, e));
                }
                _ => {}
            }
        }
    }
    write_json(&dir.join(artifacts::CONFIG), resolved)?;
    if !splits.leakage.is_empty() {
        let report = serde_json::json!({ "overlaps": splits.leakage, "deduped": splits.deduped });
        write_json(&dir.join(artifacts::LEAKAGE), &report)?;
    }
    if !splits.skipped.is_empty() {
        let path = dir.join(artifacts::SKIPPED);
        let lines: String = (splits.skipped.iter())
            .map(|(file, why)| format!("{}\t{why}\n", file.display()))
            .collect();
        std::fs::write(&path, lines).map_err(|e| TrainError::artifact(&path, e))?;
    }
    Ok(())
}

/// The callbacks every run has, around the caller's: `metrics.csv` and `metrics.jsonl` first;
/// then `lr.csv`, the curves, TensorBoard's events, `model-last.bpk`, and what the plan asks
/// for (kept epochs, the best model, early stopping).
fn builtin_callbacks<A: serde::Serialize>(
    plan: RunPlan<'_, A>,
    resolved: &RunConfig<A>,
    class_names: &[String],
    callbacks: &mut Vec<Box<dyn Callback>>,
) -> Result<(), TrainError> {
    let dir = &resolved.artifact_dir;
    let extra = plan.metrics;
    if resolved.tensorboard {
        let config =
            serde_json::to_string_pretty(resolved).map_err(|e| TrainError::artifact(dir, e))?;
        let events = dir.join(artifacts::TENSORBOARD);
        let accumulate = resolved.training.grad_accumulation;
        let tensorboard =
            TensorBoard::new(&events, class_names, extra.clone(), accumulate, &config);
        callbacks.push(Box::new(tensorboard));
    }
    let jsonl = MetricsJsonl::create(&dir.join(artifacts::METRICS_JSONL), extra.clone())?;
    let mixed = resolved.training.mixing.is_some();
    let csv = MetricsCsv::create(&dir.join(artifacts::METRICS), extra, mixed)?;
    callbacks.insert(0, Box::new(csv));
    callbacks.insert(1, Box::new(jsonl));
    let monitor = plan.monitor.as_ref().map(|(m, _)| m.clone());
    callbacks.push(Box::new(LrMonitor::new(&dir.join(artifacts::LR))));
    let curves = dir.join(artifacts::CURVES_PNG).with_extension("");
    callbacks.push(Box::new(CurvesPlot::new(&curves, monitor.clone())));
    let last = dir.join(artifacts::LAST_MODEL);
    callbacks.push(Box::new(LastCheckpoint::new(last)));
    let keep = plan.config.keep_checkpoints;
    if keep > 0 {
        let checkpoints = dir.join(artifacts::CHECKPOINTS);
        callbacks.push(Box::new(EpochCheckpoints::new(&checkpoints, keep, monitor)));
    }
    if let Some((monitor, m)) = plan.monitor {
        if m.save_best {
            let path = dir.join(artifacts::BEST_MODEL);
            callbacks.push(Box::new(BestCheckpoint::new(monitor.clone(), path)));
        }
        if let Some(patience) = m.early_stopping_patience {
            callbacks.push(Box::new(EarlyStopping::new(monitor, patience, m.min_delta)));
        }
    }
    Ok(())
}

/// A binary head's decision threshold: the fixed one, or the one its rule picks on the
/// validation split (never on test) — recorded, so that `kiln eval` applies the same.
fn choose_threshold<M: ImageClassifier, A>(
    model: &M,
    head: BinaryHead,
    splits: &Splits,
    device: &Device,
    config: &RunConfig<A>,
) -> Result<f64, TrainError> {
    let scored = evaluate_valid(model, splits, device, config)?
        .predictions
        .ok_or(TrainError::Internal(
            "the evaluation collected no predictions",
        ))?;
    let positive = crate::binary::positive_scores(&scored.scores_f64());
    crate::binary::choose_threshold(head.threshold, scored.labels(), &positive)?.ok_or_else(|| {
        TrainError::NoThreshold {
            rule: head.threshold,
            positive: (splits.class_names.get(1))
                .map_or("positive", String::as_str)
                .to_string(),
        }
    })
}

/// The validation split's predictions by the trained `model`, scaled by the run's temperature
/// if it has one.
fn evaluate_valid<M: ImageClassifier, A>(
    model: &M,
    splits: &Splits,
    device: &Device,
    config: &RunConfig<A>,
) -> Result<crate::Evaluation, TrainError> {
    let batcher = kiln_data::Batcher::new(splits.normalization, device.clone());
    let loader = kiln_data::Loader::new(batcher, config.training.loader_workers);
    let (batch_size, temperature) = (config.training.batch_size, config.evaluation.temperature());
    crate::evaluate(model, &splits.valid, &loader, batch_size, true, temperature)
}

/// The temperature that minimizes the validation split's negative log-likelihood.
fn fit_temperature<M: ImageClassifier, A>(
    model: &M,
    splits: &Splits,
    device: &Device,
    config: &RunConfig<A>,
) -> Result<kiln_eval::temperature::TemperatureFit, TrainError> {
    let eval = evaluate_valid(model, splits, device, config)?;
    let (Some(p), Some(logits)) = (eval.predictions, eval.logits) else {
        return Err(TrainError::Internal("the evaluation collected no logits"));
    };
    let logits: Vec<f64> = logits.into_iter().map(f64::from).collect();
    Ok(kiln_eval::temperature::fit_temperature(
        p.labels(),
        &logits,
        p.num_classes(),
    )?)
}

pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::artifact(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| TrainError::artifact(path, e))
}
