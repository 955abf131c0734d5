//! A whole run: data → model → training → test evaluation → artifacts.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use kiln_data::{Batcher, DatasetFiles, Resolver};
use kiln_eval::{ClassificationReport, ZeroDivision};
use kiln_models::ImageClassifier;

use crate::callback::{Callback, DataInfo};
use crate::config::RunConfig;
use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::history::History;
use crate::metrics_csv::MetricsCsv;
use crate::trainer::fit;

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
    /// The artifact directory.
    pub artifact_dir: PathBuf,
}

/// Runs `config` on `device` (a plain device: autodiff is enabled for training internally).
/// `callbacks` come after the built-in `metrics.csv` writer.
pub fn run(
    config: &RunConfig,
    device: &Device,
    mut callbacks: Vec<Box<dyn Callback>>,
) -> Result<RunOutcome, TrainError> {
    let resolver = Resolver::from_env(config.data_dir.clone(), config.offline);
    let data = kiln_data::load(config.dataset, &resolver)?;
    let limit = config.limit.unwrap_or(usize::MAX);
    let (pool, test) = (data.train.truncate(limit), data.test.truncate(limit));
    let valid_len = config.valid_len(pool.len());
    let (train, valid) = pool.split_validation(valid_len, config.training.seed)?;
    let sizes = [train.len(), valid.len(), test.len()];
    let info = DataInfo {
        dataset: data.spec.name,
        files: &data.files,
        sizes,
    };
    for cb in callbacks.iter_mut() {
        cb.on_data_loaded(&info)?;
    }

    // Only now touch the artifact directory: a run that cannot start leaves it as it was, and
    // one that starts leaves no outputs of an earlier run beside its own.
    let dir = &config.artifact_dir;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::artifact(dir, e))?;
    for stale in [artifacts::MODEL, artifacts::EVAL, artifacts::PREDICTIONS] {
        let path = dir.join(stale);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TrainError::artifact(&path, e));
            }
            _ => {}
        }
    }
    let resolved = RunConfig {
        valid_size: Some(valid_len),
        ..config.clone()
    };
    write_json(&dir.join(artifacts::CONFIG), &resolved)?;

    device.seed(config.training.seed);
    let model = config.model.init(&device.clone().autodiff());
    let norm = data.spec.normalization();
    callbacks.insert(
        0,
        Box::new(MetricsCsv::create(&dir.join(artifacts::METRICS))?),
    );
    let (model, history) = fit(
        model,
        &train,
        Some(&valid),
        norm,
        device,
        &config.training,
        &mut callbacks,
    )?;

    let model = model.valid();
    let model_path = dir.join(artifacts::MODEL);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::artifact(&model_path, e))?;
    let report = test_report(
        &model,
        &test,
        &Batcher::new(norm, device.clone()),
        config,
        dir,
    )?;
    Ok(RunOutcome {
        files: data.files,
        sizes,
        history,
        report,
        artifact_dir: dir.clone(),
    })
}

fn test_report<M: ImageClassifier>(
    model: &M,
    test: &kiln_data::ImageDataset,
    batcher: &Batcher,
    config: &RunConfig,
    dir: &Path,
) -> Result<ClassificationReport, TrainError> {
    let eval = evaluate(model, test, batcher, config.training.batch_size, true)?;
    let names: Vec<String> = config
        .dataset
        .spec()
        .class_names
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut report = ClassificationReport::new(
        eval.stats.confusion(),
        None,
        Some(&names),
        ZeroDivision::Zero,
    )?;
    if let Some(p) = &eval.predictions {
        report.add_scores(p.labels(), &p.scores_f64(), p.num_classes());
        p.write_csv(&dir.join(artifacts::PREDICTIONS))?;
    }
    write_json(&dir.join(artifacts::EVAL), &report.to_json())?;
    Ok(report)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::artifact(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| TrainError::artifact(path, e))
}
