//! `kiln predict`: classify image files with a trained run or imported weights.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData, activation::softmax};
use kiln_data::Preprocess;
use kiln_models::ModelSpec;
use kiln_train::RunConfig;
use serde::Serialize;

use super::registry::{ModelSource, Registry};
use super::train::CliError;
use crate::backend::{self, Backend};

/// Flags of `kiln predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// A `kiln train` artifact directory: its architecture, weights, class names and
    /// normalization are used.
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    pub artifact_dir: Option<PathBuf>,
    /// An architecture name (see `kiln models`), with --weights.
    #[arg(long, requires = "weights")]
    pub model: Option<String>,
    /// Weights: a PyTorch state dict (.pth/.pt, e.g. torchvision's), .safetensors, or a kiln
    /// .bpk; with --artifact-dir, replaces its model.bpk.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// With --model: the classes of the weights' head.
    #[arg(long, default_value_t = 1000)]
    pub num_classes: usize,
    /// With --model: input channels (3 = RGB, 1 = grayscale).
    #[arg(long, default_value_t = 3)]
    pub in_channels: usize,
    /// With --model: the input size (torchvision's 224).
    #[arg(long, default_value_t = 224)]
    pub image_size: u32,
    /// With --model: a text file of class names, one per line.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Images to classify (PNG, JPEG, BMP).
    #[arg(long = "image", required = true, num_args = 1.., value_name = "FILE")]
    pub images: Vec<PathBuf>,
    /// Classes shown per image.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Feed images already at the input size: only scaling to [0, 1] and normalization (no
    /// resize or crop).
    #[arg(long)]
    pub no_resize: bool,
    /// Print JSON (logits and top-k per image) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Backend [default: the first usable compiled one, GPU before CPU].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
}

/// What `kiln predict` needs from a model, with its type erased.
pub trait Classifier {
    /// # Shapes
    /// - images: `[batch, channels, size, size]`, preprocessed
    /// - output: `[batch, num_classes]` logits
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}

impl<M: kiln_models::ImageClassifier> Classifier for M {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// A model ready to classify files: how to preprocess them and what the classes are called.
pub struct LoadedModel {
    model: Box<dyn Classifier>,
    preprocess: Preprocess,
    class_names: Option<Vec<String>>,
}

impl LoadedModel {
    /// A trained run's model: the dataset's size, channels, normalization and class names.
    pub(crate) fn from_run<A>(
        model: Box<dyn Classifier>,
        config: &RunConfig<A>,
    ) -> Result<Self, kiln_train::TrainError> {
        let dataset = &config.dataset;
        let norm = dataset.normalization().ok_or_else(|| {
            kiln_train::TrainError::Config(format!(
                "the run's config.json records no normalization for {dataset}"
            ))
        })?;
        Ok(Self {
            model,
            preprocess: Preprocess::fit(
                dataset.image_size() as u32,
                dataset.channels(),
                &norm.mean,
                &norm.std,
            ),
            class_names: Some(config.class_names()),
        })
    }

    /// Imported weights: torchvision's ImageNet preprocessing for `spec`.
    pub(crate) fn from_weights(model: Box<dyn Classifier>, spec: ModelSpec) -> Self {
        Self {
            model,
            preprocess: Preprocess::imagenet(spec.image_size as u32, spec.in_channels),
            class_names: None,
        }
    }
}

/// One image's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The file.
    pub image: PathBuf,
    /// Every class's logit.
    pub logits: Vec<f32>,
    /// The most probable classes, best first.
    pub top_k: Vec<ClassProbability>,
}

/// A class and its softmax probability.
#[derive(Debug, Clone, Serialize)]
pub struct ClassProbability {
    /// Class index.
    pub class: usize,
    /// Class name, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Softmax probability.
    pub probability: f32,
}

/// Classifies every image and prints the top-k classes (or JSON).
pub fn predict(registry: &Registry, args: &PredictArgs) -> Result<Vec<Prediction>, CliError> {
    let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
    if args.top_k == 0 {
        return Err(flag("--top-k", "must be at least 1".into()));
    }
    let selected = backend::select(args.backend)?;
    eprintln!("{selected}");
    let device = &selected.device;
    let source = match &args.artifact_dir {
        Some(dir) => ModelSource::Artifacts {
            dir,
            weights: args.weights.as_deref(),
        },
        None => ModelSource::Weights {
            path: args
                .weights
                .as_deref()
                .ok_or_else(|| flag("--weights", "required with --model".into()))?,
            spec: ModelSpec::new(args.num_classes, args.in_channels, args.image_size as usize),
        },
    };
    if let Some(name) = &args.model
        && !registry.contains(name)
    {
        return Err(flag(
            "--model",
            format!(
                "unknown model `{name}` (known: {})",
                registry.names().join(", ")
            ),
        ));
    }
    let mut loaded = registry.load(args.model.as_deref(), &source, device)?;
    if let Some(path) = &args.labels {
        loaded.class_names = Some(read_labels(path)?);
    }
    if args.no_resize {
        loaded.preprocess = loaded.preprocess.clone().without_resize();
    }
    let predictions = classify(&loaded, &args.images, args.top_k, device)?;
    if args.json {
        super::print_json(&predictions)?;
    } else {
        for p in &predictions {
            println!("{}", p.image.display());
            for (rank, c) in p.top_k.iter().enumerate() {
                let name = c
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("class {}", c.class));
                println!("  {}. {name:<24} {:>7.4}", rank + 1, c.probability);
            }
        }
    }
    Ok(predictions)
}

fn read_labels(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Flag {
        flag: "--labels",
        message: format!("{}: {e}", path.display()),
    })?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}

/// Preprocesses `images`, runs the model on them as one batch and ranks the classes.
pub fn classify(
    loaded: &LoadedModel,
    images: &[PathBuf],
    top_k: usize,
    device: &Device,
) -> Result<Vec<Prediction>, CliError> {
    let p = &loaded.preprocess;
    let size = p.crop as usize;
    let mut values = Vec::with_capacity(images.len() * p.channels * size * size);
    for path in images {
        values.extend(p.load(path).map_err(kiln_train::TrainError::from)?);
    }
    let batch = Tensor::<4>::from_data(
        TensorData::new(values, [images.len(), p.channels, size, size]),
        device,
    );
    // A one-logit (binary) head reads as the two-class logits [0, z].
    let logits = kiln_train::binary::class_logits(loaded.model.logits(batch));
    let [n, k] = logits.dims();
    let probs = softmax(logits.clone(), 1);
    let as_vec = |t: Tensor<2>| -> Result<Vec<f32>, CliError> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| kiln_train::TrainError::Config(format!("reading logits: {e:?}")).into())
    };
    let (logits, probs) = (as_vec(logits)?, as_vec(probs)?);
    if let Some(names) = &loaded.class_names
        && names.len() != k
    {
        return Err(CliError::Flag {
            flag: "--labels",
            message: format!("{} class names for a model with {k} classes", names.len()),
        });
    }
    Ok((0..n)
        .map(|i| {
            let row = &probs[i * k..(i + 1) * k];
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            Prediction {
                image: images[i].clone(),
                logits: logits[i * k..(i + 1) * k].to_vec(),
                top_k: order
                    .into_iter()
                    .take(top_k)
                    .map(|c| ClassProbability {
                        class: c,
                        name: loaded.class_names.as_ref().map(|n| n[c].clone()),
                        probability: row[c],
                    })
                    .collect(),
            }
        })
        .collect())
}
