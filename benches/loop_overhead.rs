//! The training loop's own cost (`cargo bench --bench loop_overhead`): seconds per step of
//! [`kiln::train::fit`] with every callback `kiln train` installs (progress, `metrics.csv`,
//! `metrics.jsonl`, `lr.csv`, the curves figure, `model-last.bpk`, 2 kept checkpoints, the
//! resumable training state each epoch) against the raw step — forward, loss, backward, Adam
//! — on batches prebuilt on the device. Same model (`mnist-cnn`), batch 64, Flex, same
//! images; the two alternate for five rounds and the medians are compared.
//!
//! Epochs here are 60 steps, so the per-epoch work (figure, checkpoints) weighs ~14× more
//! than in a Fashion-MNIST epoch of 860 steps: the figure is an upper bound.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use kiln::data::{
    Batch, Batcher, DatasetName, ImageDataset, ImageShape, Resolver, epoch_batches, load,
};
use kiln::models::{Architecture, ImageClassifier, Model, ModelConfig, ModelSpec};
use kiln::train::{
    Callback, CurvesPlot, EpochCheckpoints, FitData, FitOptions, FitSettings, LastCheckpoint,
    LrMonitor, MetricsCsv, MetricsJsonl, Progress, TrainingConfig, fit,
};

const STEPS: usize = 60;
const EPOCHS: usize = 2;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn model(device: &Device) -> Model {
    ModelConfig::from_name("mnist-cnn", &ModelSpec::new(10, 1, 28))
        .unwrap()
        .init(&device.clone().autodiff())
}

/// Seconds per step of the bare step on prebuilt batches, `EPOCHS` passes over `data`.
fn raw(data: &ImageDataset) -> f64 {
    let device = Device::flex();
    let mut model = model(&device);
    let mut optim = AdamConfig::new().init();
    let batcher = Batcher::new(
        DatasetName::FashionMnist.spec().normalization(),
        device.clone().autodiff(),
    );
    let loss = CrossEntropyLossConfig::new().init(&device.clone().autodiff());
    let mut batches = Vec::new();
    for epoch in 1..=EPOCHS {
        let order = epoch_batches(data.len(), 64, Some((1, epoch as u64)));
        batches.extend(order.iter().map(|b| batcher.batch(data, b)));
    }
    let n = batches.len();
    let start = Instant::now();
    for batch in batches {
        let batch: Batch = batch;
        let loss = loss.forward(model.forward(batch.images), batch.targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    start.elapsed().as_secs_f64() / n as f64
}

/// Seconds per step of [`fit`] with `kiln train`'s callbacks.
fn looped(data: &ImageDataset) -> f64 {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut callbacks: Vec<Box<dyn Callback>> = vec![
        Box::new(Progress::default()),
        Box::new(MetricsCsv::create(&dir.join("metrics.csv"), vec![], false).unwrap()),
        Box::new(MetricsJsonl::create(&dir.join("metrics.jsonl"), vec![]).unwrap()),
        Box::new(LrMonitor::new(&dir.join("lr.csv"))),
        Box::new(CurvesPlot::new(&dir.join("training_curves"), None)),
        Box::new(LastCheckpoint::new(dir.join("model-last.bpk"))),
        Box::new(EpochCheckpoints::new(&dir.join("checkpoints"), 2, None)),
    ];
    let config = TrainingConfig::new()
        .with_epochs(EPOCHS)
        .with_batch_size(64)
        .with_lr(1e-3);
    let options = FitOptions {
        checkpoint_dir: Some(dir.join("training-state")),
        ..FitOptions::default()
    };
    let norm = DatasetName::FashionMnist.spec().normalization();
    let start = Instant::now();
    let settings = FitSettings {
        device: device.clone(),
        training: config,
        options,
    };
    let data = FitData {
        train: data,
        valid: None,
        norm,
    };
    let fitted = fit(model(&device), data, &settings, &mut callbacks).unwrap();
    let secs = start.elapsed().as_secs_f64();
    drop(fitted);
    secs / (STEPS * EPOCHS) as f64
}

fn main() {
    let all = match load(DatasetName::FashionMnist, &Resolver::from_env(None, true)) {
        Ok(d) => d.train,
        Err(_) => {
            let mut state = 7u32;
            let pixels = (0..STEPS * 64 * 784)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let labels = (0..STEPS * 64).map(|i| (i % 10) as u8).collect();
            let shape = ImageShape {
                channels: 1,
                height: 28,
                width: 28,
            };
            ImageDataset::new(shape, 10, pixels, labels).unwrap()
        }
    };
    let data = all.truncate(STEPS * 64);
    raw(&data); // warm-up
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        a.push(raw(&data));
        b.push(looped(&data));
    }
    let (a, b) = (median(a), median(b));
    println!(
        "mnist-cnn, batch 64, flex, {} threads, {EPOCHS} epochs of {STEPS} steps, median of 5:",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "  raw step (prebuilt batches, forward/loss/backward/Adam): {:.2} ms",
        a * 1e3
    );
    println!(
        "  kiln's loop with every callback:                        {:.2} ms",
        b * 1e3
    );
    println!("  loop overhead: {:+.1}%", (b / a - 1.0) * 100.0);
}
