use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use kiln_data::{ImageShape, Normalization};
use kiln_models::replicas::ReplicaNorm;
use kiln_models::{ImageClassifier, LeNet5, LeNet5Config};

use super::*;
use crate::optimizer::OptimizerConfig;
use crate::schedule::LrSchedule;

/// 64 random 1×28×28 images of 4 classes.
fn data() -> ImageDataset {
    let mut rng = kiln_data::SplitMix64::new(3);
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let pixels = (0..64 * 784).map(|_| rng.below(256) as u8).collect();
    let labels = (0..64).map(|i| (i % 4) as u8).collect();
    ImageDataset::new(shape, 4, pixels, labels).unwrap()
}

fn weights<M: Module>(model: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().into_data().try_into_vec_as::<f32>().unwrap();
            self.0.extend(v);
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// `fit` of `model` on `data` (normalized around 0.5), without validation or callbacks.
fn fit_data<M: ImageClassifier + 'static>(
    model: M,
    data: &ImageDataset,
    config: &TrainingConfig,
    options: &FitOptions,
) -> Result<Fitted<M>, TrainError> {
    let norm = Normalization {
        mean: [0.5; 3],
        std: [0.25; 3],
    };
    let data = FitData {
        train: data,
        valid: None,
        norm,
    };
    let settings = FitSettings {
        device: Device::flex(),
        training: config.clone(),
        options: options.clone(),
    };
    fit(model, data, &settings, &mut [])
}

/// `model` (LeNet-5: no dropout, no batch norm) after one epoch of plain SGD.
fn train(model: &LeNet5, batch_size: usize, accumulate: usize) -> Vec<f32> {
    train_on(model, batch_size, accumulate, Vec::new(), None).0
}

/// One epoch of SGD at a constant 0.05, no momentum, in batches of `batch_size`.
fn plain_sgd(batch_size: usize) -> TrainingConfig {
    TrainingConfig::new()
        .with_epochs(1)
        .with_batch_size(batch_size)
        .with_lr(0.05)
        .with_schedule(LrSchedule::Constant)
        .with_loader_workers(0)
        .with_optimizer(OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        })
}

/// [`train`] data-parallel over `devices` (none: on Flex alone), with class-weighted loss if
/// given: the weights and the epoch's training loss.
fn train_on(
    model: &LeNet5,
    batch_size: usize,
    accumulate: usize,
    devices: Vec<Device>,
    class_weights: Option<Vec<f32>>,
) -> (Vec<f32>, f64) {
    let model = model.clone();
    let config = plain_sgd(batch_size)
        .with_class_weights(class_weights.map(crate::ClassWeights::Values))
        .with_grad_accumulation(accumulate);
    let options = FitOptions {
        devices,
        ..FitOptions::default()
    };
    let fitted = fit_data(model, &data(), &config, &options).unwrap();
    (weights(&fitted.model), fitted.history[0].loss)
}

#[test]
fn accumulating_two_batches_of_8_is_one_step_on_a_batch_of_16() {
    // One initialization for the three runs (the device's seed is shared with tests running
    // in parallel, so it cannot make three inits equal).
    let model = LeNet5Config::new(4).init(&Device::flex().autodiff());
    let (big, accumulated) = (train(&model, 16, 1), train(&model, 8, 2));
    let plain = train(&model, 8, 1);
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    assert!(
        max_diff(&big, &accumulated) < 1e-5,
        "{}",
        max_diff(&big, &accumulated)
    );
    // Without accumulation the 8 steps of 8 end elsewhere: the comparison can fail.
    assert!(max_diff(&big, &plain) > 1e-3, "{}", max_diff(&big, &plain));
}

#[test]
fn the_balanced_sampler_feeds_classes_equally_often() {
    // 56 images of class 0, 8 of class 1: the shuffle sees 12.5% of class 1.
    let d = data();
    let skewed = ImageDataset::new(
        d.shape(),
        2,
        (0..64).flat_map(|i| d.image(i).to_vec()).collect(),
        (0..64).map(|i| u8::from(i >= 56)).collect(),
    )
    .unwrap();
    let device = Device::flex();
    let share_of_rare = |sampler: crate::config::Sampler| {
        let model = LeNet5Config::new(2).init(&device.clone().autodiff());
        let config = TrainingConfig::new()
            .with_epochs(8)
            .with_batch_size(16)
            .with_loader_workers(0)
            .with_sampler(sampler);
        let fitted = fit_data(model, &skewed, &config, &FitOptions::default()).unwrap();
        let (rare, all) = fitted.history.iter().fold((0, 0), |(r, a), m| {
            (r + m.confusion.support(1), a + m.confusion.total())
        });
        rare as f64 / all as f64
    };
    assert_eq!(share_of_rare(crate::config::Sampler::Shuffle), 0.125);
    // 512 draws at ½: σ ≈ 0.022.
    let balanced = share_of_rare(crate::config::Sampler::Balanced);
    assert!((balanced - 0.5).abs() < 0.09, "{balanced}");
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

#[test]
#[allow(deprecated)] // Device::ndarray
fn data_parallel_replicas_take_the_single_device_step() {
    let model = LeNet5Config::new(4).init(&Device::flex().autodiff());
    // Replicas of Flex take turns; Flex with ndarray are two devices, run in threads, the
    // gradients crossing between them. Batch 10 over 64 images: the last batch (4) splits
    // unevenly over 3 replicas.
    let setups = [
        vec![Device::flex(); 2],
        vec![Device::flex(); 3],
        vec![Device::flex(), Device::ndarray()],
    ];
    for weights in [None, Some(vec![1.0, 2.0, 3.0, 4.0])] {
        let (one, loss) = train_on(&model, 10, 1, Vec::new(), weights.clone());
        for devices in &setups {
            let (many, many_loss) = train_on(&model, 10, 1, devices.clone(), weights.clone());
            let d = max_diff(&one, &many);
            assert!(d < 1e-4, "{devices:?}, {weights:?}: {d}");
            assert!((loss - many_loss).abs() < 1e-5, "{loss} vs {many_loss}");
        }
        // With accumulation over pairs of batches too.
        let (acc, _) = train_on(&model, 10, 2, Vec::new(), weights.clone());
        let (acc_many, _) = train_on(&model, 10, 2, setups[0].clone(), weights.clone());
        assert!(max_diff(&acc, &acc_many) < 1e-5);
        assert!(max_diff(&acc, &one) > 1e-4, "the comparison can fail");
    }
}

#[test]
fn shards_are_as_equal_as_possible() {
    use crate::data_parallel::shard_sizes;
    assert_eq!(shard_sizes(10, 3), [4, 3, 3]);
    assert_eq!(shard_sizes(2, 3), [1, 1]);
    assert_eq!(shard_sizes(64, 2), [32, 32]);
}

/// The model `fresh` builds after one step of SGD on all 64 images, on `devices` (none: Flex
/// alone), batch norms normalizing as `norm` says: every weight and running statistic. (One
/// step: a ResNet on random images amplifies float rounding by orders of magnitude within a
/// few steps, fused kernels against Burn's ops on one device included.)
fn fit_weights<M: ImageClassifier + 'static>(
    fresh: impl Fn() -> M,
    devices: Vec<Device>,
    norm: ReplicaNorm,
) -> Result<Vec<f32>, TrainError> {
    let config = plain_sgd(64);
    let options = FitOptions {
        devices,
        replica_norm: norm,
        ..FitOptions::default()
    };
    let fitted = fit_data(fresh(), &data(), &config, &options)?;
    Ok(weights(&fitted.model.valid()))
}

#[test]
#[allow(deprecated)] // Device::ndarray
fn batch_norm_models_take_the_single_device_step_on_replicas() {
    use kiln_models::{Architecture, ModelConfig, ModelSpec};
    let arch = ModelConfig::from_name("resnet20", &ModelSpec::new(4, 1, 28)).unwrap();
    let device = Device::flex().autodiff();
    let initial = arch.init(&device).into_record();
    // Running statistics of its own each time (clones and loaded clones share them).
    let model = || arch.init(&device).load_record(initial.clone());
    let one = fit_weights(model, Vec::new(), ReplicaNorm::Synchronized).unwrap();
    // Flex replicas meet in the fused blocks (64 images over 3: 22, 21, 21).
    for n in [2, 3] {
        let many = fit_weights(model, vec![Device::flex(); n], ReplicaNorm::Synchronized);
        let d = max_diff(&one, &many.unwrap());
        assert!(d < 1e-6, "{n} Flex replicas: {d}");
    }
    // Flex with ndarray on Burn's ops, the statistics crossing between the backends: against
    // one device on Burn's ops.
    let burn_ops = || fit_weights(model, Vec::new(), ReplicaNorm::Synchronized);
    let one_burn_ops = kiln_models::with_reference_ops(burn_ops).unwrap();
    let devices = vec![Device::flex(), Device::ndarray()];
    let mixed = fit_weights(model, devices, ReplicaNorm::Synchronized).unwrap();
    let d = max_diff(&one_burn_ops, &mixed);
    assert!(d < 1e-4, "Flex + ndarray: {d}");
    let per_replica = fit_weights(model, vec![Device::flex(); 2], ReplicaNorm::PerReplica);
    let d = max_diff(&one, &per_replica.unwrap());
    assert!(d > 1e-3, "per-replica normalization is another step: {d}");
}

#[test]
fn batch_norm_and_dropout_on_one_shared_device_are_refused() {
    let device = Device::flex().autodiff();
    let model = || kiln_models::MnistCnnConfig::new(4).init(&device);
    match fit_weights(model, vec![Device::flex(); 2], ReplicaNorm::Synchronized) {
        Err(TrainError::Config(e)) => assert!(e.to_string().contains("dropout"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A model normalizing with Burn's `BatchNorm::forward` directly, which replicas cannot meet at.
#[derive(burn::module::Module, Debug)]
struct DirectBatchNorm {
    conv: burn::nn::conv::Conv2d,
    norm: burn::nn::BatchNorm,
    head: burn::nn::Linear,
}

impl ImageClassifier for DirectBatchNorm {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.norm.forward(self.conv.forward(images));
        self.head.forward(x.flatten(1, 3))
    }
}

#[test]
fn a_batch_norm_outside_kiln_is_refused_on_replicas() {
    let device = Device::flex().autodiff();
    let model = || DirectBatchNorm {
        conv: burn::nn::conv::Conv2dConfig::new([1, 2], [5, 5]).init(&device),
        norm: burn::nn::BatchNormConfig::new(2).init(&device),
        head: burn::nn::LinearConfig::new(2 * 24 * 24, 4).init(&device),
    };
    assert!(fit_weights(model, Vec::new(), ReplicaNorm::Synchronized).is_ok());
    match fit_weights(model, vec![Device::flex(); 2], ReplicaNorm::Synchronized) {
        Err(TrainError::Config(e)) => {
            assert!(e.to_string().contains("kiln::models::batch_norm"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_ctrl_c_before_the_first_step_stops_with_nothing_saved() {
    let device = Device::flex();
    let model = LeNet5Config::new(4).init(&device.clone().autodiff());
    let tmp = tempfile::tempdir().unwrap();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let options = FitOptions {
        checkpoint_dir: Some(tmp.path().join("state")),
        interrupt: Some(flag),
        ..FitOptions::default()
    };
    let config = TrainingConfig::new().with_epochs(1).with_loader_workers(0);
    match fit_data(model, &data(), &config, &options) {
        Err(TrainError::Interrupted {
            epoch: 1,
            batch: 0,
            saved: None,
        }) => {}
        other => panic!(
            "expected an interruption, got {:?}",
            other.map(|f| f.history)
        ),
    }
    assert!(!tmp.path().join("state").exists());
}
