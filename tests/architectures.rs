//! Every registered architecture on every compiled backend: a forward pass and one training
//! step (cross-entropy, backward, SGD update) on a small batch, shapes asserted.
//!
//! A GPU backend compiled in but without an adapter/driver prints `SKIPPED` with the reason.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use common::usable_backends;
use kiln::models::{ARCHITECTURES, Architecture, ImageClassifier, ModelSpec};

/// Every float parameter's values, flattened, in visiting order.
fn parameters<M: Module>(model: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .push(param.val().into_data().convert::<f32>().try_to_vec().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// Forward + one SGD step of `arch` on `device`; returns how many of the parameter tensors
/// changed, and how many there are.
fn train_step<A: Architecture>(
    arch: &A,
    spec: &ModelSpec,
    device: &Device,
    label: &str,
) -> (usize, usize) {
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
    let model = SgdConfig::new().init().step(0.1, model, grads);
    let after = parameters(&model);
    assert_eq!(before.len(), after.len(), "{label}");
    let mut changed = 0;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.len(), a.len(), "{label}: a parameter changed shape");
        assert!(a.iter().all(|v| v.is_finite()), "{label}: non-finite parameter");
        changed += usize::from(b != a);
    }
    // Evaluation mode gives logits of the same shape.
    let eval = model
        .valid()
        .forward(Tensor::<4>::zeros([1, spec.in_channels, spec.image_size, spec.image_size], plain));
    assert_eq!(eval.dims(), [1, spec.num_classes], "{label}");
    (changed, after.len())
}

#[test]
fn every_architecture_trains_one_step_on_every_backend() {
    // 3 classes of 3×32×32 (CIFAR-sized) images, and 1×28×28 (MNIST-sized) for the CNNs.
    for (backend, device) in usable_backends() {
        for info in ARCHITECTURES {
            for spec in [ModelSpec::new(3, 3, 32), ModelSpec::new(3, 1, 28)] {
                let label = format!("{} on {backend}, {spec:?}", info.name);
                let arch = (info.build)(&spec);
                let (changed, total) = train_step(&arch, &spec, &device, &label);
                // Every parameter tensor moves (batch-norm running statistics too: they update
                // in training mode).
                assert_eq!(changed, total, "{label}: parameter tensors changed");
            }
        }
    }
}
