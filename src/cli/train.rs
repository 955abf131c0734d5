//! `kiln train`, shared by the `kiln` binary and `examples/mnist.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kiln_data::augment::Augmentation;
use kiln_data::folder::Unreadable;
use kiln_data::mix::Mixing;
use kiln_data::{DatasetName, DatasetSource, FolderSource};
use kiln_eval::class_index;
use kiln_models::replicas::ReplicaNorm;
use kiln_train::ema::EmaConfig;
use kiln_train::plateau::Plateau;
use kiln_train::{
    BinaryHead, Calibration, ClassWeights, ConfigError, DecisionThreshold, DirPolicy,
    EvaluationConfig, GradClipping, LrSchedule, Mode, MonitorConfig, OptimizerConfig, Pretrained,
    Progress, RareClass, Registry, RunConfig, RunOptions, RunOutcome, Sampler, TrainError,
    TrainingConfig,
};

use super::config_file::FlagOrigin;
use super::diagnostic_args::DiagnosticArgs;
use super::error::CliError;
use super::error::Origin;
use super::evaluation_args::EvaluationArgs;
use crate::backend::{self, Backend};
use crate::remote::{self, DeviceList, DeviceSpec, Token};
use burn::tensor::Device;

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
    /// With --schedule plateau: epochs without improvement of --monitor (default valid_loss)
    /// tolerated before the rate drops [default: 10].
    #[arg(long, value_name = "EPOCHS")]
    pub plateau_patience: Option<usize>,
    /// With --schedule plateau: the rate's multiplier at a plateau [default: 0.1].
    #[arg(long, value_name = "FACTOR")]
    pub plateau_factor: Option<f64>,
    /// With --schedule plateau: epochs of rest after a drop [default: 0].
    #[arg(long, value_name = "EPOCHS")]
    pub plateau_cooldown: Option<usize>,
    /// With --schedule plateau: the least relative change that counts as an improvement
    /// [default: 1e-4].
    #[arg(long, value_name = "X")]
    pub plateau_threshold: Option<f64>,
    /// With --schedule plateau: the rate never drops below this [default: 0].
    #[arg(long, value_name = "LR")]
    pub min_lr: Option<f64>,
    /// With --schedule step: epochs between decays [default: 30].
    #[arg(long, value_name = "EPOCHS")]
    pub lr_step_epochs: Option<usize>,
    /// With --schedule multistep: the epochs (0-based) at which the rate decays, e.g. 30,60.
    #[arg(long, value_name = "EPOCHS", value_delimiter = ',')]
    pub lr_milestones: Vec<usize>,
    /// With --schedule step or multistep: the decay factor [default: 0.1].
    #[arg(long, value_name = "GAMMA")]
    pub lr_gamma: Option<f64>,
    /// Training-time augmentation, seeded (validation and test images are never augmented): a
    /// comma-separated pipeline of crop[:P], flip, crop-flip (4-pixel padded random crop +
    /// horizontal flip, the CIFAR recipe), affine[:DEG:SHIFT:SCALE] (±10° rotation, ±10% shift
    /// and scale, for digits and clothing), random-resized-crop[:MIN[:MAX]],
    /// color-jitter[:B:C:S:H], trivial-augment, rand-augment[:N:M], auto-augment (CIFAR-10
    /// policy), random-erasing[:P] (last; on the normalized image) — torchvision's transforms
    /// — or none, or dataset (CIFAR and image folders crop-flip, the MNIST family affine).
    #[arg(long, value_name = "PIPELINE", default_value = "none")]
    pub augment: String,
    /// Mixup's α: each batch blended with itself reversed by λ ~ Beta(α, α), soft targets
    /// (timm's Mixup; 0: off). Training accuracy is then counted against each image's dominant
    /// label.
    #[arg(long, value_name = "ALPHA")]
    pub mixup_alpha: Option<f32>,
    /// CutMix's α: a box of the reversed batch pasted into each image, λ ~ Beta(α, α) corrected
    /// to the area kept (timm's CutMix; 0: off).
    #[arg(long, value_name = "ALPHA")]
    pub cutmix_alpha: Option<f32>,
    /// With --mixup-alpha/--cutmix-alpha: the probability a batch is mixed.
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    pub mixup_prob: f32,
    /// With both --mixup-alpha and --cutmix-alpha: the probability a mixed batch uses CutMix.
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    pub mixup_switch_prob: f32,
    /// Keep an exponential moving average of the weights with this decay (e.g. 0.999; timm's
    /// --model-ema-decay); validation, checkpoints, model.bpk and the test report use it, the
    /// trained weights go to model-raw.bpk.
    #[arg(long, value_name = "DECAY")]
    pub ema_decay: Option<f64>,
    /// With --ema-decay: timm's warm-up of the decay, 1 − (1 + step)^(−2/3) until it reaches
    /// DECAY.
    #[arg(long, requires = "ema_decay")]
    pub ema_warmup: bool,
    /// Weight decay of the norm and bias parameters (every parameter of rank ≤ 1) instead of
    /// --weight-decay (torchvision's --norm-weight-decay; timm's recipes use 0).
    #[arg(long, value_name = "DECAY")]
    pub norm_weight_decay: Option<f32>,
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
    /// Artifact directory of the run; refused if it holds a run (continue that one with
    /// --resume, or replace it with --overwrite) [default: a new
    /// artifacts/<dataset>-<model>/version-N].
    #[arg(long)]
    pub artifact_dir: Option<PathBuf>,
    /// With --artifact-dir: delete the run it holds and train a new one in its place.
    #[arg(long, requires = "artifact_dir")]
    pub overwrite: bool,
    /// The default artifact directory's name, `artifacts/<name>/version-N` [default:
    /// <dataset>-<model>] (set by examples, not a flag).
    #[arg(skip)]
    pub run_name: Option<String>,
    /// Write no TensorBoard event files (by default, into <artifact-dir>/tensorboard/).
    #[arg(long)]
    pub no_tensorboard: bool,
    /// Calibrate the probabilities after training: `temperature` fits one temperature on the
    /// validation split (recorded in config.json) and applies it to the test report, `kiln
    /// eval`, `kiln predict` and `kiln report`.
    #[arg(long, value_enum)]
    pub calibrate: Option<CalibrateChoice>,
    /// Top-k and bootstrap flags of the test report.
    #[command(flatten)]
    pub evaluation: EvaluationArgs,
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
    /// summed on this machine's device; Burn's multi-device strategy): N GPUs with wgpu/cuda; on
    /// the CPU backends N replicas of the one CPU device. Or a comma-separated list of devices:
    /// `local` (the backend's next device) and servers other machines run with `kiln serve`,
    /// ws://HOST:PORT or iroh://SERVER-ID[@HOST:PORT] (built with --features remote). Batch
    /// norm: see --replica-norm.
    #[arg(long, value_name = "N|LIST", default_value = "1")]
    pub devices: DeviceList,
    /// With remote --devices: the servers' token, read from this file (or else from
    /// KILN_REMOTE_TOKEN). Never recorded.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With --devices: how batch norms normalize a batch split over the devices. `synchronized`:
    /// with the whole batch's statistics (PyTorch's SyncBatchNorm), the same step as one device;
    /// `per-replica`: each shard with its own (plain DDP). The running statistics move once per
    /// batch either way.
    #[arg(long, value_name = "MODE", default_value = "synchronized")]
    pub replica_norm: ReplicaNorm,
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
    /// The flags a `--config FILE.toml` set ([`super::expand_config`]), for naming the file and
    /// key of an invalid setting.
    #[arg(skip)]
    pub origins: Vec<FlagOrigin>,
}

/// `--sampler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerChoice {
    /// Every image once per epoch.
    Shuffle,
    /// Classes drawn equally often, with replacement.
    Balanced,
}

/// `--calibrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CalibrateChoice {
    /// Temperature scaling (Guo et al., 2017).
    Temperature,
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
    /// ReduceLROnPlateau on --monitor (default valid_loss).
    Plateau,
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
                return Err(flag_error(flag, "only applies with --image-folder"));
            }
            return Ok(DatasetSource::Named(self.dataset));
        };
        if self.channels != 1 && self.channels != 3 {
            return Err(flag_error(
                "--channels",
                format!("must be 1 (grayscale) or 3 (RGB), got {}", self.channels),
            ));
        }
        FolderSource::scan(root, self.image_size, self.channels, self.on_unreadable)
            .map(DatasetSource::Folder)
            .map_err(|e| match e {
                kiln_data::DataError::InvalidRequest(message) => CliError::Flag {
                    flag: "--image-size",
                    message,
                },
                other => CliError::Train(other.into()),
            })
    }

    /// The run these flags describe, checked ([`RunConfig::plan`]); the architecture
    /// (`--model`, named in `architecture`) is still to be configured for the run's sizes.
    /// Here only what flags alone can get wrong is checked (a flag of another optimizer or
    /// schedule, an unreadable file, a class name); every range and rule between settings is
    /// the plan's, reported under the flag (or the `.toml` key) that set it.
    pub fn run_config(&self) -> Result<RunConfig<()>, CliError> {
        let dataset = self.dataset_source()?;
        let class_names = dataset.class_names();
        let class = |flag: &'static str, name: &str| {
            class_index(name, &class_names).ok_or_else(|| {
                flag_error(
                    flag,
                    format!(
                        "`{name}` is not a class of {dataset} ({} or 0..{})",
                        class_names.join(", "),
                        class_names.len()
                    ),
                )
            })
        };
        let positive_class = self
            .positive_class
            .as_deref()
            .map(|name| class("--positive-class", name))
            .transpose()?;
        let rare_class = match &self.rare_class {
            None => None,
            Some(name) => Some(RareClass {
                class: class("--rare-class", name)?,
                fraction: self.rare_fraction,
            }),
        };
        let artifact_dir = self.artifact_dir.clone().unwrap_or_else(|| {
            // The parent of a new version-N: `directory_policy` says so.
            let name = (self.run_name.clone())
                .unwrap_or_else(|| format!("{}-{}", dataset.name(), self.model));
            PathBuf::from("artifacts").join(name)
        });
        let config = RunConfig {
            training: self.training(&dataset)?,
            data_dir: self.data_dir.clone(),
            offline: self.offline,
            limit: self.limit,
            valid_size: self.valid_size,
            architecture: self.model.clone(),
            model: (),
            artifact_dir,
            backend: self.backend.map(|b| b.to_string()),
            metrics: self.metrics.clone(),
            monitor: self.monitor.as_ref().map(|metric| MonitorConfig {
                metric: metric.clone(),
                mode: self.mode,
                early_stopping_patience: self.early_stopping,
                min_delta: self.min_delta,
                save_best: self.save_best,
            }),
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
            devices: self.devices.len(),
            device_list: match &self.devices {
                DeviceList::Count(_) => Vec::new(),
                DeviceList::Devices(list) => list.iter().map(ToString::to_string).collect(),
            },
            replica_norm: self.replica_norm,
            positive_class,
            binary_head: match self.binary_head {
                true => Some(BinaryHead {
                    pos_weight: self.pos_weight,
                    threshold: parse_threshold(&self.threshold)?,
                    chosen: None,
                }),
                false => None,
            },
            tensorboard: !self.no_tensorboard,
            evaluation: EvaluationConfig {
                calibration: self
                    .calibrate
                    .map(|CalibrateChoice::Temperature| Calibration::Temperature { fitted: None }),
                ..self.evaluation.apply(EvaluationConfig::default())?
            },
            dataset,
        };
        config.plan().map_err(|e| self.setting_error(e))?;
        Ok(config)
    }

    /// The training recipe of the flags (unchecked: [`RunConfig::plan`] checks it).
    fn training(&self, dataset: &DatasetSource) -> Result<TrainingConfig, CliError> {
        Ok(TrainingConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_lr(self.lr)
            .with_seed(self.seed)
            .with_loader_workers(self.loader_workers)
            .with_augmentation(self.augmentation(dataset)?)
            .with_mixing(self.mixing())
            .with_ema(self.ema_decay.map(|decay| EmaConfig {
                decay,
                warmup: self.ema_warmup,
            }))
            .with_norm_weight_decay(self.norm_weight_decay)
            .with_optimizer(self.optimizer()?)
            .with_grad_clipping(match (self.clip_grad_norm, self.clip_grad_value) {
                (Some(max), _) => Some(GradClipping::Norm(max)),
                (None, Some(max)) => Some(GradClipping::Value(max)),
                (None, None) => None,
            })
            .with_grad_accumulation(self.accumulate_grad_batches)
            .with_label_smoothing(self.label_smoothing)
            .with_class_weights(self.class_weights()?)
            .with_sampler(match self.sampler {
                SamplerChoice::Shuffle => Sampler::Shuffle,
                SamplerChoice::Balanced => Sampler::Balanced,
            })
            .with_schedule(self.schedule()?))
    }

    /// `--augment`: `dataset`, or a pipeline.
    fn augmentation(&self, dataset: &DatasetSource) -> Result<Augmentation, CliError> {
        match self.augment.trim() {
            "dataset" => Ok(match dataset {
                DatasetSource::Named(DatasetName::Cifar10 | DatasetName::Cifar100)
                | DatasetSource::Folder(_) => Augmentation::crop_flip(),
                DatasetSource::Named(_) => Augmentation::affine(),
            }),
            pipeline => pipeline
                .parse()
                .map_err(|e: kiln_data::augment::AugmentError| {
                    flag_error("--augment", e.to_string())
                }),
        }
    }

    /// `--mixup-alpha`, `--cutmix-alpha` and their probabilities.
    fn mixing(&self) -> Option<Mixing> {
        let (mixup, cutmix) = (
            self.mixup_alpha.unwrap_or(0.0),
            self.cutmix_alpha.unwrap_or(0.0),
        );
        (self.mixup_alpha.is_some() || self.cutmix_alpha.is_some()).then_some(Mixing {
            mixup_alpha: mixup,
            cutmix_alpha: cutmix,
            prob: self.mixup_prob,
            switch_prob: self.mixup_switch_prob,
        })
    }

    /// `--optimizer` with its hyper-parameters (PyTorch's defaults where not given).
    fn optimizer(&self) -> Result<OptimizerConfig, CliError> {
        if self.optimizer != OptimizerChoice::Sgd && (self.momentum.is_some() || self.nesterov) {
            let flag = match self.nesterov {
                true => "--nesterov",
                false => "--momentum",
            };
            return Err(flag_error(flag, "applies to --optimizer sgd only"));
        }
        let weight_decay = self.weight_decay.unwrap_or(match self.optimizer {
            OptimizerChoice::Adamw => 0.01,
            _ => 0.0,
        });
        let (beta_1, beta_2, epsilon) = (0.9, 0.999, 1e-5);
        Ok(match self.optimizer {
            OptimizerChoice::Sgd => OptimizerConfig::Sgd {
                momentum: self.momentum.unwrap_or(0.9),
                nesterov: self.nesterov,
                weight_decay,
            },
            OptimizerChoice::Adam => OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            },
            OptimizerChoice::Adamw => OptimizerConfig::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            },
        })
    }

    /// `--class-weights`: `balanced`, or the numbers in a file.
    fn class_weights(&self) -> Result<Option<ClassWeights>, CliError> {
        match self.class_weights.as_deref() {
            None => Ok(None),
            Some("balanced") => Ok(Some(ClassWeights::Balanced)),
            Some(path) => ClassWeights::from_file(std::path::Path::new(path))
                .map(Some)
                .map_err(|e| flag_error("--class-weights", e.to_string())),
        }
    }

    /// `--schedule` (or `--constant-lr`) with its flags; a flag of another schedule is refused.
    fn schedule(&self) -> Result<LrSchedule, CliError> {
        use ScheduleChoice::{Multistep, Step};
        let choice = match self.constant_lr {
            true => ScheduleChoice::Constant,
            false => self.schedule.unwrap_or(ScheduleChoice::Cosine),
        };
        let only_with = |given: bool, flag: &'static str, schedules: &[ScheduleChoice]| match given
            && !schedules.contains(&choice)
        {
            true => Err(flag_error(
                flag,
                format!("applies to --schedule {schedules:?} only"),
            )),
            false => Ok(()),
        };
        only_with(self.lr_step_epochs.is_some(), "--lr-step-epochs", &[Step])?;
        only_with(
            !self.lr_milestones.is_empty(),
            "--lr-milestones",
            &[Multistep],
        )?;
        only_with(self.lr_gamma.is_some(), "--lr-gamma", &[Step, Multistep])?;
        let plateau_flags = [
            (self.plateau_patience.is_some(), "--plateau-patience"),
            (self.plateau_factor.is_some(), "--plateau-factor"),
            (self.plateau_cooldown.is_some(), "--plateau-cooldown"),
            (self.plateau_threshold.is_some(), "--plateau-threshold"),
            (self.min_lr.is_some(), "--min-lr"),
        ];
        for (given, flag) in plateau_flags {
            only_with(given, flag, &[ScheduleChoice::Plateau])?;
        }
        let warmup = self.warmup_steps;
        let gamma = self.lr_gamma.unwrap_or(0.1);
        Ok(match choice {
            ScheduleChoice::Cosine => LrSchedule::WarmupCosine {
                warmup_steps: warmup.unwrap_or(100),
                min_ratio: 0.0,
            },
            ScheduleChoice::Constant => match warmup.unwrap_or(0) {
                0 => LrSchedule::Constant,
                w => LrSchedule::WarmupConstant { warmup_steps: w },
            },
            ScheduleChoice::Step => LrSchedule::Step {
                warmup_steps: warmup.unwrap_or(0),
                step_epochs: self.lr_step_epochs.unwrap_or(30),
                gamma,
            },
            ScheduleChoice::Multistep => LrSchedule::MultiStep {
                warmup_steps: warmup.unwrap_or(0),
                milestones: self.lr_milestones.clone(),
                gamma,
            },
            ScheduleChoice::Onecycle if warmup.is_some() => {
                return Err(flag_error(
                    "--warmup-steps",
                    "--schedule onecycle warms up by itself (30% of the run)",
                ));
            }
            ScheduleChoice::Onecycle => LrSchedule::ONE_CYCLE,
            ScheduleChoice::Plateau => {
                let monitor = self.monitor.clone().unwrap_or_else(|| "valid_loss".into());
                let defaults = Plateau::new(monitor, self.plateau_patience.unwrap_or(10));
                LrSchedule::Plateau(Plateau {
                    warmup_steps: warmup.unwrap_or(0),
                    mode: self.mode,
                    factor: self.plateau_factor.unwrap_or(defaults.factor),
                    cooldown: self.plateau_cooldown.unwrap_or(defaults.cooldown),
                    threshold: self.plateau_threshold.unwrap_or(defaults.threshold),
                    min_lr: self.min_lr.unwrap_or(defaults.min_lr),
                    ..defaults
                })
            }
        })
    }

    /// A setting the plan refused, named by the flag that set it — or by the `.toml` key, when
    /// a settings file did.
    fn setting_error(&self, error: ConfigError) -> CliError {
        let origin = match flag_of(&error.field, self.clip_grad_norm.is_some()) {
            Some(flag) => match self.origins.iter().find(|o| o.flag == flag[2..]) {
                Some(o) => Origin::TomlKey {
                    file: o.file.clone(),
                    key: o.key.clone(),
                },
                None => Origin::Flag(flag),
            },
            None => Origin::Flag("--config"),
        };
        CliError::Setting {
            origin,
            error: Box::new(error),
        }
    }
}

/// The flag that sets the run setting at `field` (a path in `config.json`); `None` for the
/// settings no flag sets (Adam's betas, say), which only a recorded file can get wrong.
fn flag_of(field: &str, clip_by_norm: bool) -> Option<&'static str> {
    // `metrics[2]` and `training.class_weights[3]` are set by the flag of the whole list.
    let path: String = field.split('[').next().unwrap_or(field).into();
    let flag = match path.as_str() {
        "training.epochs" => "--epochs",
        "training.batch_size" => "--batch-size",
        "training.lr" => "--lr",
        "training.optimizer.momentum" => "--momentum",
        "training.optimizer.nesterov" => "--nesterov",
        "training.optimizer.weight_decay" => "--weight-decay",
        "training.grad_clipping.max" if clip_by_norm => "--clip-grad-norm",
        "training.grad_clipping.max" => "--clip-grad-value",
        "training.grad_accumulation" => "--accumulate-grad-batches",
        "training.label_smoothing" => "--label-smoothing",
        "training.class_weights" => "--class-weights",
        "training.schedule.step_epochs" => "--lr-step-epochs",
        "training.schedule.gamma" => "--lr-gamma",
        "training.schedule.milestones" => "--lr-milestones",
        "training.schedule.monitor" => "--monitor",
        "training.schedule.factor" => "--plateau-factor",
        "training.schedule.threshold" => "--plateau-threshold",
        "training.schedule.min_lr" => "--min-lr",
        "training.norm_weight_decay" => "--norm-weight-decay",
        "training.mixing" => "--mixup-alpha",
        "training.ema.decay" => "--ema-decay",
        "limit" => "--limit",
        "devices" => "--devices",
        "replica_norm" => "--replica-norm",
        "data_dir" => "--data-dir",
        "architecture" => "--model",
        "metrics" => "--metric",
        "monitor.metric" => "--monitor",
        "monitor.early_stopping_patience" => "--early-stopping",
        "monitor.min_delta" => "--min-delta",
        "rare_class.class" => "--rare-class",
        "rare_class.fraction" => "--rare-fraction",
        "positive_class" => "--positive-class",
        "binary_head" => "--binary-head",
        "binary_head.pos_weight" => "--pos-weight",
        p if p.starts_with("binary_head.threshold") => "--threshold",
        "diagnostics.baseline_margin" => "--baseline-margin",
        "diagnostics.paradox_gap" => "--paradox-gap",
        "diagnostics.imbalance_ratio" => "--imbalance-ratio",
        "diagnostics.boundary_margin" => "--boundary-margin",
        "diagnostics.overfit_gap" => "--overfit-gap",
        "diagnostics.loss_rise" => "--loss-rise",
        "diagnostics.interval_width" => "--interval-width",
        "evaluation.top_k" => "--top-k",
        "evaluation.bootstrap" => "--bootstrap",
        p if p.starts_with("evaluation.calibration") => "--calibrate",
        _ => return None,
    };
    Some(flag)
}

fn flag_error(flag: &'static str, message: impl Into<String>) -> CliError {
    CliError::Flag {
        flag,
        message: message.into(),
    }
}

/// `--threshold`: a probability, `best-f1`, `recall:R` or `precision:P`.
fn parse_threshold(text: &str) -> Result<DecisionThreshold, CliError> {
    let bad = || {
        flag_error(
            "--threshold",
            format!("`{text}` is not a probability in [0, 1], best-f1, recall:R or precision:P"),
        )
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

/// Whether `dir` is a `version-N` directory.
fn versioned(dir: &std::path::Path) -> bool {
    let name = dir.file_name().map(|n| n.to_string_lossy());
    name.is_some_and(|n| kiln_train::version_of(&n).is_some())
}

/// The devices a recorded run trained on: its list, or else its count (1 when not recorded).
fn recorded_devices(value: &serde_json::Value, flag: &'static str) -> Result<DeviceList, CliError> {
    let Some(list) = value["device_list"].as_array() else {
        return Ok(DeviceList::Count(
            value["devices"].as_u64().map_or(1, |n| n as usize),
        ));
    };
    let specs = list.iter().map(|spec| match spec.as_str() {
        Some(spec) => spec.parse().map_err(CliError::from),
        None => Err(CliError::Flag {
            flag,
            message: format!("config.json: device_list holds {spec}, not a device's name"),
        }),
    });
    Ok(DeviceList::Devices(specs.collect::<Result<_, _>>()?))
}

/// The run's data-parallel devices (empty for one device; the model, the summed gradients and
/// the optimizer stay on the selected backend's device): `devices` of the selected backend, or
/// the devices listed, servers connected with the token of `token_file` (or
/// [`remote::TOKEN_ENV`]). One server alone is a replica, so that the server going away ends
/// the run with an error (the worker catches it) and evaluation stays here.
fn run_devices(
    selected: &backend::Selected,
    devices: &DeviceList,
    token_file: Option<&std::path::Path>,
) -> Result<Vec<Device>, CliError> {
    let list = match devices {
        // 0 is the plan's to refuse, naming where it was given.
        DeviceList::Count(0 | 1) => return Ok(Vec::new()),
        DeviceList::Count(n) => return Ok(selected.backend.devices(*n)?),
        DeviceList::Devices(list) if list.as_slice() == [DeviceSpec::Local] => {
            return Ok(Vec::new());
        }
        DeviceList::Devices(list) => list,
    };
    let token = match devices.is_remote() {
        true => Token::load(token_file)?,
        false => None,
    };
    let locals = list.iter().filter(|spec| !spec.is_remote()).count();
    let mut local = match locals {
        0 | 1 => vec![selected.device.clone(); locals],
        n => selected.backend.devices(n)?,
    }
    .into_iter();
    let mut resolved = Vec::with_capacity(list.len());
    for spec in list {
        let device = match spec {
            DeviceSpec::Local => local.next(),
            remote_spec => {
                let device = remote::connect(remote_spec, token.as_ref())?;
                println!("device: {remote_spec} connected");
                Some(device)
            }
        };
        resolved.extend(device);
    }
    Ok(resolved)
}

/// Ctrl-C handling, the data-parallel `devices` ([`run_devices`]), and where a new run
/// writes.
fn run_options(devices: Vec<Device>, directory: DirPolicy) -> RunOptions {
    RunOptions {
        resume: false,
        interrupt: interrupt_on_ctrl_c(),
        devices,
        directory,
    }
}

impl TrainArgs {
    /// Where a new run writes: a new `version-N` under the default directory; the directory
    /// given by --artifact-dir, replacing the run it holds with --overwrite.
    fn directory_policy(&self) -> DirPolicy {
        match (&self.artifact_dir, self.overwrite) {
            (None, _) => DirPolicy::NextVersion,
            (Some(_), false) => DirPolicy::New,
            (Some(_), true) => DirPolicy::Overwrite,
        }
    }
}

/// `kiln train --config FILE`: the recorded run again, into `--artifact-dir` if given.
fn replay(
    registry: &Registry,
    args: &TrainArgs,
    file: &std::path::Path,
) -> Result<RunOutcome, CliError> {
    let mut rest = args.clone();
    (rest.config, rest.artifact_dir, rest.backend, rest.overwrite) = (None, None, None, false);
    rest.token_file = None;
    refuse_other_flags(
        &rest,
        "--config",
        "--artifact-dir, --overwrite, --backend and --token-file",
    )?;
    let value = kiln_train::read_recorded(file)?;
    let selected = recorded_backend(args, &value)?;
    // A run recorded in a version-N directory is replayed into a new version beside it.
    let recorded_dir = value["artifact_dir"].as_str().map(PathBuf::from);
    let (artifact_dir, directory) = match (&args.artifact_dir, recorded_dir) {
        (None, Some(dir)) if versioned(&dir) => {
            (dir.parent().map(PathBuf::from), DirPolicy::NextVersion)
        }
        // Into the recorded directory itself: refused while it holds a run.
        (None, _) => (None, DirPolicy::New),
        (Some(dir), _) => (Some(dir.clone()), args.directory_policy()),
    };
    let recorded = recorded_devices(&value, "--config")?;
    let devices = run_devices(&selected, &recorded, args.token_file.as_deref())?;
    let options = run_options(devices, directory);
    let outcome = registry
        .replay(
            file,
            artifact_dir.as_deref(),
            &selected.backend.to_string(),
            &selected.device,
            vec![Box::new(Progress::default())],
            &options,
        )
        .map_err(|e| CliError::in_file(file, e))?;
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
    (rest.resume, rest.backend, rest.token_file) = (None, None, None);
    refuse_other_flags(&rest, "--resume", "--backend and --token-file")?;
    let dir = &kiln_train::find_run(dir)?;
    let file = dir.join(kiln_train::artifacts::CONFIG);
    let value = kiln_train::read_recorded(&file)?;
    let selected = recorded_backend(args, &value)?;
    let recorded = recorded_devices(&value, "--resume")?;
    let devices = run_devices(&selected, &recorded, args.token_file.as_deref())?;
    let outcome = registry
        .resume(
            dir,
            &selected.backend.to_string(),
            &selected.device,
            vec![Box::new(Progress::default())],
            run_options(devices, DirPolicy::New),
        )
        .map_err(|e| CliError::in_file(&file, e))?;
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
    (registry.require(&args.model)).map_err(|e| args.setting_error(e))?;
    let selected = backend::select(args.backend)?;
    println!("{selected}");
    config.backend = Some(selected.backend.to_string());
    let devices = run_devices(&selected, &args.devices, args.token_file.as_deref())?;
    let dataset = config.dataset.to_string();
    let outcome = registry
        .train(
            config,
            &selected.device,
            vec![Box::new(Progress::default())],
            &run_options(devices, args.directory_policy()),
        )
        .map_err(|e| match e {
            TrainError::Config(error) => args.setting_error(error),
            other => other.into(),
        })?;
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
