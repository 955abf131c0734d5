//! The flags that name a model: a trained run, or an architecture with a weights file
//! (`kiln predict`, `kiln export`).

use std::path::PathBuf;

use kiln_models::ModelSpec;
use kiln_train::{ModelSource, Registry};

use super::error::CliError;

/// A trained run, or an architecture with weights.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
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
}

impl ModelArgs {
    /// The run these flags name (the one run under `--artifact-dir`), if any.
    pub fn run(&self) -> Result<Option<PathBuf>, CliError> {
        self.artifact_dir.as_deref().map(super::the_run).transpose()
    }

    /// Where the model comes from: the run `run` (from [`ModelArgs::run`]) or `--weights`
    /// for `--model`, which must be a registered architecture.
    pub fn source<'a>(
        &'a self,
        registry: &Registry,
        run: Option<&'a std::path::Path>,
    ) -> Result<ModelSource<'a>, CliError> {
        let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
        if let Some(name) = &self.model {
            (registry.require(name)).map_err(|e| flag("--model", e.problem.to_string()))?;
        }
        Ok(match run {
            Some(dir) => ModelSource::Artifacts {
                dir,
                weights: self.weights.as_deref(),
            },
            None => ModelSource::Weights {
                path: self
                    .weights
                    .as_deref()
                    .ok_or_else(|| flag("--weights", "required with --model".into()))?,
                spec: ModelSpec::new(self.num_classes, self.in_channels, self.image_size as usize),
            },
        })
    }
}
