//! The optimizers a run can use, as data: SGD (momentum, Nesterov, weight decay), Adam and AdamW,
//! with optional gradient clipping — each built from Burn's own (`burn::optim`) with PyTorch's
//! conventions (SGD without dampening; Adam's `weight_decay` an L2 term added to the gradient,
//! AdamW's decoupled).

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
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

    /// Burn's optimizer for these settings, clipping gradients as asked.
    pub fn init(&self, clipping: Option<GradClipping>) -> ModuleOptimizer {
        let clipping = clipping.map(|c| match c {
            GradClipping::Norm(max) => GradientClippingConfig::Norm(max),
            GradClipping::Value(max) => GradientClippingConfig::Value(max),
        });
        let decay = |penalty: f32| (penalty > 0.0).then_some(WeightDecayConfig { penalty });
        match *self {
            Self::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then_some(MomentumConfig {
                    momentum,
                    dampening: 0.0,
                    nesterov,
                }))
                .with_weight_decay(decay(weight_decay))
                .with_gradient_clipping(clipping)
                .init(),
            Self::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(decay(weight_decay))
                .with_grad_clipping(clipping)
                .init(),
            Self::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => AdamWConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .with_grad_clipping(clipping)
                .init(),
        }
    }
}

#[cfg(test)]
#[path = "tests/optimizer.rs"]
mod tests;
