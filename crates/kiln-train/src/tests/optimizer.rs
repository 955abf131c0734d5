use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::*;

/// One parameter vector; the loss `Σ c·p` has the constant gradient `c`.
#[derive(Module, Debug)]
struct Point {
    p: Param<Tensor<1>>,
}

const P0: [f32; 2] = [1.0, -2.0];
const C: [f32; 2] = [0.5, -1.0];
const LR: f64 = 0.1;

/// The parameter after `steps` steps of `optimizer` at `LR`.
fn run(optimizer: OptimizerConfig, clipping: Option<GradClipping>, steps: usize) -> Vec<f32> {
    let device = Device::flex().autodiff();
    let mut point = Point {
        p: Param::from_tensor(Tensor::from_floats(P0, &device)),
    };
    let mut optim = optimizer.init(clipping);
    for _ in 0..steps {
        let loss = (point.p.val() * Tensor::from_floats(C, &device)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &point);
        point = optim.step(LR, point, grads);
    }
    point.p.val().into_data().try_into_vec_as::<f32>().unwrap()
}

/// `P0 − LR·k·C` elementwise, as expected values.
fn moved_by(k: impl Fn(usize) -> f64) -> Vec<f32> {
    (0..2)
        .map(|i| (f64::from(P0[i]) - LR * k(i)) as f32)
        .collect()
}

fn close(actual: &[f32], expected: &[f32]) {
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-5, "{actual:?} vs {expected:?}");
    }
}

fn sgd(momentum: f64, nesterov: bool, weight_decay: f32) -> OptimizerConfig {
    OptimizerConfig::Sgd {
        momentum,
        nesterov,
        weight_decay,
    }
}

#[test]
fn sgd_follows_pytorch_momentum_nesterov_and_weight_decay() {
    let c = |i: usize| f64::from(C[i]);
    // Plain: two steps of the gradient.
    close(
        &run(sgd(0.0, false, 0.0), None, 2),
        &moved_by(|i| 2.0 * c(i)),
    );
    // Momentum 0.9, no dampening: v₁ = g, v₂ = 1.9 g.
    close(
        &run(sgd(0.9, false, 0.0), None, 2),
        &moved_by(|i| 2.9 * c(i)),
    );
    // Nesterov: steps g + 0.9 v: 1.9 g, then g + 0.9 · 1.9 g = 2.71 g.
    close(
        &run(sgd(0.9, true, 0.0), None, 2),
        &moved_by(|i| 4.61 * c(i)),
    );
    // Weight decay 0.1 adds 0.1 θ to the gradient.
    close(
        &run(sgd(0.0, false, 0.1), None, 1),
        &moved_by(|i| c(i) + 0.1 * f64::from(P0[i])),
    );
}

#[test]
fn adam_and_adamw_take_unit_steps_on_a_constant_gradient_and_adamw_decays_decoupled() {
    // With a constant gradient the bias-corrected moments are g and g²: each step is
    // lr · g / (|g| + ε).
    let unit = |i: usize| f64::from(C[i]) / (f64::from(C[i]).abs() + 1e-5);
    close(
        &run(OptimizerConfig::ADAM, None, 2),
        &moved_by(|i| 2.0 * unit(i)),
    );
    let adamw = OptimizerConfig::AdamW {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-5,
        weight_decay: 0.1,
    };
    // θ ← θ − lr·λ·θ − lr·ĝ.
    close(
        &run(adamw, None, 1),
        &moved_by(|i| 0.1 * f64::from(P0[i]) + unit(i)),
    );
    assert_eq!(adamw.name(), "adamw");
}

#[test]
fn gradients_are_clipped_by_norm_or_by_value() {
    let norm = (0.25f64 + 1.0).sqrt();
    close(
        &run(sgd(0.0, false, 0.0), Some(GradClipping::Norm(0.1)), 1),
        &moved_by(|i| f64::from(C[i]) * 0.1 / norm),
    );
    close(
        &run(sgd(0.0, false, 0.0), Some(GradClipping::Value(0.3)), 1),
        &moved_by(|i| f64::from(C[i]).clamp(-0.3, 0.3)),
    );
}

/// A weight vector and a bias: torchvision's `--norm-weight-decay` puts the bias (rank 1) in a
/// group of its own decay.
#[derive(Module, Debug)]
struct Layer {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

#[test]
fn norm_and_bias_parameters_get_their_own_weight_decay() {
    let device = Device::flex().autodiff();
    let mut layer = Layer {
        weight: Param::from_tensor(Tensor::from_floats([[1.0, -2.0]], &device)),
        bias: Param::from_tensor(Tensor::from_floats([3.0], &device)),
    };
    assert_eq!(norm_and_bias_ids(&layer), vec![layer.bias.id]);
    let sgd = OptimizerConfig::Sgd {
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.5,
    };
    let mut optim = sgd.init_grouped(None, 0.0, norm_and_bias_ids(&layer));
    // A zero loss: only weight decay moves the parameters, θ ← θ − lr·λ·θ.
    let loss = layer.weight.val().sum().mul_scalar(0.0) + layer.bias.val().sum().mul_scalar(0.0);
    let grads = GradientsParams::from_grads(loss.backward(), &layer);
    layer = optim.step(LR, layer, grads);
    let read = |t: Tensor<1>| t.into_data().try_into_vec_as::<f32>().unwrap();
    close(&read(layer.weight.val().flatten(0, 1)), &[0.95, -1.9]);
    assert_eq!(read(layer.bias.val()), vec![3.0], "the bias is not decayed");
}
