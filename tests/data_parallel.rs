//! Data-parallel training over two different devices — Flex and ndarray, both on the CPU — so
//! the replicas run in threads and gradients cross devices: the step equals one device's (up to
//! the two backends' float differences).

#![cfg(all(feature = "flex", feature = "ndarray"))]

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use kiln::data::{ImageDataset, ImageShape, Normalization, SplitMix64};
use kiln::models::{LeNet5, LeNet5Config};
use kiln::train::{FitOptions, OptimizerConfig, TrainingConfig, fit};

fn weights<M: Module>(model: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            self.0.extend(v);
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

fn train(model: &LeNet5, devices: Vec<Device>) -> (Vec<f32>, f64) {
    let mut rng = SplitMix64::new(3);
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let pixels = (0..40 * 784).map(|_| rng.below(256) as u8).collect();
    let labels = (0..40).map(|i| (i % 4) as u8).collect();
    let data = ImageDataset::new(shape, 4, pixels, labels).unwrap();
    let config = TrainingConfig::new()
        .with_epochs(1)
        .with_batch_size(10)
        .with_lr(0.05)
        .with_loader_workers(0)
        .with_optimizer(OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        });
    let norm = Normalization {
        mean: [0.5; 3],
        std: [0.25; 3],
    };
    let options = FitOptions {
        devices,
        ..FitOptions::default()
    };
    let device = Device::flex();
    let fitted = fit(
        model.clone(),
        &data,
        None,
        norm,
        &device,
        &config,
        &mut [],
        &options,
    )
    .unwrap();
    (weights(&fitted.model), fitted.history[0].loss)
}

#[test]
#[allow(deprecated)] // Device::ndarray
fn replicas_on_two_backends_take_the_single_device_step() {
    let model = LeNet5Config::new(4).init(&Device::flex().autodiff());
    let (one, loss) = train(&model, Vec::new());
    let (two, two_loss) = train(&model, vec![Device::flex(), Device::ndarray()]);
    let diff = one
        .iter()
        .zip(&two)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "{diff}");
    assert!((loss - two_loss).abs() < 1e-5, "{loss} vs {two_loss}");
    assert!(
        two.iter()
            .zip(&weights(&model))
            .any(|(a, b)| (a - b).abs() > 1e-3)
    );
}
