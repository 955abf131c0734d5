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
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Runs `model` (in validation mode: call `.valid()` first) over `data` in file order.
pub fn evaluate<M: ImageClassifier>(
    model: &M,
    data: &ImageDataset,
    loader: &Loader,
    batch_size: usize,
    collect_predictions: bool,
) -> Result<Evaluation, TrainError> {
    let start = Instant::now();
    let k = data.num_classes();
    let mut stats = PhaseAccumulator::new(k);
    let mut predictions = collect_predictions.then(|| Predictions::new(k));
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
                    let probs = softmax(logits, 1)
                        .into_data()
                        .try_into_vec_as::<f32>()
                        .map_err(|e| EvalError::Tensor(format!("{e:?}")))?;
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
        seconds: start.elapsed().as_secs_f64(),
    })
}
