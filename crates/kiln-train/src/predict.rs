//! Classifying image files with a trained run or imported weights (`kiln predict`): load the
//! model ([`crate::Registry::load`]), preprocess each file as the model was trained to see it,
//! run one batch, rank the classes.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData, activation::softmax};
use kiln_data::Preprocess;
use kiln_models::{ImageClassifier, ModelSpec};
use serde::Serialize;

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::plan::ConfigError;

/// Where a model for prediction comes from.
#[derive(Debug, Clone, Copy)]
pub enum ModelSource<'a> {
    /// A trained run: its `config.json`, and its `model.bpk` or these weights.
    Artifacts {
        /// The artifact directory.
        dir: &'a Path,
        /// Weights other than `model.bpk`.
        weights: Option<&'a Path>,
    },
    /// A weights file (PyTorch, safetensors or kiln `.bpk`) for the architecture built for
    /// `spec`.
    Weights {
        /// The file.
        path: &'a Path,
        /// The sizes to build the architecture for.
        spec: ModelSpec,
    },
}

/// A model's forward pass with its type erased: preprocessed images `[batch, channels, size,
/// size]` to logits `[batch, outputs]`.
type Forward = Box<dyn Fn(Tensor<4>) -> Tensor<2>>;

/// A model ready to classify files: how to preprocess them and what the classes are called.
pub struct LoadedModel {
    forward: Forward,
    /// How a file becomes the model's input.
    pub preprocess: Preprocess,
    /// The class names, if known (a run's; imported weights have none unless given).
    pub class_names: Option<Vec<String>>,
    /// A run's fitted temperature: probabilities are `softmax(logits / temperature)`.
    pub temperature: Option<f64>,
    /// A binary head's decision threshold on the positive class's probability (the run's
    /// chosen one); without it the decision is the most probable class.
    pub threshold: Option<f64>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("preprocess", &self.preprocess)
            .field("class_names", &self.class_names)
            .field("temperature", &self.temperature)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// `model`, fed files as `preprocess` says, its classes called `class_names`.
    pub fn new<M: ImageClassifier + 'static>(
        model: M,
        preprocess: Preprocess,
        class_names: Option<Vec<String>>,
    ) -> Self {
        Self {
            forward: Box::new(move |images| model.forward(images)),
            preprocess,
            class_names,
            temperature: None,
            threshold: None,
        }
    }
}

impl LoadedModel {
    /// Runs the model on `n` preprocessed images (`values`, `[n, channels, crop, crop]`
    /// row-major): every image's class logits and probabilities (scaled by the temperature,
    /// if any), row-major, and the class count. Errors when the class names do not fit the
    /// model's outputs.
    pub fn run(
        &self,
        values: Vec<f32>,
        n: usize,
        device: &Device,
    ) -> Result<(Vec<f32>, Vec<f32>, usize), TrainError> {
        let p = &self.preprocess;
        let size = p.crop as usize;
        let batch =
            Tensor::<4>::from_data(TensorData::new(values, [n, p.channels, size, size]), device);
        // A one-logit (binary) head reads as the two-class logits [0, z].
        let logits = crate::binary::class_logits((self.forward)(batch));
        let [_, k] = logits.dims();
        let probs = match self.temperature {
            Some(t) => softmax(logits.clone().div_scalar(t), 1),
            None => softmax(logits.clone(), 1),
        };
        let as_vec = |t: Tensor<2>| -> Result<Vec<f32>, TrainError> {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|_| TrainError::Internal("logits that cannot be read as f32"))
        };
        if let Some(names) = &self.class_names
            && names.len() != k
        {
            return Err(ConfigError::rule(
                "class_names",
                format!("{} class names for a model with {k} classes", names.len()),
            )
            .into());
        }
        Ok((as_vec(logits)?, as_vec(probs)?, k))
    }
}

/// How a file becomes the input of a run's model: the dataset's size, channels and
/// normalization.
pub(crate) fn run_preprocess<A>(config: &RunConfig<A>) -> Result<Preprocess, TrainError> {
    let dataset = &config.dataset;
    let norm = dataset.normalization().ok_or_else(|| {
        ConfigError::rule(
            "dataset.normalization",
            format!("the run records no normalization for {dataset}"),
        )
    })?;
    Ok(Preprocess::fit(
        dataset.image_size() as u32,
        dataset.channels(),
        &norm.mean,
        &norm.std,
    ))
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

/// Preprocesses `images`, runs the model on them as one batch and ranks the classes.
pub fn classify(
    loaded: &LoadedModel,
    images: &[PathBuf],
    top_k: usize,
    device: &Device,
) -> Result<Vec<Prediction>, TrainError> {
    let p = &loaded.preprocess;
    let size = p.crop as usize;
    let mut values = Vec::with_capacity(images.len() * p.channels * size * size);
    for path in images {
        values.extend(p.load(path)?);
    }
    let (logits, probs, k) = loaded.run(values, images.len(), device)?;
    let n = images.len();
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
