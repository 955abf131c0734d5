//! An exponential moving average of the weights (timm's `ModelEmaV3`, torchvision's
//! `--model-ema`, Keras' `use_ema`): after every optimizer step `t`,
//! `average ← d_t · average + (1 − d_t) · weights` for every parameter *and* every batch-norm
//! running statistic.
//!
//! The decay follows timm's `ModelEmaV3.get_decay(step)` with the step count timm's `train.py`
//! passes (the number of optimizer steps so far, this one included): `s = t − 1`; the first
//! update copies the weights (`d = 0`); after that `d = decay`, or with warm-up
//! `d = clamp(1 − (1 + s)^(−2/3), 0, decay)`, which lets the average follow the fast early
//! changes of the weights before settling at `decay`.
//!
//! Nothing but the averaged tensors is state: the decay of step `t` is a function of `t`, so a
//! resumed run (which saves the average beside the weights) continues exactly.

use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use kiln_eval::diagnostics::{Diagnostic, Severity};
use serde::{Deserialize, Serialize};

/// The settings of the average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaConfig {
    /// The decay `d` once warmed up, in [0, 1).
    pub decay: f64,
    /// timm's warm-up (`warmup_gamma = 1`, `warmup_power = 2/3`).
    #[serde(default)]
    pub warmup: bool,
}

impl EmaConfig {
    /// timm's warm-up power.
    const WARMUP_POWER: f64 = 2.0 / 3.0;

    /// The decay of the `t`-th update (1-based: the update after the `t`-th optimizer step).
    pub fn decay_at(&self, t: usize) -> f64 {
        let s = t.saturating_sub(1);
        if s == 0 {
            return 0.0;
        }
        match self.warmup {
            true => {
                let warm = 1.0 - (1.0 + s as f64).powf(-Self::WARMUP_POWER);
                warm.clamp(0.0, self.decay)
            }
            false => self.decay,
        }
    }
}

/// The report's note of which weights it evaluates, for a run that kept an average: the
/// average (`model.bpk`, `weights` none) or the file given.
pub fn weights_note(config: Option<&EmaConfig>, weights: Option<&Path>) -> Option<Diagnostic> {
    let ema = config?;
    let warmup = if ema.warmup { ", with warm-up" } else { "" };
    let message = match weights {
        None => format!(
            "these figures are of the exponential moving average of the weights (decay {}{warmup}); \
             the trained weights are in {}",
            ema.decay,
            crate::run::artifacts::MODEL_RAW
        ),
        Some(path) => format!(
            "these figures are of the weights in {}, not of the run's moving average (model.bpk)",
            path.display()
        ),
    };
    Some(Diagnostic {
        kind: "weights",
        severity: Severity::Info,
        class: None,
        message,
        numbers: [("ema_decay", ema.decay)].into_iter().collect(),
    })
}

/// The averaged tensors of a model, flattened, in the order [`Module::visit`] visits the
/// model's floats (parameters and running statistics alike).
#[derive(Debug, Clone)]
pub(crate) struct WeightAverage {
    config: EmaConfig,
    tensors: Vec<Tensor<1>>,
}

impl WeightAverage {
    /// An average starting at `model`'s weights (or a saved average: the model it was
    /// [applied](Self::applied) to).
    pub(crate) fn new<M: Module>(config: EmaConfig, model: &M) -> Self {
        Self {
            config,
            tensors: flat_floats(&model.valid()),
        }
    }

    /// Folds `model`'s weights into the average after the `t`-th optimizer step (1-based).
    pub(crate) fn update<M: Module>(&mut self, model: &M, t: usize) {
        let d = self.config.decay_at(t);
        let current = flat_floats(&model.valid());
        for (average, weights) in self.tensors.iter_mut().zip(current) {
            *average = match d > 0.0 {
                true => average
                    .clone()
                    .mul_scalar(d)
                    .add(weights.mul_scalar(1.0 - d)),
                false => weights,
            };
        }
    }

    /// `model` (an inference copy) with its weights and running statistics replaced by the
    /// average.
    pub(crate) fn applied<M: Module>(&self, model: M) -> M {
        model.valid().map(&mut Replace {
            tensors: &self.tensors,
            next: 0,
        })
    }
}

/// Every float tensor of `model`, flattened, in visiting order.
fn flat_floats<M: Module>(model: &M) -> Vec<Tensor<1>> {
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let len = value.shape().num_elements();
        self.0.push(value.reshape([len]));
    }
}

struct Replace<'a> {
    tensors: &'a [Tensor<1>],
    next: usize,
}

impl ModuleMapper for Replace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(average) = self.tensors.get(self.next) else {
            return param;
        };
        self.next += 1;
        param.map(|tensor| average.clone().reshape(tensor.shape()))
    }
}

#[cfg(test)]
#[path = "tests/ema.rs"]
mod tests;
