//! Throughput of an architecture on the compiled backend (`kiln bench`): training and
//! evaluation images per second after a warm-up, the way a PyTorch benchmark loop measures it —
//! batches indexed from the dataset in memory, the loss read back every step (`loss.item()`),
//! the predictions read back every evaluation batch.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use kiln_data::{Batcher, ImageDataset, Normalization, epoch_batches};
use kiln_models::ImageClassifier;

use crate::error::TrainError;
use crate::optimizer::OptimizerConfig;
use crate::plan::ConfigError;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchSettings {
    /// Images per step.
    pub batch_size: usize,
    /// Steps timed, training and evaluation each.
    pub steps: usize,
    /// Steps run first, untimed.
    pub warmup: usize,
    /// Adam's learning rate.
    pub lr: f64,
}

/// Images per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Forward, loss, backward and Adam step.
    pub train_images_per_sec: f64,
    /// Forward in inference mode and the predicted classes read back.
    pub eval_images_per_sec: f64,
}

/// Trains `model` (built on `device.autodiff()`) for `warmup + steps` Adam steps on batches of
/// `data` in a seeded order, then evaluates it for as many batches; times the last `steps` of
/// each.
pub fn throughput<M: ImageClassifier>(
    mut model: M,
    data: &ImageDataset,
    norm: Normalization,
    device: &Device,
    s: &BenchSettings,
) -> Result<Throughput, TrainError> {
    if s.batch_size == 0 || s.steps == 0 || data.len() < s.batch_size {
        return Err(ConfigError::rule(
            "batch_size",
            format!(
                "a benchmark needs at least one step and a full batch ({} images for batch {}, {} steps)",
                data.len(),
                s.batch_size,
                s.steps
            ),
        )
        .into());
    }
    let order: Vec<Vec<usize>> = epoch_batches(data.len(), s.batch_size, Some((0, 1)))
        .into_iter()
        .filter(|b| b.len() == s.batch_size)
        .collect();
    let batch = |i: usize| &order[i % order.len()];
    let train_batcher = Batcher::new(norm, device.clone().autodiff());
    let loss_fn = CrossEntropyLossConfig::new().init(&device.clone().autodiff());
    let mut optim = OptimizerConfig::Adam {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.0,
    }
    .init(None);
    let mut start = Instant::now();
    for i in 0..s.warmup + s.steps {
        if i == s.warmup {
            start = Instant::now();
        }
        let b = train_batcher.batch(data, batch(i));
        let loss = loss_fn.forward(model.forward(b.images), b.targets);
        let value = loss.clone().into_scalar::<f64>();
        if !value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                epoch: 1,
                batch: i,
                loss: value,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(s.lr, model, grads);
    }
    let train = start.elapsed().as_secs_f64();

    let model = model.valid();
    let eval_batcher = Batcher::new(norm, device.clone());
    for i in 0..s.warmup + s.steps {
        if i == s.warmup {
            start = Instant::now();
        }
        let b = eval_batcher.batch(data, batch(i));
        let predicted = model.forward(b.images).argmax(1).into_data();
        std::hint::black_box(predicted);
    }
    let eval = start.elapsed().as_secs_f64();
    let images = (s.steps * s.batch_size) as f64;
    Ok(Throughput {
        train_images_per_sec: images / train,
        eval_images_per_sec: images / eval,
    })
}
