//! Evaluating one split of a run: the test report at the end of [`crate::run`], and
//! re-evaluating a finished run's artifacts ([`evaluate_artifacts`], `kiln eval`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use kiln_data::leakage::{LeakageOptions, Overlap, check_splits, find_duplicates};
use kiln_data::{
    Batcher, DatasetFiles, DatasetSource, ImageDataset, Loader, Normalization, Resolver,
    keep_class_fraction,
};
use kiln_eval::diagnostics::{Diagnostic, DiagnosticThresholds};
use kiln_eval::{ClassificationReport, ConfusionMatrix, Predictions, ZeroDivision};
use kiln_models::{Architecture, ImageClassifier};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::plan::ConfigError;
use crate::evaluate::evaluate;
use crate::fitting::{read_curve, run_diagnostics};
use crate::run::{artifacts, write_json};

/// One of a run's three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSplit {
    /// The training file minus the validation images.
    Train,
    /// The validation images held out of the training file.
    Valid,
    /// The test file.
    Test,
}

impl std::fmt::Display for EvalSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Train => "train",
            Self::Valid => "valid",
            Self::Test => "test",
        })
    }
}

impl std::str::FromStr for EvalSplit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Self::Train),
            "valid" | "validation" => Ok(Self::Valid),
            "test" => Ok(Self::Test),
            other => Err(format!("unknown split `{other}` (train, valid or test)")),
        }
    }
}

/// Where the report of one split goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOutputs {
    /// The JSON report.
    pub eval: PathBuf,
    /// The per-sample predictions.
    pub predictions: PathBuf,
}

impl SplitOutputs {
    /// [`artifacts::EVAL`] and [`artifacts::PREDICTIONS`] in `dir` for the test split,
    /// `eval-<split>.json` and `predictions-<split>.csv` for the others.
    pub fn named(dir: &Path, split: EvalSplit) -> Self {
        match split {
            EvalSplit::Test => Self {
                eval: dir.join(artifacts::EVAL),
                predictions: dir.join(artifacts::PREDICTIONS),
            },
            other => Self {
                eval: dir.join(format!("eval-{other}.json")),
                predictions: dir.join(format!("predictions-{other}.csv")),
            },
        }
    }
}

/// A run's dataset, loaded and split.
#[derive(Debug, Clone)]
pub struct Splits {
    /// The dataset, resolved (an image folder's class names and normalization filled in).
    pub dataset: DatasetSource,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// The normalization constants.
    pub normalization: Normalization,
    /// Image files left out as unreadable, with why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Validation and test images duplicating training images, and test images duplicating
    /// validation images, before `dedupe` (empty unless asked for).
    pub leakage: Vec<Overlap>,
    /// Training images dropped by `dedupe`.
    pub deduped: usize,
    /// The files read.
    pub files: DatasetFiles,
    /// Training images.
    pub train: ImageDataset,
    /// Validation images.
    pub valid: ImageDataset,
    /// Test images.
    pub test: ImageDataset,
    /// The validation size used.
    pub valid_len: usize,
}

impl Splits {
    /// Loads the dataset of `config` and splits it as [`crate::run`] does: the first `limit`
    /// images of each file (of an image folder, which is stored class by class, a seeded
    /// stratified sample of `limit`), thinned to the rare-class fraction if asked, then a
    /// validation set drawn from the training file by a shuffle seeded with the training seed
    /// (per class, in proportion to the class sizes, with `stratify`); with `dedupe`, the
    /// training images that duplicate a validation or test image are dropped.
    pub fn load<A>(config: &RunConfig<A>) -> Result<Self, TrainError> {
        Self::load_checked(config, false)
    }

    /// [`Self::load`], with the leakage report of the splits before any `dedupe` when
    /// `report` is set (and always with `dedupe`).
    pub fn load_checked<A>(config: &RunConfig<A>, report: bool) -> Result<Self, TrainError> {
        let resolver = Resolver::from_env(config.data_dir.clone(), config.offline);
        let data = kiln_data::load_source(&config.dataset, &resolver)?;
        let seed = config.training.seed;
        let limit = |d: ImageDataset| -> Result<ImageDataset, TrainError> {
            Ok(match (config.limit, &config.dataset) {
                (Some(n), DatasetSource::Folder(_)) if n < d.len() => {
                    kiln_data::stratified_split(&d, n, seed)?.1
                }
                (Some(n), _) => d.truncate(n),
                (None, _) => d,
            })
        };
        let (mut pool, mut test) = (limit(data.train)?, limit(data.test)?);
        if let Some(rare) = config.rare_class {
            pool = keep_class_fraction(&pool, rare.class, rare.fraction, seed)?;
            test = keep_class_fraction(&test, rare.class, rare.fraction, seed.wrapping_add(1))?;
        }
        if let Some(c) = config.positive_class {
            if c >= pool.num_classes() {
                return Err(ConfigError::rule(
                    "positive_class",
                    format!(
                        "class {c} is not a class of {} ({} classes)",
                        config.dataset.name(),
                        pool.num_classes()
                    ),
                )
                .into());
            }
            (pool, test) = (pool.one_vs_rest(c), test.one_vs_rest(c));
        }
        if config.binary_head.is_some() && pool.num_classes() != 2 {
            return Err(ConfigError::rule(
                "binary_head",
                format!(
                    "needs a two-class task: {} has {} classes (set positive_class)",
                    config.dataset.name(),
                    pool.num_classes()
                ),
            )
            .into());
        }
        let valid_len = config.valid_len(pool.len());
        let (mut train, valid) = match config.stratify {
            true => kiln_data::stratified_split(&pool, valid_len, config.training.seed)?,
            false => pool.split_validation(valid_len, config.training.seed)?,
        };
        let options = LeakageOptions::default();
        let leakage = match report || config.dedupe {
            true => check_splits(&train, &valid, &test, &options),
            false => Vec::new(),
        };
        let mut deduped = 0;
        if config.dedupe {
            let mut drop = vec![false; train.len()];
            for other in [("valid", &valid), ("test", &test)] {
                for i in find_duplicates(("train", &train), other, &options).query_indices() {
                    drop[i] = true;
                }
            }
            let keep: Vec<usize> = (0..train.len()).filter(|&i| !drop[i]).collect();
            deduped = train.len() - keep.len();
            train = train.select(&keep);
        }
        Ok(Self {
            leakage,
            deduped,
            dataset: data.source,
            class_names: config.class_names(),
            normalization: data.normalization,
            skipped: data.skipped,
            files: data.files,
            train,
            valid,
            test,
            valid_len,
        })
    }

    /// The images of `split`.
    pub fn get(&self, split: EvalSplit) -> &ImageDataset {
        match split {
            EvalSplit::Train => &self.train,
            EvalSplit::Valid => &self.valid,
            EvalSplit::Test => &self.test,
        }
    }
}

/// A split's report and predictions, both also written to disk.
#[derive(Debug, Clone)]
pub struct SplitReport {
    /// The classification report, with the score-based metrics.
    pub report: ClassificationReport,
    /// Every sample's probabilities, in dataset order.
    pub predictions: Predictions,
    /// Every class's name.
    pub class_names: Vec<String>,
    /// The files written.
    pub outputs: SplitOutputs,
}

/// Evaluates `model` (in inference mode) on `data`, writes the JSON report and the
/// predictions CSV to `outputs`.
pub(crate) fn report_split<M: ImageClassifier, A>(
    model: &M,
    data: &ImageDataset,
    norm: Normalization,
    device: &Device,
    config: &RunConfig<A>,
    outputs: SplitOutputs,
    extra_diagnostics: Vec<Diagnostic>,
) -> Result<SplitReport, TrainError> {
    let loader = Loader::new(
        Batcher::new(norm, device.clone()),
        config.training.loader_workers,
    );
    let eval = evaluate(model, data, &loader, config.training.batch_size, true)?;
    let class_names: Vec<String> = config.class_names();
    let mut predictions = eval
        .predictions
        .ok_or(TrainError::Internal("the evaluation collected no predictions"))?;
    let threshold = config.binary_head.and_then(|h| h.chosen);
    if let Some(t) = threshold {
        predictions = predictions.with_threshold(t)?;
    }
    let confusion = match threshold {
        Some(_) => ConfusionMatrix::from_labels(
            predictions.labels(),
            &predictions.predictions(),
            class_names.len(),
        )?,
        None => eval.stats.confusion().clone(),
    };
    let scores = predictions.scores_f64();
    let report = configured_report(
        config,
        &confusion,
        predictions.labels(),
        Some(&scores),
        extra_diagnostics,
    )?;
    predictions.write_csv(&outputs.predictions)?;
    write_json(&outputs.eval, &report.to_json())?;
    Ok(SplitReport {
        report,
        predictions,
        class_names,
        outputs,
    })
}

/// The report of a split's `confusion` counts as the run `config` makes it: its class names and
/// diagnostic thresholds, the `extra` diagnostics, the metrics of `scores` (row-major, one per
/// class, for `labels`) and a binary head's thresholded decision.
pub fn configured_report<A>(
    config: &RunConfig<A>,
    confusion: &ConfusionMatrix,
    labels: &[usize],
    scores: Option<&[f64]>,
    extra: Vec<Diagnostic>,
) -> Result<ClassificationReport, TrainError> {
    let class_names = config.class_names();
    let mut report =
        ClassificationReport::new(confusion, None, Some(&class_names), ZeroDivision::Zero)?;
    report.thresholds = config.diagnostics;
    report.extra_diagnostics = extra;
    let Some(scores) = scores else {
        return Ok(report);
    };
    report.add_scores(labels, scores, class_names.len())?;
    if let Some((head, t)) = config.binary_head.and_then(|h| h.chosen.map(|t| (h, t))) {
        let decision = kiln_eval::Decision {
            threshold: t,
            positive: class_names.get(1).cloned().unwrap_or_default(),
            how: head.threshold.to_string(),
        };
        report.set_decision(decision, &crate::binary::positive_scores(scores));
    }
    Ok(report)
}

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
    let splits = Splits::load(&config)?;
    let metrics = dir.join(artifacts::METRICS);
    let curve = match metrics.is_file() {
        true => read_curve(&metrics)?,
        false => Vec::new(),
    };
    let extra = run_diagnostics(
        &splits.train.class_counts(),
        &curve,
        &splits.class_names,
        &config.diagnostics,
    );
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
    serde_json::from_str(&text)
        .map_err(|e| TrainError::artifact(&path, format!("not a kiln run config: {e}")))
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
/// `weights` (e.g. its `model-best.bpk`), on `device`.
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
    config
        .model
        .init(device)
        .try_load_file(&path)
        .map_err(|e| TrainError::artifact(&path, e))
}
