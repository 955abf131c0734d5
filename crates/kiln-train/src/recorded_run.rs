//! A finished run read back from its artifact directory: its configuration, its architecture's
//! name, its trained weights, and a re-evaluation on any split (`kiln eval`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use kiln_data::DatasetSource;
use kiln_eval::diagnostics::DiagnosticThresholds;
use kiln_models::{Architecture, WeightsFormat};

use crate::config::{EvaluationConfig, RunConfig};
use crate::error::TrainError;
use crate::eval_split::EvalSplit;
use crate::fitting::{read_curve, run_diagnostics};
use crate::run::artifacts;
use crate::split_report::{SplitOutputs, SplitReport, report_split};
use crate::splits::Splits;

/// What [`evaluate_artifacts`] is asked to do beyond the run's own configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactEval {
    /// The split to evaluate.
    pub split: EvalSplit,
    /// Read the dataset from here instead of the run's `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Never download.
    pub offline: bool,
    /// Write the report here instead of the artifact directory.
    pub out_dir: Option<PathBuf>,
    /// Load these weights instead of the run's `model.bpk` (e.g. its `model-best.bpk`).
    pub weights: Option<PathBuf>,
    /// Diagnostic thresholds instead of the run's.
    pub thresholds: Option<DiagnosticThresholds>,
    /// Top-k and bootstrap settings instead of the run's (its calibration is kept).
    pub evaluation: Option<EvaluationConfig>,
}

/// Re-evaluates the trained model of the run in `dir` (its `config.json` and `model.bpk`) on
/// one split of its dataset, split exactly as in training, on `device`; writes the report
/// and predictions ([`SplitOutputs::named`]) to `request.out_dir` or `dir`.
///
/// `A` must be the architecture type the run was trained with; [`read_architecture`] tells
/// which one.
pub fn evaluate_artifacts<A: Architecture>(
    dir: &Path,
    request: &ArtifactEval,
    device: &Device,
) -> Result<SplitReport, TrainError> {
    let mut config: RunConfig<A> = read_run_config(dir)?;
    if let Some(data_dir) = &request.data_dir {
        match &mut config.dataset {
            DatasetSource::Folder(folder) => folder.root = data_dir.clone(),
            DatasetSource::Named(_) => config.data_dir = Some(data_dir.clone()),
        }
    }
    config.offline |= request.offline;
    if let Some(t) = request.thresholds {
        config.diagnostics = t;
    }
    if let Some(e) = &request.evaluation {
        config.evaluation = EvaluationConfig {
            calibration: config.evaluation.calibration,
            ..e.clone()
        };
    }
    let splits = Splits::load(&config)?;
    let metrics = dir.join(artifacts::METRICS);
    let curve = match metrics.is_file() {
        true => read_curve(&metrics)?,
        false => Vec::new(),
    };
    let mut extra = run_diagnostics(
        &splits.train.class_counts(),
        &curve,
        &splits.class_names,
        &config.diagnostics,
    );
    let ema = config.training.ema.as_ref();
    extra.extend(crate::ema::weights_note(ema, request.weights.as_deref()));
    let model = load_trained(dir, &config, request.weights.as_deref(), device)?;
    let out = request.out_dir.as_deref().unwrap_or(dir);
    std::fs::create_dir_all(out).map_err(|e| TrainError::artifact(out, e))?;
    report_split(
        &model,
        splits.get(request.split),
        splits.normalization,
        device,
        &config,
        SplitOutputs::named(out, request.split),
        extra,
    )
}

/// The `config.json` of the run in `dir`, with the architecture configuration as `A`.
pub fn read_run_config<A: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<RunConfig<A>, TrainError> {
    let path = dir.join(artifacts::CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        TrainError::artifact(&path, format!("{e} (is this a kiln artifact directory?)"))
    })?;
    serde_json::from_str(&text).map_err(TrainError::not_a_run(&path))
}

/// The registered architecture name of the run in `dir` (`config.json`'s `architecture`;
/// for runs that predate it, the built-in family tag of its `model`).
pub fn read_architecture(dir: &Path) -> Result<String, TrainError> {
    Ok(architecture_name(&read_run_config(dir)?))
}

/// The registered architecture name of a run config (its `architecture`; for runs that
/// predate it, the built-in family tag of its `model`).
pub fn architecture_name(config: &RunConfig<serde_json::Value>) -> String {
    if !config.architecture.is_empty() {
        return config.architecture.clone();
    }
    config
        .model
        .get("architecture")
        .and_then(|a| a.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The trained model of the run in `dir` (configured by its `config`): its `model.bpk`, or
/// `weights` (e.g. its `model-best.bpk`, or a PyTorch state dict of the same model: `.pth`,
/// `.safetensors`), on `device`.
pub fn load_trained<A: Architecture>(
    dir: &Path,
    config: &RunConfig<A>,
    weights: Option<&Path>,
    device: &Device,
) -> Result<A::Model, TrainError> {
    let path = weights.map_or_else(|| dir.join(artifacts::MODEL), Path::to_path_buf);
    if !path.is_file() {
        return Err(TrainError::artifact(
            &path,
            "no trained model (the run did not finish?)",
        ));
    }
    let model = config.model.init(device);
    // A PyTorch state dict (e.g. this run exported by `kiln export --format safetensors`) must
    // fit the model exactly: head and input channels included. Any other file is a kiln
    // checkpoint, whatever its name.
    let Ok(WeightsFormat::PyTorch | WeightsFormat::SafeTensors) = WeightsFormat::of(&path) else {
        return model
            .try_load_file(&path)
            .map_err(|e| TrainError::artifact(&path, e));
    };
    let (model, report) = kiln_models::import_weights(&config.model, model, &path)?;
    if let Some((name, found, expected)) = report.replaced_head.first() {
        return Err(TrainError::artifact(
            &path,
            format!("{name} has shape {found:?}, the run's model {expected:?}"),
        ));
    }
    if let Some(name) = report.gray_input.first() {
        return Err(TrainError::artifact(
            &path,
            format!("{name} is for RGB input, the run's model takes 1 channel"),
        ));
    }
    Ok(model)
}
