//! Forward-only passes: validation each epoch, and the final test evaluation.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::softmax;
use kiln_data::{ImageDataset, Loader, epoch_batches};
use kiln_eval::{EvalError, Predictions};
use kiln_models::ImageClassifier;

use crate::error::TrainError;
use crate::history::PhaseAccumulator;

/// The pooled loss and confusion counts of a dataset, and optionally every sample's
/// probabilities.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Pooled loss and confusion counts.
    pub stats: PhaseAccumulator,
    /// Per-sample probabilities, in dataset order, when asked for.
    pub predictions: Option<Predictions>,
    /// With the predictions: every sample's class logits (before any temperature), row-major.
    pub logits: Option<Vec<f32>>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Runs `model` (in validation mode: call `.valid()` first) over `data` in file order; the
/// probabilities are `softmax(logits / temperature)` when a temperature is given (the loss is
/// the model's own, unscaled).
pub fn evaluate<M: ImageClassifier>(
    model: &M,
    data: &ImageDataset,
    loader: &Loader,
    batch_size: usize,
    collect_predictions: bool,
    temperature: Option<f64>,
) -> Result<Evaluation, TrainError> {
    let start = Instant::now();
    let k = data.num_classes();
    let mut stats = PhaseAccumulator::new(k);
    let mut predictions = collect_predictions.then(|| Predictions::new(k));
    let mut all_logits = collect_predictions.then(Vec::new);
    let order = epoch_batches(data.len(), batch_size, None);
    loader.run(data, &order, 0, |batches| -> Result<(), TrainError> {
        for (batch, indices) in batches {
            let logits = crate::binary::class_logits(model.forward(batch.images));
            let loss = CrossEntropyLossConfig::new()
                .init(&logits.device())
                .forward(logits.clone(), batch.targets.clone());
            stats.add_loss(loss.into_scalar::<f64>(), indices.len());
            match predictions.as_mut() {
                // With probabilities on the host anyway, count their argmax so that
                // predictions.csv and the confusion matrix can never disagree (e.g. on near-ties).
                Some(p) => {
                    let read = |t: burn::tensor::Tensor<2>| {
                        (t.into_data().try_into_vec_as::<f32>())
                            .map_err(|e| EvalError::Tensor(format!("{e:?}")))
                    };
                    if let Some(all) = all_logits.as_mut() {
                        all.extend(read(logits.clone())?);
                    }
                    let scaled = match temperature {
                        Some(t) => logits.div_scalar(t),
                        None => logits,
                    };
                    let probs = read(softmax(scaled, 1))?;
                    let labels: Vec<usize> = indices
                        .iter()
                        .map(|&i| usize::from(data.labels()[i]))
                        .collect();
                    let first = p.len();
                    p.extend(&labels, &probs)?;
                    for (i, &label) in labels.iter().enumerate() {
                        stats
                            .confusion_mut()
                            .add(label, p.predicted(first + i), 1)?;
                    }
                }
                None => stats.confusion_mut().update(logits, batch.targets)?,
            }
        }
        Ok(())
    })?;
    Ok(Evaluation {
        stats,
        predictions,
        logits: all_logits,
        seconds: start.elapsed().as_secs_f64(),
    })
}
