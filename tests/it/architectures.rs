//! Every registered architecture on every CPU backend, and one architecture of each structural
//! kind on every GPU backend: a forward pass and one training step (cross-entropy, backward, SGD
//! update) on a small batch, shapes asserted.
//!
//! On wgpu in CI (Mesa lavapipe: the GPU kernels compiled and run on the CPU) every further
//! architecture costs minutes and proves nothing new — resnet152 repeats resnet50's blocks — so
//! the GPU sweep is the plain CNN, a CIFAR ResNet with each shortcut kind and a bottleneck ResNet
//! with the ImageNet stem, each at the smallest input that reaches every layer with a map of at
//! least 1×1.
//!
//! A GPU backend compiled in but without an adapter/driver prints `SKIPPED` with the reason.

use crate::common::{parameters, usable_backends};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use kiln::models::{
    ARCHITECTURES, Architecture, BlockKind, CifarResNetConfig, ImageClassifier, ModelConfig,
    ModelSpec, ResNetConfig, ShortcutKind,
};

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

/// One architecture of each structural kind, with the input it is checked at: (label, model,
/// spec). 3 classes; 3-channel inputs but for the MNIST CNN.
fn structural_kinds() -> Vec<(&'static str, ModelConfig, ModelSpec)> {
    let cifar = |shortcut| {
        // One basic block per stage (ResNet-8): stages at 8×8, 4×4 and 2×2.
        ModelConfig::CifarResNet(CifarResNetConfig::new(3, 1).with_shortcut(shortcut))
    };
    let mnist = ModelSpec::new(3, 1, 28);
    vec![
        (
            "mnist-cnn (plain CNN)",
            (kiln::models::architecture("mnist-cnn").unwrap().build)(&mnist),
            mnist,
        ),
        (
            "CIFAR ResNet-8, option A (zero-pad) shortcuts",
            cifar(ShortcutKind::ZeroPad),
            ModelSpec::new(3, 3, 8),
        ),
        (
            "CIFAR ResNet-8, option B (projection) shortcuts",
            cifar(ShortcutKind::Projection),
            ModelSpec::new(3, 3, 8),
        ),
        (
            // ImageNet stem (7×7 stride 2, max-pool) and one bottleneck per stage: 32×32 in,
            // stages at 8×8 … 1×1.
            "bottleneck ResNet 1-1-1-1, ImageNet stem",
            ModelConfig::ResNet(ResNetConfig::new(3, BlockKind::Bottleneck, [1, 1, 1, 1])),
            ModelSpec::new(3, 3, 32),
        ),
    ]
}

/// Every learnable tensor gets a gradient and moves, but for a convolution's bias followed by a
/// batch norm (which subtracts it again: zero gradient).
fn assert_all_learn(unchanged: &[String], label: &str) {
    assert!(
        unchanged.iter().all(|p| p.ends_with("conv.bias")),
        "{label}: unchanged {unchanged:?}"
    );
}

#[test]
fn every_architecture_trains_one_step_on_every_cpu_backend() {
    // 3 classes of 3×32×32 (CIFAR-sized) images; the MNIST-sized 1×28×28 forward of every
    // architecture is checked in kiln-models' unit tests.
    let spec = ModelSpec::new(3, 3, 32);
    for (backend, device) in usable_backends().into_iter().filter(|(b, _)| !b.is_gpu()) {
        for info in ARCHITECTURES {
            let label = format!("{} on {backend}", info.name);
            let unchanged = train_step(&(info.build)(&spec), &spec, &device, &label);
            assert_all_learn(&unchanged, &label);
        }
    }
}

#[test]
fn each_structural_kind_trains_one_step_on_every_backend() {
    for (backend, device) in usable_backends() {
        for (kind, config, spec) in structural_kinds() {
            let label = format!("{kind} on {backend}");
            let start = std::time::Instant::now();
            let unchanged = train_step(&config, &spec, &device, &label);
            assert_all_learn(&unchanged, &label);
            eprintln!("{label}: {:.1} s", start.elapsed().as_secs_f64());
        }
    }
}
