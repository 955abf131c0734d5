//! `kiln train`, shared by the `kiln` binary and `examples/mnist.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kiln_data::augment::Augmentation;
use kiln_data::folder::Unreadable;
use kiln_data::{DatasetName, DatasetSource, FolderSource};
use kiln_eval::{MetricSpec, class_index};
use kiln_models::ModelSpec;
use kiln_train::{
    BinaryHead, ClassWeights, DecisionThreshold, GradClipping, LrSchedule, Mode, Monitor,
    MonitorConfig, OptimizerConfig, Pretrained, Progress, RareClass, RunConfig, RunOptions,
    RunOutcome, Sampler, TrainError, TrainingConfig,
};

use super::diagnostic_args::DiagnosticArgs;
use super::registry::Registry;
use crate::backend::{self, Backend, BackendError};

/// Flags of `kiln train` (and of the `mnist` example).
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// A `.toml` FILE: flag settings, one key per flag (`epochs = 30`, `lr-milestones = [15,
    /// 25]`), overridden by flags on the command line. A run's `config.json`: run it again,
    /// every setting as recorded (dataset, split, architecture, recipe, seed); only
    /// --artifact-dir and --backend may be given with it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue the run in DIR from its last saved training state (`DIR/training-state/`: every
    /// epoch's end, or where Ctrl-C stopped it) to exactly the result it would have reached
    /// uninterrupted; every setting comes from `DIR/config.json` (only --backend may be
    /// given with it).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// Dataset: mnist, fashion-mnist, kmnist, cifar10 or cifar100.
    #[arg(long, default_value = "fashion-mnist", conflicts_with = "image_folder")]
    pub dataset: DatasetName,
    /// Train on your own images instead: ROOT/train/<class>/<image> and ROOT/test/<class>/<image>
    /// (or ROOT/val/…); PNG, JPEG or BMP; classes are the sorted directory names.
    #[arg(long, value_name = "ROOT")]
    pub image_folder: Option<PathBuf>,
    /// With --image-folder: every image is resized (shorter side, bilinear) and center-cropped
    /// to SIZE×SIZE.
    #[arg(long, value_name = "SIZE", default_value_t = 32)]
    pub image_size: u32,
    /// With --image-folder: 1 (grayscale) or 3 (RGB).
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// With --image-folder: what to do with an image file that cannot be decoded: fail (name
    /// it and stop) or skip (leave it out, list it, count it).
    #[arg(long, value_name = "POLICY", default_value = "fail")]
    pub on_unreadable: Unreadable,
    /// Architecture (`kiln models` lists them).
    #[arg(long, default_value = "mnist-cnn")]
    pub model: String,
    /// Start from these weights: a PyTorch state dict (.pth/.pt, e.g. torchvision's ResNets),
    /// .safetensors, or a kiln .bpk. A head for another class count is replaced.
    #[arg(long, value_name = "FILE")]
    pub pretrained: Option<PathBuf>,
    /// With --pretrained: train only the head (frozen batch norms use their running
    /// statistics).
    #[arg(long, requires = "pretrained")]
    pub freeze_backbone: bool,
    /// Directory holding the dataset's four IDX files (.gz or raw); searched first.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download; only use files already on disk.
    #[arg(long)]
    pub offline: bool,
    /// Passes over the training split.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Samples per optimizer step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Peak learning rate (linear warm-up over 100 steps, at most a fifth of the run; cosine
    /// decay to 0).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Optimizer: adam (β 0.9/0.999, ε 1e-5), adamw (decoupled weight decay) or sgd.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerChoice,
    /// With --optimizer sgd: momentum (no dampening, as PyTorch) [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// With --optimizer sgd: Nesterov momentum.
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay: an L2 term added to the gradient (sgd, adam) or decoupled (adamw)
    /// [default: 0; adamw 0.01, as PyTorch].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Rescale each parameter's gradient to at most this L2 norm before the step.
    #[arg(long, value_name = "MAX", conflicts_with = "clip_grad_value")]
    pub clip_grad_norm: Option<f32>,
    /// Clamp every gradient element to ±this before the step.
    #[arg(long, value_name = "MAX")]
    pub clip_grad_value: Option<f32>,
    /// Sum the gradients of K batches per optimizer step, each loss divided by the number of
    /// batches in its group (K; fewer for the last group of an epoch): an effective batch of
    /// K × --batch-size.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub accumulate_grad_batches: usize,
    /// Label smoothing α of the training loss, in [0, 1).
    #[arg(long, value_name = "ALPHA")]
    pub label_smoothing: Option<f32>,
    /// Weight the training loss per class: `balanced` (scikit-learn's n / (K · count), from
    /// the training split) or a FILE with one positive weight per class.
    #[arg(long, value_name = "balanced|FILE")]
    pub class_weights: Option<String>,
    /// How each epoch draws the training images: shuffle (each once, seeded order) or balanced
    /// (as many draws as images, with replacement, every class equally likely — PyTorch's
    /// WeightedRandomSampler with 1/count weights).
    #[arg(long, value_enum, default_value = "shuffle")]
    pub sampler: SamplerChoice,
    /// Keep the learning rate constant instead of warm-up + cosine decay (= --schedule
    /// constant).
    #[arg(long, conflicts_with = "schedule")]
    pub constant_lr: bool,
    /// Learning-rate schedule, a pure function of the step: cosine (warm-up, then cosine decay
    /// to 0; the default), constant, step (× --lr-gamma every --lr-step-epochs), multistep
    /// (× --lr-gamma at each of --lr-milestones), onecycle (PyTorch's OneCycleLR, --lr as
    /// max_lr).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleChoice>,
    /// Steps of linear warm-up before cosine, constant, step or multistep [default: 100 for
    /// cosine, 0 otherwise]; at most a fifth of the run.
    #[arg(long, value_name = "STEPS")]
    pub warmup_steps: Option<usize>,
    /// With --schedule step: epochs between decays [default: 30].
    #[arg(long, value_name = "EPOCHS")]
    pub lr_step_epochs: Option<usize>,
    /// With --schedule multistep: the epochs (0-based) at which the rate decays, e.g. 30,60.
    #[arg(long, value_name = "EPOCHS", value_delimiter = ',')]
    pub lr_milestones: Vec<usize>,
    /// With --schedule step or multistep: the decay factor [default: 0.1].
    #[arg(long, value_name = "GAMMA")]
    pub lr_gamma: Option<f64>,
    /// Training-time augmentation, seeded (validation and test images are never augmented):
    /// none; crop-flip (4-pixel padded random crop + horizontal flip, the CIFAR recipe);
    /// affine (±10° rotation, ±10% shift and scale, for digits and clothing); dataset (CIFAR and
    /// image folders crop-flip, the MNIST family affine).
    #[arg(long, value_enum, default_value = "none")]
    pub augment: AugmentChoice,
    /// Threads assembling batches ahead of the model (0: on the training thread). Results
    /// do not depend on it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub loader_workers: usize,
    /// Seed for initialization, dropout, the validation split and data order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Use at most N images from each of the training and test files.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Validation images held out of the training file [default: 1/12 of it].
    #[arg(long, value_name = "N")]
    pub valid_size: Option<usize>,
    /// Artifact directory [default: artifacts/<dataset>-<model>].
    #[arg(long)]
    pub artifact_dir: Option<PathBuf>,
    /// Backend [default: the first usable compiled one, GPU before CPU].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Extra metric logged per epoch in metrics.csv: accuracy, balanced_accuracy,
    /// macro_precision, macro_recall, macro_f1, weighted_f1, cohen_kappa, mcc, or
    /// precision|recall|f1|specificity:<class name or index>. Repeatable.
    #[arg(long = "metric", value_name = "METRIC")]
    pub metrics: Vec<String>,
    /// Quantity to monitor: valid_<metric> or train_<metric>, <metric> being `loss` or any
    /// --metric name (e.g. valid_loss, valid_macro_f1, valid_recall:Shirt).
    #[arg(long)]
    pub monitor: Option<String>,
    /// With --monitor: min or max is better [default: min for loss, max otherwise].
    #[arg(long, requires = "monitor")]
    pub mode: Option<Mode>,
    /// With --monitor: stop after this many epochs without improvement.
    #[arg(long, value_name = "PATIENCE", requires = "monitor")]
    pub early_stopping: Option<usize>,
    /// With --early-stopping: the smallest change that counts as an improvement.
    #[arg(long, default_value_t = 0.0, requires = "early_stopping")]
    pub min_delta: f64,
    /// With --monitor: keep the best epoch's weights as model-best.bpk.
    #[arg(long, requires = "monitor")]
    pub save_best: bool,
    /// Keep N epochs' weights in <artifact-dir>/checkpoints/epoch-NNN.bpk: the N best by
    /// --monitor, or the N latest without it (Lightning's save_top_k).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_checkpoints: usize,
    /// Train data-parallel on N devices of the backend (each batch split over them, gradients
    /// summed on the first; Burn's multi-device strategy): N GPUs with wgpu/cuda; on the CPU
    /// backends N replicas of the one CPU device, taking turns. Models with batch norm are
    /// refused (Burn 0.22 would update their running statistics once per replica).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub devices: usize,
    /// Make the data imbalanced: keep only --rare-fraction of this class (name or index) in
    /// the training, validation and test splits.
    #[arg(long, value_name = "CLASS")]
    pub rare_class: Option<String>,
    /// One-vs-rest: train and evaluate CLASS (name or index) against all the others (classes
    /// `not CLASS` = 0 and `CLASS` = 1), in every split.
    #[arg(long, value_name = "CLASS")]
    pub positive_class: Option<String>,
    /// A one-logit head for a two-class task: sigmoid and binary cross-entropy
    /// (`BCEWithLogitsLoss`) instead of a two-class softmax.
    #[arg(long)]
    pub binary_head: bool,
    /// With --binary-head: PyTorch's pos_weight, the positive images' loss multiplied by it.
    #[arg(
        long,
        value_name = "W",
        default_value_t = 1.0,
        requires = "binary_head"
    )]
    pub pos_weight: f64,
    /// With --binary-head: the decision threshold on the positive probability — a number, or
    /// chosen on the validation split (then applied unchanged to test): `best-f1`,
    /// `recall:R` (highest precision with recall ≥ R), `precision:P` (highest recall with
    /// precision ≥ P).
    #[arg(
        long,
        value_name = "RULE",
        default_value = "0.5",
        requires = "binary_head"
    )]
    pub threshold: String,
    /// With --rare-class: the fraction of its images kept.
    #[arg(long, default_value_t = 0.01, requires = "rare_class")]
    pub rare_fraction: f64,
    /// Draw the validation split per class, in proportion to the class sizes (stratified), so
    /// a rare class is represented in it as in the training file.
    #[arg(long)]
    pub stratify: bool,
    /// Skip the check for training images duplicated (exactly or nearly) in the validation or
    /// test split, which otherwise runs when training starts and is written to leakage.json.
    #[arg(long, conflicts_with = "dedupe")]
    pub no_leakage_check: bool,
    /// Drop training images that duplicate a validation or test image (exactly or nearly; see
    /// `kiln data leakage`).
    #[arg(long)]
    pub dedupe: bool,
    /// Diagnostic thresholds (recorded in config.json; `kiln eval` uses them).
    #[command(flatten)]
    pub diagnostics: DiagnosticArgs,
}

/// `--sampler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerChoice {
    /// Every image once per epoch.
    Shuffle,
    /// Classes drawn equally often, with replacement.
    Balanced,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleChoice {
    /// Warm-up, then cosine decay to 0.
    Cosine,
    /// Constant (after an optional warm-up).
    Constant,
    /// StepLR.
    Step,
    /// MultiStepLR.
    Multistep,
    /// OneCycleLR.
    Onecycle,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerChoice {
    /// Adam.
    Adam,
    /// AdamW.
    Adamw,
    /// SGD.
    Sgd,
}

/// `--augment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AugmentChoice {
    /// No augmentation.
    None,
    /// The dataset's usual recipe.
    Dataset,
    /// Padded random crop and horizontal flip.
    CropFlip,
    /// Small random rotation, shift and scale.
    Affine,
}

impl AugmentChoice {
    /// The augmentation for `dataset`.
    pub fn resolve(self, dataset: &DatasetSource) -> Augmentation {
        match self {
            Self::None => Augmentation::NONE,
            Self::CropFlip => Augmentation::CROP_FLIP,
            Self::Affine => Augmentation::AFFINE,
            Self::Dataset => match dataset {
                DatasetSource::Named(DatasetName::Cifar10 | DatasetName::Cifar100)
                | DatasetSource::Folder(_) => Augmentation::CROP_FLIP,
                DatasetSource::Named(_) => Augmentation::AFFINE,
            },
        }
    }
}

/// Anything `kiln train` can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A flag's value is unusable.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No backend could be used.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] kiln_train::TrainError),
    /// Evaluating or writing a report failed.
    #[error(transparent)]
    Eval(#[from] kiln_eval::EvalError),
}

impl CliError {
    /// Process exit code: 2 for bad flags or input files (as clap), 3 for missing data, 130
    /// for a run interrupted by Ctrl-C (as a shell reports SIGINT), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Flag { .. }
            | Self::Backend(BackendError::NotCompiled(_) | BackendError::TooFewDevices { .. }) => 2,
            Self::Train(TrainError::Interrupted { .. }) => 130,
            Self::Train(TrainError::Data(kiln_data::DataError::NotFound { .. })) => 3,
            Self::Eval(kiln_eval::EvalError::Csv { .. })
            | Self::Train(TrainError::Import(_))
            | Self::Train(TrainError::Data(
                kiln_data::DataError::Image { .. } | kiln_data::DataError::Folder { .. },
            )) => 2,
            _ => 1,
        }
    }
}

/// The sizes an architecture is built for: the task's outputs (one logit with a binary head,
/// else one per class), the dataset's channels and image size.
pub fn model_spec<A>(config: &RunConfig<A>) -> ModelSpec {
    ModelSpec::new(
        config.outputs(),
        config.dataset.channels(),
        config.dataset.image_size(),
    )
}

impl TrainArgs {
    /// The dataset these flags select: `--dataset`, or `--image-folder` (its layout checked and
    /// its class names read).
    pub fn dataset_source(&self) -> Result<DatasetSource, CliError> {
        let Some(root) = &self.image_folder else {
            let explicit = [
                ("--image-size", self.image_size != 32),
                ("--channels", self.channels != 3),
                ("--on-unreadable", self.on_unreadable != Unreadable::Fail),
            ];
            if let Some((flag, _)) = explicit.into_iter().find(|(_, set)| *set) {
                return Err(CliError::Flag {
                    flag,
                    message: "only applies with --image-folder".into(),
                });
            }
            return Ok(DatasetSource::Named(self.dataset));
        };
        let flag_error = |flag, e: kiln_data::DataError| match e {
            kiln_data::DataError::InvalidRequest(message) => CliError::Flag { flag, message },
            other => CliError::Train(other.into()),
        };
        if self.channels != 1 && self.channels != 3 {
            return Err(CliError::Flag {
                flag: "--channels",
                message: format!("must be 1 (grayscale) or 3 (RGB), got {}", self.channels),
            });
        }
        FolderSource::scan(root, self.image_size, self.channels, self.on_unreadable)
            .map(DatasetSource::Folder)
            .map_err(|e| flag_error("--image-size", e))
    }

    /// The run these flags describe, the architecture (`--model`, named in
    /// `architecture`) still to be configured for [`model_spec`] of its dataset.
    pub fn run_config(&self) -> Result<RunConfig<()>, CliError> {
        let dataset = self.dataset_source()?;
        let counts = [
            ("--epochs", Some(self.epochs)),
            ("--batch-size", Some(self.batch_size)),
            ("--limit", self.limit),
        ];
        for (flag, value) in counts.into_iter().filter_map(|(f, v)| Some((f, v?))) {
            if value == 0 {
                return Err(CliError::Flag {
                    flag,
                    message: "must be at least 1".into(),
                });
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(CliError::Flag {
                flag: "--lr",
                message: format!("must be a positive number, got {}", self.lr),
            });
        }
        let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
        if self.optimizer != OptimizerChoice::Sgd {
            if self.momentum.is_some() || self.nesterov {
                return Err(flag(
                    if self.nesterov {
                        "--nesterov"
                    } else {
                        "--momentum"
                    },
                    "applies to --optimizer sgd only".into(),
                ));
            }
        }
        let momentum = self.momentum.unwrap_or(0.9);
        if !(momentum.is_finite() && (0.0..1.0).contains(&momentum)) {
            return Err(flag(
                "--momentum",
                format!("must be in [0, 1), got {momentum}"),
            ));
        }
        if self.nesterov && momentum == 0.0 {
            return Err(flag("--nesterov", "needs a momentum above 0".into()));
        }
        let non_negative = |name: &'static str, v: f32| match v.is_finite() && v >= 0.0 {
            true => Ok(v),
            false => Err(flag(
                name,
                format!("must be a non-negative number, got {v}"),
            )),
        };
        let default_decay = match self.optimizer {
            OptimizerChoice::Adamw => 0.01,
            _ => 0.0,
        };
        let weight_decay =
            non_negative("--weight-decay", self.weight_decay.unwrap_or(default_decay))?;
        let optimizer = match self.optimizer {
            OptimizerChoice::Sgd => OptimizerConfig::Sgd {
                momentum,
                nesterov: self.nesterov,
                weight_decay,
            },
            OptimizerChoice::Adam => OptimizerConfig::Adam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-5,
                weight_decay,
            },
            OptimizerChoice::Adamw => OptimizerConfig::AdamW {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-5,
                weight_decay,
            },
        };
        let positive = |name: &'static str, v: f32| match v.is_finite() && v > 0.0 {
            true => Ok(v),
            false => Err(flag(name, format!("must be a positive number, got {v}"))),
        };
        let grad_clipping = match (self.clip_grad_norm, self.clip_grad_value) {
            (Some(n), _) => Some(GradClipping::Norm(positive("--clip-grad-norm", n)?)),
            (None, Some(v)) => Some(GradClipping::Value(positive("--clip-grad-value", v)?)),
            (None, None) => None,
        };
        if self.accumulate_grad_batches == 0 {
            return Err(flag(
                "--accumulate-grad-batches",
                "must be at least 1".into(),
            ));
        }
        if let Some(a) = self.label_smoothing.filter(|a| !(0.0..1.0).contains(a)) {
            return Err(flag(
                "--label-smoothing",
                format!("must be in [0, 1), got {a}"),
            ));
        }
        let class_weights = match self.class_weights.as_deref() {
            None => None,
            Some("balanced") => Some(ClassWeights::Balanced),
            Some(path) => {
                let weights = ClassWeights::from_file(std::path::Path::new(path))
                    .map_err(|e| flag("--class-weights", e.to_string()))?;
                if let ClassWeights::Values(v) = &weights {
                    let k = dataset.class_names().len();
                    if v.len() != k || v.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
                        return Err(flag(
                            "--class-weights",
                            format!(
                                "{path}: needs {k} positive numbers (one per class), found {v:?}"
                            ),
                        ));
                    }
                }
                Some(weights)
            }
        };
        let mut training = TrainingConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_lr(self.lr)
            .with_seed(self.seed)
            .with_loader_workers(self.loader_workers)
            .with_augmentation(self.augment.resolve(&dataset))
            .with_optimizer(optimizer)
            .with_grad_clipping(grad_clipping)
            .with_grad_accumulation(self.accumulate_grad_batches)
            .with_label_smoothing(self.label_smoothing)
            .with_class_weights(class_weights)
            .with_sampler(match self.sampler {
                SamplerChoice::Shuffle => Sampler::Shuffle,
                SamplerChoice::Balanced => Sampler::Balanced,
            });
        let choice = match self.constant_lr {
            true => ScheduleChoice::Constant,
            false => self.schedule.unwrap_or(ScheduleChoice::Cosine),
        };
        let warmup = self.warmup_steps;
        let only_with = |given: bool, name: &'static str, schedules: &[ScheduleChoice]| match given
            && !schedules.contains(&choice)
        {
            true => Err(flag(
                name,
                format!("applies to --schedule {schedules:?} only"),
            )),
            false => Ok(()),
        };
        use ScheduleChoice::{Multistep, Step};
        only_with(self.lr_step_epochs.is_some(), "--lr-step-epochs", &[Step])?;
        only_with(
            !self.lr_milestones.is_empty(),
            "--lr-milestones",
            &[Multistep],
        )?;
        only_with(self.lr_gamma.is_some(), "--lr-gamma", &[Step, Multistep])?;
        let gamma = self.lr_gamma.unwrap_or(0.1);
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(flag(
                "--lr-gamma",
                format!("must be a positive number, got {gamma}"),
            ));
        }
        let schedule = match choice {
            ScheduleChoice::Cosine => LrSchedule::WarmupCosine {
                warmup_steps: warmup.unwrap_or(100),
                min_ratio: 0.0,
            },
            ScheduleChoice::Constant => match warmup.unwrap_or(0) {
                0 => LrSchedule::Constant,
                w => LrSchedule::WarmupConstant { warmup_steps: w },
            },
            ScheduleChoice::Step => {
                let step_epochs = self.lr_step_epochs.unwrap_or(30);
                if step_epochs == 0 {
                    return Err(flag("--lr-step-epochs", "must be at least 1".into()));
                }
                LrSchedule::Step {
                    warmup_steps: warmup.unwrap_or(0),
                    step_epochs,
                    gamma,
                }
            }
            ScheduleChoice::Multistep => {
                if self.lr_milestones.is_empty() {
                    return Err(flag(
                        "--lr-milestones",
                        "--schedule multistep needs the epochs, e.g. --lr-milestones 30,60".into(),
                    ));
                }
                LrSchedule::MultiStep {
                    warmup_steps: warmup.unwrap_or(0),
                    milestones: self.lr_milestones.clone(),
                    gamma,
                }
            }
            ScheduleChoice::Onecycle => {
                if warmup.is_some() {
                    return Err(flag(
                        "--warmup-steps",
                        "--schedule onecycle warms up by itself (30% of the run)".into(),
                    ));
                }
                LrSchedule::ONE_CYCLE
            }
        };
        training = training.with_schedule(schedule);
        let class_names = dataset.class_names();
        for m in &self.metrics {
            MetricSpec::parse(m, &class_names).map_err(|e| CliError::Flag {
                flag: "--metric",
                message: e.to_string(),
            })?;
        }
        let monitor = match &self.monitor {
            None => None,
            Some(name) => {
                Monitor::parse(name, self.mode, &class_names).map_err(|e| CliError::Flag {
                    flag: "--monitor",
                    message: e.to_string(),
                })?;
                if self.early_stopping == Some(0) {
                    return Err(CliError::Flag {
                        flag: "--early-stopping",
                        message: "patience must be at least 1".into(),
                    });
                }
                if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
                    return Err(CliError::Flag {
                        flag: "--min-delta",
                        message: format!("must be a non-negative number, got {}", self.min_delta),
                    });
                }
                Some(MonitorConfig {
                    metric: name.clone(),
                    mode: self.mode,
                    early_stopping_patience: self.early_stopping,
                    min_delta: self.min_delta,
                    save_best: self.save_best,
                })
            }
        };
        // A class flag's value: a class name or index of the dataset.
        let class = |flag: &'static str, name: &str| {
            class_index(name, &class_names).ok_or_else(|| CliError::Flag {
                flag,
                message: format!(
                    "`{name}` is not a class of {} ({} or 0..{})",
                    dataset,
                    class_names.join(", "),
                    class_names.len()
                ),
            })
        };
        let positive_class = match &self.positive_class {
            None => None,
            Some(name) => Some(class("--positive-class", name)?),
        };
        let binary_head = match self.binary_head {
            false => None,
            true => {
                let bad = |message: String| CliError::Flag {
                    flag: "--binary-head",
                    message,
                };
                if positive_class.is_none() && class_names.len() != 2 {
                    return Err(bad(format!(
                        "needs a two-class task: {dataset} has {} classes (add --positive-class)",
                        class_names.len()
                    )));
                }
                if !(self.pos_weight.is_finite() && self.pos_weight > 0.0) {
                    return Err(CliError::Flag {
                        flag: "--pos-weight",
                        message: format!("must be a positive number, got {}", self.pos_weight),
                    });
                }
                Some(BinaryHead {
                    pos_weight: self.pos_weight,
                    threshold: parse_threshold(&self.threshold)?,
                    chosen: None,
                })
            }
        };
        let rare_class = match &self.rare_class {
            None => None,
            Some(name) => Some(RareClass {
                class: class("--rare-class", name)?,
                fraction: match self.rare_fraction {
                    f if f > 0.0 && f <= 1.0 => f,
                    f => {
                        return Err(CliError::Flag {
                            flag: "--rare-fraction",
                            message: format!("must be in (0, 1], got {f}"),
                        });
                    }
                },
            }),
        };
        let artifact_dir = self.artifact_dir.clone().unwrap_or_else(|| {
            PathBuf::from("artifacts").join(format!("{}-{}", dataset.name(), self.model))
        });
        if self.image_folder.is_some() && self.data_dir.is_some() {
            return Err(CliError::Flag {
                flag: "--data-dir",
                message: "does not apply with --image-folder (its ROOT is the data)".into(),
            });
        }
        Ok(RunConfig {
            dataset,
            data_dir: self.data_dir.clone(),
            offline: self.offline,
            limit: self.limit,
            valid_size: self.valid_size,
            architecture: self.model.clone(),
            model: (),
            training,
            artifact_dir,
            backend: self.backend.map(|b| b.to_string()),
            metrics: self.metrics.clone(),
            monitor,
            rare_class,
            stratify: self.stratify,
            leakage_check: !self.no_leakage_check,
            dedupe: self.dedupe,
            diagnostics: self.diagnostics.apply(Default::default())?,
            pretrained: self.pretrained.as_ref().map(|weights| Pretrained {
                weights: weights.clone(),
                freeze_backbone: self.freeze_backbone,
            }),
            keep_checkpoints: self.keep_checkpoints,
            devices: self.devices,
            positive_class,
            binary_head,
        })
    }
}

/// `--threshold`: a probability, `best-f1`, `recall:R` or `precision:P`.
fn parse_threshold(text: &str) -> Result<DecisionThreshold, CliError> {
    let bad = || CliError::Flag {
        flag: "--threshold",
        message: format!(
            "`{text}` is not a probability in [0, 1], best-f1, recall:R or precision:P"
        ),
    };
    let unit = |v: &str| {
        v.parse::<f64>()
            .ok()
            .filter(|x| (0.0..=1.0).contains(x))
            .ok_or_else(bad)
    };
    Ok(match text.split_once(':') {
        None if text == "best-f1" => DecisionThreshold::BestF1,
        None => DecisionThreshold::Fixed {
            threshold: unit(text)?,
        },
        Some(("recall", r)) => DecisionThreshold::MinRecall { recall: unit(r)? },
        Some(("precision", p)) => DecisionThreshold::MinPrecision {
            precision: unit(p)?,
        },
        Some(_) => return Err(bad()),
    })
}

/// Refuses any flag of `args` beyond `allowed` ones (already cleared in `rest`): with
/// `flag`, the settings come from a recorded file and another flag would be silently ignored.
fn refuse_other_flags(rest: &TrainArgs, flag: &'static str, allowed: &str) -> Result<(), CliError> {
    let defaults = <TrainCommand as clap::Parser>::parse_from(["train"]).args;
    match format!("{rest:?}") == format!("{defaults:?}") {
        true => Ok(()),
        false => Err(CliError::Flag {
            flag,
            message: format!(
                "only {allowed} may be given with it; the other settings come from the \
                 recorded config.json"
            ),
        }),
    }
}

/// The backend of a recorded `config.json` unless `--backend` says otherwise.
fn recorded_backend(
    args: &TrainArgs,
    value: &serde_json::Value,
) -> Result<backend::Selected, CliError> {
    let recorded = value["backend"]
        .as_str()
        .and_then(|b| <Backend as clap::ValueEnum>::from_str(b, true).ok());
    let selected = backend::select(args.backend.or(recorded))?;
    println!("{selected}");
    Ok(selected)
}

/// A flag set by the first Ctrl-C (SIGINT), which the training loop reads after every
/// optimizer step to save its state and stop; a second Ctrl-C exits at once (code 130). The
/// handlers are installed once per process; each run starts with the flag cleared.
fn interrupt_on_ctrl_c() -> Option<Arc<AtomicBool>> {
    static FLAG: std::sync::OnceLock<Option<Arc<AtomicBool>>> = std::sync::OnceLock::new();
    let flag = FLAG
        .get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let sigint = signal_hook::consts::SIGINT;
            // Registered first, so it sees the flag before the first Ctrl-C sets it.
            signal_hook::flag::register_conditional_shutdown(sigint, 130, flag.clone()).ok()?;
            signal_hook::flag::register(sigint, flag.clone()).ok()?;
            Some(flag)
        })
        .clone()?;
    flag.store(false, std::sync::atomic::Ordering::Relaxed);
    Some(flag)
}

/// The devices a recorded run trained on (1 when not recorded).
fn recorded_devices(value: &serde_json::Value) -> usize {
    value["devices"].as_u64().map_or(1, |n| n as usize)
}

/// Ctrl-C handling and the `devices` devices of the selected backend.
fn run_options(selected: &backend::Selected, devices: usize) -> Result<RunOptions, CliError> {
    let devices = match devices {
        0 => {
            return Err(CliError::Flag {
                flag: "--devices",
                message: "must be at least 1".into(),
            });
        }
        1 => Vec::new(),
        n => selected.backend.devices(n)?,
    };
    Ok(RunOptions {
        resume: false,
        interrupt: interrupt_on_ctrl_c(),
        devices,
    })
}

/// `kiln train --config FILE`: the recorded run again, into `--artifact-dir` if given.
fn replay(
    registry: &Registry,
    args: &TrainArgs,
    file: &std::path::Path,
) -> Result<RunOutcome, CliError> {
    let mut rest = args.clone();
    (rest.config, rest.artifact_dir, rest.backend) = (None, None, None);
    refuse_other_flags(&rest, "--config", "--artifact-dir and --backend")?;
    let value = super::registry::read_recorded(file)?;
    let selected = recorded_backend(args, &value)?;
    let options = run_options(&selected, recorded_devices(&value))?;
    let outcome = registry.replay(
        file,
        value,
        args.artifact_dir.as_deref(),
        &selected.backend.to_string(),
        &selected.device,
        vec![Box::new(Progress::default())],
        &options,
    )?;
    println!("\nTest classification report:\n");
    println!("{}", outcome.report.to_text(4));
    println!("{}", super::report::summary(&outcome.report));
    println!("artifacts: {}", outcome.artifact_dir.display());
    Ok(outcome)
}

/// `kiln train`'s flags alone, to know their defaults.
#[derive(clap::Parser)]
struct TrainCommand {
    #[command(flatten)]
    args: TrainArgs,
}

/// `kiln train`: picks the backend, trains, evaluates the test split, prints the report and
/// confusion matrix, and writes the artifacts.
pub fn train(args: &TrainArgs) -> Result<RunOutcome, CliError> {
    train_with(&Registry::builtin(), args)
}

/// [`train`] with the architectures of `registry`.
pub fn train_with(registry: &Registry, args: &TrainArgs) -> Result<RunOutcome, CliError> {
    let result = match (&args.config, &args.resume) {
        (Some(file), _) => replay(registry, args, file),
        (None, Some(dir)) => resume(registry, args, dir),
        (None, None) => train_new(registry, args),
    };
    if let Err(CliError::Train(TrainError::Interrupted {
        saved: Some(state), ..
    })) = &result
        && let Some(dir) = state.parent()
    {
        eprintln!("to continue: kiln train --resume {}", dir.display());
    }
    result
}

/// `kiln train --resume DIR`: the run in DIR continued from its saved state.
fn resume(
    registry: &Registry,
    args: &TrainArgs,
    dir: &std::path::Path,
) -> Result<RunOutcome, CliError> {
    let mut rest = args.clone();
    (rest.resume, rest.backend) = (None, None);
    refuse_other_flags(&rest, "--resume", "--backend")?;
    let value = super::registry::read_recorded(&dir.join(kiln_train::artifacts::CONFIG))?;
    let selected = recorded_backend(args, &value)?;
    let outcome = registry.resume(
        dir,
        &selected.backend.to_string(),
        &selected.device,
        vec![Box::new(Progress::default())],
        run_options(&selected, recorded_devices(&value))?,
    )?;
    if let Some(reason) = &outcome.stopped_early {
        println!("\n{reason}");
    }
    println!("\nTest classification report:\n");
    println!("{}", outcome.report.to_text(4));
    println!("{}", super::report::summary(&outcome.report));
    println!("artifacts: {}", outcome.artifact_dir.display());
    Ok(outcome)
}

/// A new run from the flags.
fn train_new(registry: &Registry, args: &TrainArgs) -> Result<RunOutcome, CliError> {
    let mut config = args.run_config()?;
    if config.training.class_weights.is_some() && config.training.sampler == Sampler::Balanced {
        eprintln!(
            "warning: --class-weights with --sampler balanced corrects the imbalance twice: the \
             sampler already shows every class equally often, and the weights then favour the \
             rare classes again (use one of them)"
        );
    }
    if !registry.contains(&args.model) {
        return Err(CliError::Flag {
            flag: "--model",
            message: format!(
                "unknown model `{}` (known: {})",
                args.model,
                registry.names().join(", ")
            ),
        });
    }
    let selected = backend::select(args.backend)?;
    println!("{selected}");
    config.backend = Some(selected.backend.to_string());
    let dataset = config.dataset.to_string();
    let outcome = registry.train(
        &model_spec(&config),
        config,
        &selected.device,
        vec![Box::new(Progress::default())],
        &run_options(&selected, args.devices)?,
    )?;
    if let (Some(report), Some(weights)) = (&outcome.import, &args.pretrained) {
        println!("\nstarted from {}", weights.display());
        for (name, found, model) in &report.replaced_head {
            println!("  head {name} replaced: {found:?} in the file, {model:?} trained here");
        }
        if args.freeze_backbone {
            println!("  backbone frozen: only the head was trained");
        }
    }
    if let Some(reason) = &outcome.stopped_early {
        println!("\n{reason}");
    }
    println!("\nTest classification report ({dataset}):\n");
    println!("{}", outcome.report.to_text(4));
    println!("{}", super::report::summary(&outcome.report));
    println!("Confusion matrix (rows = true label, columns = predicted):\n");
    println!("{}", outcome.report.confusion_text());
    println!("artifacts: {}", outcome.artifact_dir.display());
    Ok(outcome)
}
