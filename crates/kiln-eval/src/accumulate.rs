//! Gathering confusion counts from logits on any backend, without a per-sample host loop.

use burn::tensor::{IndexingUpdateOp, Int, Tensor};

use crate::confusion::ConfusionMatrix;
use crate::error::EvalError;

impl ConfusionMatrix {
    /// Adds a batch: the argmax of `logits` (or probabilities) against `targets`.
    ///
    /// The pair index `target · K + prediction` is one-hot encoded and summed on the device, so
    /// only `K²` counts cross to the host.
    ///
    /// # Shapes
    /// - logits: `[batch, K]`
    /// - targets: `[batch]`, values in `0..K`
    pub fn update(&mut self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Result<(), EvalError> {
        let [batch, k] = logits.dims();
        if k != self.num_classes() {
            return Err(EvalError::LengthMismatch {
                what: "logit columns and the confusion matrix's classes",
                left: k,
                right: self.num_classes(),
            });
        }
        if targets.dims()[0] != batch {
            return Err(EvalError::LengthMismatch {
                what: "logit rows and targets",
                left: batch,
                right: targets.dims()[0],
            });
        }
        if batch == 0 {
            return Ok(());
        }
        // Out-of-range targets are counted (and reported) rather than indexed: one_hot would
        // panic on them. Counts and the invalid count come back in one read.
        let k_i = k as i64;
        let invalid = targets
            .clone()
            .greater_equal_elem(0)
            .bool_and(targets.clone().lower_elem(k_i))
            .bool_not()
            .int()
            .sum();
        let preds: Tensor<1, Int> = logits.argmax(1).flatten(0, 1);
        let pair = targets.clamp(0, k_i - 1).mul_scalar(k_i).add(preds);
        // A bincount: scatter-add a 1 per sample into K² cells (O(batch) memory; a one-hot
        // would materialize batch × K² integers).
        let ones = Tensor::<1, Int>::ones([batch], &pair.device());
        let counts = Tensor::<1, Int>::zeros([k * k], &pair.device()).scatter(
            0,
            pair,
            ones,
            IndexingUpdateOp::Add,
        );
        let read = Tensor::cat(vec![counts, invalid], 0)
            .into_data()
            .try_into_vec_as::<i64>()
            .map_err(|e| EvalError::Tensor(format!("{e:?}")))?;
        let (counts, invalid) = read.split_at(k * k);
        if invalid[0] > 0 {
            return Err(EvalError::TargetsOutOfRange {
                count: invalid[0] as usize,
                batch,
                num_classes: k,
            });
        }
        for (i, &n) in counts.iter().enumerate() {
            if n > 0 {
                self.add(i / k, i % k, n as u64)?;
            }
        }
        Ok(())
    }
}
