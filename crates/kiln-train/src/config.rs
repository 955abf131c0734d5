//! Serializable configurations: the training recipe, and the whole run.

use std::path::PathBuf;

use burn::prelude::*;
use kiln_data::DatasetSource;
use kiln_data::augment::Augmentation;
use kiln_data::mix::Mixing;
use kiln_eval::diagnostics::DiagnosticThresholds;
use kiln_models::ModelConfig;
use kiln_models::replicas::ReplicaNorm;
use serde::{Deserialize, Serialize};

use crate::class_weights::ClassWeights;
use crate::ema::EmaConfig;
use crate::monitor::Mode;
use crate::optimizer::{GradClipping, OptimizerConfig};
use crate::schedule::LrSchedule;

/// The training recipe. The defaults are kiln's default recipe: Adam at 2e-3 with 100 steps of
/// linear warm-up and cosine decay to zero, batch 64.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// Passes over the training split.
    #[config(default = 5)]
    pub epochs: usize,
    /// Samples per optimizer step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Base (peak) learning rate.
    #[config(default = 2e-3)]
    pub lr: f64,
    /// Seed for weight init, dropout, the validation split and the data order.
    #[config(default = 42)]
    pub seed: u64,
    /// Learning-rate schedule over all steps of the run.
    #[config(default = "LrSchedule::WarmupCosine { warmup_steps: 100, min_ratio: 0.0 }")]
    pub schedule: LrSchedule,
    /// Threads assembling batches ahead of the model ([`kiln_data::Loader`]; 0: on the
    /// training thread). Results do not depend on it.
    #[config(default = 1)]
    pub loader_workers: usize,
    /// Training-time augmentation ([`kiln_data::augment`]), seeded by `seed`, epoch and
    /// position; never applied to validation or test images.
    #[config(default = "Augmentation::NONE")]
    pub augmentation: Augmentation,
    /// The optimizer and its hyper-parameters.
    #[config(default = "OptimizerConfig::ADAM")]
    pub optimizer: OptimizerConfig,
    /// Clip gradients before each optimizer step.
    pub grad_clipping: Option<GradClipping>,
    /// Batches whose gradients are summed (each loss divided by the group's size) before one
    /// optimizer step: an effective batch of `batch_size × grad_accumulation`.
    #[config(default = 1)]
    pub grad_accumulation: usize,
    /// Label smoothing `α` of the training loss (targets `1 − α` and `α / K`).
    pub label_smoothing: Option<f32>,
    /// Per-class weights of the training loss.
    pub class_weights: Option<ClassWeights>,
    /// How each epoch draws the training images.
    #[config(default = "Sampler::Shuffle")]
    pub sampler: Sampler,
    /// Weight decay of the norm and bias parameters (every parameter of rank ≤ 1) when it
    /// should differ from the optimizer's (torchvision's `--norm-weight-decay`); none: the
    /// optimizer's decay for every parameter.
    pub norm_weight_decay: Option<f32>,
    /// Mixup / CutMix of every training batch ([`kiln_data::mix`]), with soft-target
    /// cross-entropy.
    pub mixing: Option<Mixing>,
    /// An exponential moving average of the weights ([`crate::ema`]), used for validation, the
    /// checkpoints, `model.bpk` and the test report.
    pub ema: Option<EmaConfig>,
}

impl TrainingConfig {
    /// The recipe's optimizer for `model`: with `norm_weight_decay`, its norm and bias
    /// parameters a group of their own decay.
    pub(crate) fn optimizer_for<M: burn::module::Module>(
        &self,
        model: &M,
    ) -> burn::optim::ModuleOptimizer {
        match self.norm_weight_decay {
            Some(decay) => self.optimizer.init_grouped(
                self.grad_clipping,
                decay,
                crate::optimizer::norm_and_bias_ids(model),
            ),
            None => self.optimizer.init(self.grad_clipping),
        }
    }
}

/// How an epoch draws the training images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampler {
    /// Every image once, in a seeded random order (`DataLoader(shuffle=True)`).
    Shuffle,
    /// As many draws as images, with replacement, each class equally likely
    /// (`WeightedRandomSampler` with weights `1 / count[class]`).
    Balanced,
}

/// Everything that defines a run; written to `config.json` in the artifact directory.
/// `A` is the architecture's configuration: the built-ins' [`ModelConfig`] or any other
/// [`kiln_models::Architecture`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig<A = ModelConfig> {
    /// The dataset: a name, or an image folder with its recorded class names and
    /// normalization.
    pub dataset: DatasetSource,
    /// `--data-dir`, if given (named datasets).
    pub data_dir: Option<PathBuf>,
    /// Never download.
    pub offline: bool,
    /// Use at most this many images from each of the training and test files.
    pub limit: Option<usize>,
    /// Validation images held out of the training file (default: 1/12 of it, 5,000 of 60,000).
    pub valid_size: Option<usize>,
    /// The architecture's registered name (`--model`, e.g. `resnet18`); `kiln eval` and
    /// `kiln predict` rebuild the model by it. Empty in runs from before it was recorded
    /// (built-in architectures).
    #[serde(default)]
    pub architecture: String,
    /// The architecture's configuration.
    pub model: A,
    /// The recipe.
    pub training: TrainingConfig,
    /// Where artifacts go.
    pub artifact_dir: PathBuf,
    /// The backend the run used (recorded for reproduction; the device is chosen by the caller).
    #[serde(default)]
    pub backend: Option<String>,
    /// Extra metrics logged per epoch and phase in `metrics.csv` ([`kiln_eval::MetricSpec`]
    /// names: `macro_f1`, `recall:Shirt`, …).
    #[serde(default)]
    pub metrics: Vec<String>,
    /// A monitored quantity driving early stopping and the best-model checkpoint.
    #[serde(default)]
    pub monitor: Option<MonitorConfig>,
    /// Make the data imbalanced: keep only a fraction of one class in every split.
    #[serde(default)]
    pub rare_class: Option<RareClass>,
    /// Draw the validation split per class, in proportion to the class sizes
    /// ([`kiln_data::stratified_split`]) instead of uniformly.
    #[serde(default)]
    pub stratify: bool,
    /// Look for training images duplicated in the validation or test split when training
    /// starts ([`kiln_data::leakage::check_splits`]) and report them (`leakage.json`).
    #[serde(default = "yes")]
    pub leakage_check: bool,
    /// Drop training images that duplicate (exactly or nearly) a validation or test image.
    #[serde(default)]
    pub dedupe: bool,
    /// When the evaluation's diagnostics become warnings.
    #[serde(default)]
    pub diagnostics: DiagnosticThresholds,
    /// Start from these weights instead of a fresh initialization.
    #[serde(default)]
    pub pretrained: Option<Pretrained>,
    /// Keep this many epochs' weights in `checkpoints/` (0: none): the best by the monitored
    /// quantity, or the latest without a monitor ([`crate::EpochCheckpoints`]).
    #[serde(default)]
    pub keep_checkpoints: usize,
    /// Devices each batch is split over, data-parallel ([`crate::data_parallel`]); the caller
    /// provides them ([`crate::RunOptions::devices`]). Not part of the training recipe
    /// (`TrainingConfig`, a Burn `Config`, cannot default a field missing from an older file).
    #[serde(default = "one")]
    pub devices: usize,
    /// The devices as the caller named them when it named them (`kiln train --devices
    /// local,ws://gpu:3000`: this machine's backend or a server's address, never a token), so
    /// that a replay or a resume reaches the same ones; empty when `devices` is a count of the
    /// run's backend's devices. Its length is `devices`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_list: Vec<String>,
    /// How batch norms normalize when a batch is split over `devices`
    /// ([`kiln_models::replicas`]): with the whole batch's statistics (the default, the same step
    /// as one device) or each shard's own.
    #[serde(default)]
    pub replica_norm: ReplicaNorm,
    /// Turn the dataset into class `positive_class` against the rest (labels 1 and 0, class
    /// names `not <name>` and `<name>`), in every split.
    #[serde(default)]
    pub positive_class: Option<usize>,
    /// A binary task with a one-logit head: sigmoid and binary cross-entropy instead of a
    /// two-class softmax.
    #[serde(default)]
    pub binary_head: Option<BinaryHead>,
    /// Write TensorBoard event files into `<artifact_dir>/tensorboard/` ([`crate::TensorBoard`]).
    #[serde(default = "yes")]
    pub tensorboard: bool,
    /// What the reports add to the confusion counts: top-k accuracies, bootstrap intervals,
    /// temperature scaling.
    #[serde(default)]
    pub evaluation: EvaluationConfig,
}

/// What a run's reports (`eval.json`, `kiln eval`, `kiln report`) add to the confusion counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationConfig {
    /// The k of the top-k accuracies, each from 1 to the class count − 1; `None`: 1, 3 and 5
    /// below the class count.
    pub top_k: Option<Vec<usize>>,
    /// Bootstrap resamples of the 95% intervals (0: no intervals). Default 1,000.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub bootstrap_seed: u64,
    /// Calibrate the probabilities on the validation split after training.
    pub calibration: Option<Calibration>,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            top_k: None,
            bootstrap: kiln_eval::bootstrap::DEFAULT_RESAMPLES,
            bootstrap_seed: 0,
            calibration: None,
        }
    }
}

impl EvaluationConfig {
    /// The bootstrap to draw, if any.
    pub fn bootstrap(&self) -> Option<kiln_eval::Bootstrap> {
        (self.bootstrap > 0).then_some(kiln_eval::Bootstrap {
            resamples: self.bootstrap,
            seed: self.bootstrap_seed,
        })
    }

    /// The fitted temperature the probabilities are scaled by, if any.
    pub fn temperature(&self) -> Option<f64> {
        match self.calibration {
            Some(Calibration::Temperature { fitted: Some(fit) }) => Some(fit.temperature),
            _ => None,
        }
    }
}

/// How probabilities are calibrated after training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Calibration {
    /// Temperature scaling ([`kiln_eval::temperature`]): one temperature fitted on the
    /// validation split's logits, dividing every logit of every later prediction.
    Temperature {
        /// The fit, once the run has made it.
        #[serde(default)]
        fitted: Option<kiln_eval::temperature::TemperatureFit>,
    },
}

/// A one-logit head for a two-class task ([`crate::binary`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryHead {
    /// PyTorch's `BCEWithLogitsLoss(pos_weight=…)`: the positive images' loss multiplied by it.
    #[serde(default = "one_f64")]
    pub pos_weight: f64,
    /// How the decision threshold on the positive probability is set.
    pub threshold: DecisionThreshold,
    /// The threshold the run used (the fixed one, or the one chosen on the validation split).
    #[serde(default)]
    pub chosen: Option<f64>,
}

impl std::fmt::Display for DecisionThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed { threshold } => write!(f, "fixed at {threshold}"),
            Self::BestF1 => f.write_str("the best F1 on the validation split"),
            Self::MinRecall { recall } => {
                write!(
                    f,
                    "the best precision with recall ≥ {recall} on the validation split"
                )
            }
            Self::MinPrecision { precision } => write!(
                f,
                "the best recall with precision ≥ {precision} on the validation split"
            ),
        }
    }
}

/// The decision threshold of a binary head: fixed, or chosen on the validation split by a rule
/// of [`kiln_eval::threshold`] and then applied unchanged to the test split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum DecisionThreshold {
    /// Positive when the probability is at least this.
    Fixed {
        /// The threshold.
        threshold: f64,
    },
    /// The validation split's best-F1 threshold.
    BestF1,
    /// The highest validation precision with recall at least this.
    MinRecall {
        /// The recall to keep.
        recall: f64,
    },
    /// The highest validation recall with precision at least this.
    MinPrecision {
        /// The precision to keep.
        precision: f64,
    },
}

/// Fine-tuning from imported weights ([`kiln_models::import_weights`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pretrained {
    /// A PyTorch state dict (`.pth`/`.pt`), a `.safetensors` file or a kiln `.bpk` checkpoint.
    pub weights: PathBuf,
    /// Train only the head ([`kiln_models::freeze_backbone`]).
    #[serde(default)]
    pub freeze_backbone: bool,
}

/// One class kept at a fraction of its images ([`kiln_data::keep_class_fraction`]), in the
/// training file (before the validation split) and in the test file alike.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RareClass {
    /// The class index.
    pub class: usize,
    /// The fraction of its images kept, in (0, 1].
    pub fraction: f64,
}

/// What to monitor and what to do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// `valid_<metric>` or `train_<metric>` ([`crate::Monitor::parse`]).
    pub metric: String,
    /// Lower or higher is better [default: min for the loss, max otherwise].
    pub mode: Option<Mode>,
    /// Stop after this many epochs without improvement.
    pub early_stopping_patience: Option<usize>,
    /// The smallest change that counts as an improvement for early stopping.
    #[serde(default)]
    pub min_delta: f64,
    /// Keep the best epoch's weights as `model-best.bpk`.
    #[serde(default)]
    pub save_best: bool,
}

impl RunConfig<()> {
    /// A run of the registered architecture `architecture` on `dataset`, writing into
    /// `artifact_dir`, with `kiln train`'s defaults: the default recipe ([`TrainingConfig`]),
    /// 1/12 of the training file held out for validation, the leakage check on, one device.
    /// Change any field, then run it by name with [`crate::Registry::train`].
    pub fn new(
        dataset: impl Into<DatasetSource>,
        architecture: &str,
        artifact_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            dataset: dataset.into(),
            data_dir: None,
            offline: false,
            limit: None,
            valid_size: None,
            architecture: architecture.to_string(),
            model: (),
            training: TrainingConfig::new(),
            artifact_dir: artifact_dir.into(),
            backend: None,
            metrics: Vec::new(),
            monitor: None,
            rare_class: None,
            stratify: false,
            leakage_check: true,
            dedupe: false,
            diagnostics: DiagnosticThresholds::default(),
            pretrained: None,
            keep_checkpoints: 0,
            devices: 1,
            device_list: Vec::new(),
            replica_norm: ReplicaNorm::default(),
            positive_class: None,
            binary_head: None,
            tensorboard: true,
            evaluation: EvaluationConfig::default(),
        }
    }
}

impl<A> RunConfig<A> {
    /// The same run with the architecture configuration `model`.
    pub fn with_model<B>(self, model: B) -> RunConfig<B> {
        RunConfig {
            dataset: self.dataset,
            data_dir: self.data_dir,
            offline: self.offline,
            limit: self.limit,
            valid_size: self.valid_size,
            architecture: self.architecture,
            model,
            training: self.training,
            artifact_dir: self.artifact_dir,
            backend: self.backend,
            metrics: self.metrics,
            monitor: self.monitor,
            rare_class: self.rare_class,
            stratify: self.stratify,
            leakage_check: self.leakage_check,
            dedupe: self.dedupe,
            diagnostics: self.diagnostics,
            pretrained: self.pretrained,
            keep_checkpoints: self.keep_checkpoints,
            devices: self.devices,
            device_list: self.device_list,
            replica_norm: self.replica_norm,
            positive_class: self.positive_class,
            binary_head: self.binary_head,
            tensorboard: self.tensorboard,
            evaluation: self.evaluation,
        }
    }

    /// The class names of the task: the dataset's, or `not <C>` and `<C>` one-vs-rest.
    pub fn class_names(&self) -> Vec<String> {
        let names = self.dataset.class_names();
        match self.positive_class {
            Some(c) => {
                let name = names.get(c).cloned().unwrap_or_else(|| c.to_string());
                vec![format!("not {name}"), name]
            }
            None => names,
        }
    }

    /// The model's outputs: one logit with a binary head, else one per class.
    pub fn outputs(&self) -> usize {
        match self.binary_head {
            Some(_) => 1,
            None => self.class_names().len(),
        }
    }

    /// The sizes an architecture is built for: the task's outputs ([`Self::outputs`]), the
    /// dataset's channels and image size.
    pub fn model_spec(&self) -> kiln_models::ModelSpec {
        kiln_models::ModelSpec::new(
            self.outputs(),
            self.dataset.channels(),
            self.dataset.image_size(),
        )
    }

    /// Validation images for a training file of `train_len` images.
    pub fn valid_len(&self, train_len: usize) -> usize {
        self.valid_size.unwrap_or(train_len / 12)
    }
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

#[cfg(test)]
#[path = "tests/config.rs"]
mod tests;
