//! Every registered architecture on every compiled backend: a forward pass and one training
//! step (cross-entropy, backward, SGD update) on a small batch, shapes asserted.
//!
//! A GPU backend compiled in but without an adapter/driver prints `SKIPPED` with the reason.

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use common::{parameters, usable_backends};
use kiln::models::{ARCHITECTURES, Architecture, ImageClassifier, ModelSpec};

/// Forward + one SGD step of `arch` on `device`; returns the parameters it left unchanged.
fn train_step<A: Architecture>(
    arch: &A,
    spec: &ModelSpec,
    device: &Device,
    label: &str,
) -> Vec<String> {
    let batch = 2;
    let plain = device;
    let device = device.clone().autodiff();
    let model = arch.init(&device);
    let images = Tensor::<4>::random(
        [batch, spec.in_channels, spec.image_size, spec.image_size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [batch]), &device);
    let logits = model.forward(images);
    assert_eq!(logits.dims(), [batch, spec.num_classes], "{label}");
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits, targets);
    let loss_value = loss.clone().into_scalar::<f64>();
    assert!(loss_value.is_finite(), "{label}: loss {loss_value}");
    let before = parameters(&model);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = SgdConfig::new().init().step(0.01, model, grads);
    let after = parameters(&model);
    assert_eq!(before.len(), after.len(), "{label}");
    let mut unchanged = Vec::new();
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(b.len(), a.len(), "{label}: {path} changed shape");
        assert!(
            a.iter().all(|v| v.is_finite()),
            "{label}: {path} is not finite"
        );
        // Batch-norm running statistics are not learned (and Burn syncs their per-thread
        // updates lazily, so a visitor may still see the old value).
        let statistic = path.ends_with("running_mean") || path.ends_with("running_var");
        if b == a && !statistic {
            unchanged.push(path.clone());
        }
    }
    // Evaluation mode gives logits of the same shape.
    let eval = model.valid().forward(Tensor::<4>::zeros(
        [1, spec.in_channels, spec.image_size, spec.image_size],
        plain,
    ));
    assert_eq!(eval.dims(), [1, spec.num_classes], "{label}");
    unchanged
}

#[test]
fn every_architecture_trains_one_step_on_every_backend() {
    // 3 classes of 3×32×32 (CIFAR-sized) images; the MNIST-sized 1×28×28 forward of every
    // architecture is checked in kiln-models' unit tests.
    let spec = ModelSpec::new(3, 3, 32);
    for (backend, device) in usable_backends() {
        for info in ARCHITECTURES {
            let label = format!("{} on {backend}", info.name);
            let unchanged = train_step(&(info.build)(&spec), &spec, &device, &label);
            // Every learnable tensor gets a gradient and moves, but for a convolution's bias
            // followed by a batch norm (which subtracts it again: zero gradient).
            assert!(
                unchanged.iter().all(|p| p.ends_with("conv.bias")),
                "{label}: unchanged {unchanged:?}"
            );
        }
    }
}
