//! The optimizers a run can use, as data: SGD (momentum, Nesterov, weight decay), Adam and AdamW,
//! with optional gradient clipping — each built from Burn's own (`burn::optim`) with PyTorch's
//! conventions (SGD without dampening; Adam's `weight_decay` an L2 term added to the gradient,
//! AdamW's decoupled).

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{Adam, AdamConfig, AdamW, AdamWConfig, ModuleOptimizer, Sgd, SgdConfig};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which optimizer, and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// `torch.optim.SGD`: `v ← μ·v + g` (no dampening), step `v` or, with Nesterov, `g + μ·v`;
    /// `weight_decay` adds `λ·θ` to the gradient.
    Sgd {
        /// Momentum `μ` (0: plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty `λ`.
        weight_decay: f32,
    },
    /// `torch.optim.Adam`; `weight_decay` adds `λ·θ` to the gradient.
    Adam {
        /// First-moment decay.
        beta_1: f32,
        /// Second-moment decay.
        beta_2: f32,
        /// Added to the denominator.
        epsilon: f32,
        /// L2 penalty `λ`.
        weight_decay: f32,
    },
    /// `torch.optim.AdamW`: Adam with decoupled weight decay `θ ← θ − lr·λ·θ`.
    AdamW {
        /// First-moment decay.
        beta_1: f32,
        /// Second-moment decay.
        beta_2: f32,
        /// Added to the denominator.
        epsilon: f32,
        /// Decoupled weight decay `λ`.
        weight_decay: f32,
    },
}

/// Gradient clipping before each optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "max", rename_all = "lowercase")]
pub enum GradClipping {
    /// Rescale each parameter's gradient to an L2 norm of at most this.
    Norm(f32),
    /// Clamp every gradient element to ±this.
    Value(f32),
}

impl OptimizerConfig {
    /// kiln's default: Adam, β = (0.9, 0.999), ε = 1e-5 (Burn's default), no weight decay.
    pub const ADAM: Self = Self::Adam {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-5,
        weight_decay: 0.0,
    };

    /// The optimizer's name as a flag takes it: `sgd`, `adam`, `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adam { .. } => "adam",
            Self::AdamW { .. } => "adamw",
        }
    }

    /// The same optimizer with weight decay `decay`.
    pub fn with_weight_decay(self, decay: f32) -> Self {
        match self {
            Self::Sgd {
                momentum, nesterov, ..
            } => Self::Sgd {
                momentum,
                nesterov,
                weight_decay: decay,
            },
            Self::Adam {
                beta_1,
                beta_2,
                epsilon,
                ..
            } => Self::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay: decay,
            },
            Self::AdamW {
                beta_1,
                beta_2,
                epsilon,
                ..
            } => Self::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay: decay,
            },
        }
    }

    /// Burn's optimizer for these settings, clipping gradients as asked.
    pub fn init(&self, clipping: Option<GradClipping>) -> ModuleOptimizer {
        let optim = match self.build() {
            Built::Sgd(o) => ModuleOptimizer::from(o),
            Built::Adam(o) => ModuleOptimizer::from(o),
            Built::AdamW(o) => ModuleOptimizer::from(o),
        };
        match clipping {
            Some(c) => optim.with_grad_clipping(c.config().init()),
            None => optim,
        }
    }

    /// [`Self::init`], with the parameters `ids` (a model's norm and bias parameters:
    /// [`norm_and_bias_ids`]) decayed by `decay` instead — torchvision's `--norm-weight-decay`,
    /// as a second parameter group of the same optimizer.
    pub fn init_grouped(
        &self,
        clipping: Option<GradClipping>,
        decay: f32,
        ids: Vec<ParamId>,
    ) -> ModuleOptimizer {
        let optim = self.init(clipping);
        let group = ParamGroup::from_ids(ids);
        let clip = clipping.map(|c| c.config().init());
        match self.with_weight_decay(decay).build() {
            Built::Sgd(o) => optim.with_group(group, o, clip),
            Built::Adam(o) => optim.with_group(group, o, clip),
            Built::AdamW(o) => optim.with_group(group, o, clip),
        }
    }

    /// Burn's optimizer, without clipping.
    fn build(&self) -> Built {
        let decay = |penalty: f32| (penalty > 0.0).then_some(WeightDecayConfig { penalty });
        match *self {
            Self::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => Built::Sgd(
                SgdConfig::new()
                    .with_momentum((momentum > 0.0).then_some(MomentumConfig {
                        momentum,
                        dampening: 0.0,
                        nesterov,
                    }))
                    .with_weight_decay(decay(weight_decay))
                    .build(),
            ),
            Self::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => Built::Adam(
                AdamConfig::new()
                    .with_beta_1(beta_1)
                    .with_beta_2(beta_2)
                    .with_epsilon(epsilon)
                    .with_weight_decay(decay(weight_decay))
                    .build(),
            ),
            Self::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => Built::AdamW(
                AdamWConfig::new()
                    .with_beta_1(beta_1)
                    .with_beta_2(beta_2)
                    .with_epsilon(epsilon)
                    .with_weight_decay(weight_decay)
                    .build(),
            ),
        }
    }
}

impl GradClipping {
    fn config(self) -> GradientClippingConfig {
        match self {
            Self::Norm(max) => GradientClippingConfig::Norm(max),
            Self::Value(max) => GradientClippingConfig::Value(max),
        }
    }
}

/// One of Burn's optimizers.
enum Built {
    Sgd(Sgd),
    Adam(Adam),
    AdamW(AdamW),
}

/// The ids of `model`'s parameters of rank ≤ 1 — batch/layer-norm scales and shifts and every
/// bias — the parameters timm's `param_groups_weight_decay` and torchvision's
/// `--norm-weight-decay`/`--bias-weight-decay` treat apart.
pub fn norm_and_bias_ids<M: Module>(model: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D <= 1 {
                self.0.push(param.id);
            }
        }
    }
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    ids.0
}

#[cfg(test)]
#[path = "tests/optimizer.rs"]
mod tests;
