//! Architectures by name: the built-ins ([`kiln_models::ARCHITECTURES`]), plus any added with
//! [`Registry::with`]; by name a registry builds, trains, replays, resumes, evaluates, loads for
//! prediction and benchmarks an architecture, its type erased. kiln's command line is this
//! plus parsing; a program with its own architecture registers it and gets all of it
//! (`examples/custom_model.rs`).

use std::path::Path;

use burn::tensor::Device;
use kiln_data::{ImageDataset, Normalization, Preprocess};
use kiln_models::{
    ARCHITECTURES, Architecture, ModelConfig, ModelSpec, UnknownModel, trainable_params,
};

use crate::bench::{BenchSettings, Throughput};
use crate::callback::Callback;
use crate::config::{RunConfig, TrainingConfig};
use crate::error::TrainError;
use crate::export::{ExportInfo, ExportRequest, Exported};
use crate::lr_find::{LrFind, LrFindSettings};
use crate::plan::ConfigError;
use crate::predict::{LoadedModel, ModelSource};
use crate::recorded_run::{ArtifactEval, evaluate_artifacts};
use crate::run::{RunOptions, RunOutcome, artifacts};
use crate::split_report::SplitReport;

/// The operations the CLI needs from one architecture, with its type erased.
trait Erased: Send + Sync {
    fn trainable_params(&self, spec: &ModelSpec) -> usize;
    fn train(
        &self,
        spec: &ModelSpec,
        base: RunConfig<()>,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError>;
    fn eval(
        &self,
        dir: &Path,
        request: &ArtifactEval,
        device: &Device,
    ) -> Result<SplitReport, TrainError>;
    fn replay(
        &self,
        file: &Path,
        config: serde_json::Value,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError>;
    fn load(&self, source: &ModelSource<'_>, device: &Device) -> Result<LoadedModel, TrainError>;
    fn export(
        &self,
        name: &str,
        source: &ModelSource<'_>,
        device: &Device,
        request: &ExportRequest,
    ) -> Result<Exported, TrainError>;
    fn bench(
        &self,
        spec: &ModelSpec,
        data: &ImageDataset,
        norm: Normalization,
        device: &Device,
        settings: &BenchSettings,
    ) -> Result<Throughput, TrainError>;
    fn lr_find(
        &self,
        spec: &ModelSpec,
        data: (&ImageDataset, Normalization),
        device: &Device,
        training: &TrainingConfig,
        settings: LrFindSettings,
    ) -> Result<LrFind, TrainError>;
}

struct Typed<A, F>(F, std::marker::PhantomData<fn() -> A>);

impl<A, F> Erased for Typed<A, F>
where
    A: Architecture,
    F: Fn(&ModelSpec) -> A + Send + Sync,
{
    fn trainable_params(&self, spec: &ModelSpec) -> usize {
        trainable_params(&(self.0)(spec).init(&Device::default()))
    }

    fn train(
        &self,
        spec: &ModelSpec,
        base: RunConfig<()>,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError> {
        crate::run_with(&base.with_model((self.0)(spec)), device, callbacks, options)
    }

    fn eval(
        &self,
        dir: &Path,
        request: &ArtifactEval,
        device: &Device,
    ) -> Result<SplitReport, TrainError> {
        evaluate_artifacts::<A>(dir, request, device)
    }

    fn replay(
        &self,
        file: &Path,
        config: serde_json::Value,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError> {
        let config: RunConfig<A> =
            serde_json::from_value(config).map_err(TrainError::not_a_run(file))?;
        crate::run_with(&config, device, callbacks, options)
    }

    fn bench(
        &self,
        spec: &ModelSpec,
        data: &ImageDataset,
        norm: Normalization,
        device: &Device,
        settings: &BenchSettings,
    ) -> Result<Throughput, TrainError> {
        device.seed(0);
        let model = (self.0)(spec).init(&device.clone().autodiff());
        crate::throughput(model, data, norm, device, settings)
    }

    fn lr_find(
        &self,
        spec: &ModelSpec,
        (data, norm): (&ImageDataset, Normalization),
        device: &Device,
        training: &TrainingConfig,
        settings: LrFindSettings,
    ) -> Result<LrFind, TrainError> {
        device.seed(training.seed);
        let model = (self.0)(spec).init(&device.clone().autodiff());
        crate::lr_find(model, data, norm, device, training, settings)
    }

    fn export(
        &self,
        name: &str,
        source: &ModelSource<'_>,
        device: &Device,
        request: &ExportRequest,
    ) -> Result<Exported, TrainError> {
        let (arch, model, info) = self.typed_model(source, device)?;
        let info = ExportInfo {
            architecture: name.to_string(),
            ..info
        };
        crate::export_model(&arch, &model, &info, request)
    }

    fn load(&self, source: &ModelSource<'_>, device: &Device) -> Result<LoadedModel, TrainError> {
        let (_, model, info) = self.typed_model(source, device)?;
        let mut loaded = LoadedModel::new(model, info.preprocess, info.class_names);
        loaded.temperature = info.temperature;
        loaded.threshold = info.threshold;
        Ok(loaded)
    }
}

impl<A, F> Typed<A, F>
where
    A: Architecture,
    F: Fn(&ModelSpec) -> A + Send + Sync,
{
    /// The architecture, the model and what it expects (its registered name left empty): a
    /// run's, or imported weights' (with torchvision's ImageNet preprocessing).
    fn typed_model(
        &self,
        source: &ModelSource<'_>,
        device: &Device,
    ) -> Result<(A, A::Model, ExportInfo), TrainError> {
        match *source {
            ModelSource::Artifacts { dir, weights } => {
                let config: RunConfig<A> = crate::read_run_config(dir)?;
                let model = crate::load_trained(dir, &config, weights, device)?;
                let info = ExportInfo {
                    architecture: String::new(),
                    spec: config.model_spec(),
                    preprocess: crate::predict::run_preprocess(&config)?,
                    class_names: Some(config.class_names()),
                    binary_head: config.binary_head.is_some(),
                    temperature: config.evaluation.temperature(),
                    threshold: config.binary_head.and_then(|h| h.chosen),
                };
                Ok((config.model, model, info))
            }
            ModelSource::Weights { path, spec } => {
                let arch = (self.0)(&spec);
                let (model, _) = kiln_models::import_weights(&arch, arch.init(device), path)?;
                let info = ExportInfo {
                    architecture: String::new(),
                    spec,
                    preprocess: Preprocess::imagenet(spec.image_size as u32, spec.in_channels),
                    class_names: None,
                    binary_head: false,
                    temperature: None,
                    threshold: None,
                };
                Ok((arch, model, info))
            }
        }
    }
}

struct Entry {
    name: String,
    summary: String,
    arch: Box<dyn Erased>,
}

/// Architectures by name.
pub struct Registry {
    entries: Vec<Entry>,
}

/// A registry entry, as `kiln models` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelListing {
    /// The name.
    pub name: String,
    /// Learnable parameters for the asked sizes (PyTorch's count).
    pub parameters: usize,
    /// One line about it.
    pub summary: String,
}

/// A recorded run configuration (a run's `config.json`) as JSON, for [`Registry::replay`].
pub fn read_recorded(config: &Path) -> Result<serde_json::Value, TrainError> {
    let text = std::fs::read_to_string(config).map_err(|e| TrainError::artifact(config, e))?;
    serde_json::from_str(&text).map_err(TrainError::not_a_run(config))
}

/// The recorded run in `file` as JSON with its `artifact_dir` (if given) and `backend`
/// replaced, and the record as it was, read far enough to name its architecture and directory.
fn recorded(
    file: &Path,
    artifact_dir: Option<&Path>,
    backend: &str,
) -> Result<(serde_json::Value, RunConfig<serde_json::Value>), TrainError> {
    let mut value = read_recorded(file)?;
    let names: RunConfig<serde_json::Value> =
        serde_json::from_value(value.clone()).map_err(TrainError::not_a_run(file))?;
    if let Some(dir) = artifact_dir {
        value["artifact_dir"] = serde_json::json!(dir);
    }
    value["backend"] = serde_json::json!(backend);
    Ok((value, names))
}

impl Registry {
    /// kiln's built-in architectures ([`kiln_models::ARCHITECTURES`]).
    pub fn builtin() -> Self {
        let mut registry = Self {
            entries: Vec::new(),
        };
        for info in ARCHITECTURES {
            let build: fn(&ModelSpec) -> ModelConfig = info.build;
            registry = registry.with(info.name, info.summary, build);
        }
        registry
    }

    /// Adds (or replaces) the architecture `name`: `build` configures it for a dataset's
    /// sizes.
    pub fn with<A, F>(mut self, name: &str, summary: &str, build: F) -> Self
    where
        A: Architecture,
        F: Fn(&ModelSpec) -> A + Send + Sync + 'static,
    {
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name: name.to_string(),
            summary: summary.to_string(),
            arch: Box::new(Typed(build, std::marker::PhantomData)),
        });
        self
    }

    /// Every name, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    fn entry(&self, name: &str) -> Result<&Entry, ConfigError> {
        self.entries.iter().find(|e| e.name == name).ok_or_else(|| {
            let known = self.names().into_iter().map(String::from).collect();
            ConfigError::new(
                "architecture",
                UnknownModel {
                    name: name.to_string(),
                    known,
                },
            )
        })
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name)
    }

    /// `Ok` if `name` is registered, else the error naming the known ones (the `architecture`
    /// setting's [`ConfigError`]), for checking a name before any work starts.
    pub fn require(&self, name: &str) -> Result<(), ConfigError> {
        self.entry(name).map(|_| ())
    }

    /// Every architecture with its parameter count for `spec`.
    pub fn listing(&self, spec: &ModelSpec) -> Vec<ModelListing> {
        self.entries
            .iter()
            .map(|e| ModelListing {
                name: e.name.clone(),
                parameters: e.arch.trainable_params(spec),
                summary: e.summary.clone(),
            })
            .collect()
    }

    /// Trains `base` with the architecture named `base.architecture`, configured for the
    /// run's sizes ([`RunConfig::model_spec`]).
    pub fn train(
        &self,
        base: RunConfig<()>,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError> {
        let spec = base.model_spec();
        self.entry(&base.architecture)?
            .arch
            .train(&spec, base, device, callbacks, options)
    }

    /// Runs a recorded configuration again — a run's `config.json`, every setting as recorded,
    /// the architecture's included — into `artifact_dir` (its own if `None`), recording
    /// `backend` as the backend used.
    pub fn replay(
        &self,
        config: &Path,
        artifact_dir: Option<&Path>,
        backend: &str,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: &RunOptions,
    ) -> Result<RunOutcome, TrainError> {
        // A directory that holds a run — the replayed one's own included — is refused when the
        // run claims it, unless `options.directory` says to replace it.
        let (value, names) = recorded(config, artifact_dir, backend)?;
        let architecture = crate::architecture_name(&names);
        self.entry(&architecture)?
            .arch
            .replay(config, value, device, callbacks, options)
    }

    /// Continues the run in `dir` from its saved training state (`kiln train --resume`): its
    /// `config.json` as recorded, in `dir` whatever directory it was recorded with, recording
    /// `backend` as the backend used.
    pub fn resume(
        &self,
        dir: &Path,
        backend: &str,
        device: &Device,
        callbacks: Vec<Box<dyn Callback>>,
        options: RunOptions,
    ) -> Result<RunOutcome, TrainError> {
        let config = dir.join(artifacts::CONFIG);
        let (value, names) = recorded(&config, Some(dir), backend)?;
        let options = RunOptions {
            resume: true,
            ..options
        };
        let architecture = crate::architecture_name(&names);
        self.entry(&architecture)?
            .arch
            .replay(&config, value, device, callbacks, &options)
    }

    /// Throughput of architecture `name` built for `spec` on `data` ([`crate::throughput`]).
    pub fn bench(
        &self,
        name: &str,
        spec: &ModelSpec,
        data: &ImageDataset,
        norm: Normalization,
        device: &Device,
        settings: &BenchSettings,
    ) -> Result<Throughput, TrainError> {
        self.entry(name)?
            .arch
            .bench(spec, data, norm, device, settings)
    }

    /// The LR range test ([`crate::lr_find`]) of architecture `name` built for `spec`, freshly
    /// initialized (seeded by the recipe's seed), on `data` with `training`'s recipe.
    pub fn lr_find(
        &self,
        name: &str,
        spec: &ModelSpec,
        data: (&ImageDataset, Normalization),
        device: &Device,
        training: &TrainingConfig,
        settings: LrFindSettings,
    ) -> Result<LrFind, TrainError> {
        self.entry(name)?
            .arch
            .lr_find(spec, data, device, training, settings)
    }

    /// Re-evaluates the run in `dir` with the architecture its `config.json` names.
    pub fn eval(
        &self,
        dir: &Path,
        request: &ArtifactEval,
        device: &Device,
    ) -> Result<SplitReport, TrainError> {
        self.run_entry(dir)?.arch.eval(dir, request, device)
    }

    /// Loads a model for prediction: a run's (by the architecture its `config.json` names) or
    /// the architecture `name` with a weights file.
    pub fn load(
        &self,
        name: Option<&str>,
        source: &ModelSource<'_>,
        device: &Device,
    ) -> Result<LoadedModel, TrainError> {
        self.source_entry(name, source)?.arch.load(source, device)
    }

    /// Exports a run's model (by the architecture its `config.json` names) or the
    /// architecture `name` with a weights file ([`crate::export_model`]).
    pub fn export(
        &self,
        name: Option<&str>,
        source: &ModelSource<'_>,
        device: &Device,
        request: &ExportRequest,
    ) -> Result<Exported, TrainError> {
        let entry = self.source_entry(name, source)?;
        entry.arch.export(&entry.name, source, device, request)
    }

    fn source_entry(
        &self,
        name: Option<&str>,
        source: &ModelSource<'_>,
    ) -> Result<&Entry, TrainError> {
        match (name, source) {
            (Some(name), _) => Ok(self.entry(name)?),
            (None, ModelSource::Artifacts { dir, .. }) => self.run_entry(dir),
            (None, ModelSource::Weights { .. }) => Err(ConfigError::rule(
                "architecture",
                "a weights file needs the architecture's name",
            )
            .into()),
        }
    }

    fn run_entry(&self, dir: &Path) -> Result<&Entry, TrainError> {
        let name = crate::read_architecture(dir)?;
        // Runs recorded before the architecture name was: the built-in family tag, which is
        // the registered name for the architectures that existed then.
        Ok(self.entry(&name)?)
    }
}
