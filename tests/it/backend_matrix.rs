//! The same checks on every backend compiled into this build.
//!
//! A GPU backend compiled in but without an adapter/driver prints `SKIPPED` with the reason.

use crate::common::usable_backends as devices;
use burn::tensor::{Device, Int, Tensor, TensorData};
use kiln::train::{Phase, PhaseAccumulator};

fn logits_for(preds: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; preds.len() * k];
    for (i, &p) in preds.iter().enumerate() {
        v[i * k + p] = 5.0;
    }
    Tensor::from_data(TensorData::new(v, [preds.len(), k]), device)
}

fn targets(t: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(t.to_vec(), [t.len()]), device)
}

/// Batch 1: 4 samples, 3 correct (0.75). Batch 2: 1 sample, wrong (0.0).
/// Mean of batch accuracies = 0.375; pooled over samples = 3/5 = 0.6.
#[test]
fn epoch_accuracy_is_pooled_over_samples_not_averaged_over_batches() {
    for (backend, device) in devices() {
        let mut acc = PhaseAccumulator::new(3);
        acc.confusion_mut()
            .update(
                logits_for(&[0, 1, 2, 0], 3, &device),
                targets(&[0, 1, 2, 1], &device),
            )
            .unwrap();
        acc.add_loss(0.5, 4);
        acc.confusion_mut()
            .update(logits_for(&[2], 3, &device), targets(&[0], &device))
            .unwrap();
        acc.add_loss(2.0, 1);
        let m = acc.finish(1, Phase::Train, 0.1, 1.0);
        assert_eq!(m.accuracy, 0.6, "{backend}");
        assert_ne!(m.accuracy, (0.75 + 0.0) / 2.0);
        assert!(
            (m.loss - (0.5 * 4.0 + 2.0) / 5.0).abs() < 1e-12,
            "{backend}: loss pooled too"
        );
        assert_eq!(m.samples, 5);
        let cm = acc.confusion();
        assert_eq!(
            (cm.get(1, 0), cm.get(0, 2), cm.correct()),
            (1, 1, 3),
            "{backend}"
        );
    }
}

#[test]
fn confusion_update_rejects_out_of_range_targets() {
    for (backend, device) in devices() {
        let mut cm = kiln::eval::ConfusionMatrix::new(3);
        let r = cm.update(logits_for(&[0, 1], 3, &device), targets(&[0, 7], &device));
        assert!(r.is_err(), "{backend}");
    }
}

/// A large batch (many samples per cell, so the device's scatter-add must not lose concurrent
/// updates) counts exactly what the host counts, and two half-batches merged equal one pass.
#[test]
fn confusion_update_matches_host_counts_and_merge() {
    let n = 20_000;
    let k = 10;
    let mut rng = kiln::data::SplitMix64::new(11);
    let t: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
    // Mostly right, with class-dependent confusions.
    let p: Vec<usize> = t
        .iter()
        .map(|&c| {
            if rng.below(4) == 0 {
                (c + 1 + rng.below(2)) % k
            } else {
                c
            }
        })
        .collect();
    let expected = kiln::eval::ConfusionMatrix::from_labels(&t, &p, k).unwrap();
    let t64: Vec<i64> = t.iter().map(|&c| c as i64).collect();
    for (backend, device) in devices() {
        let mut whole = kiln::eval::ConfusionMatrix::new(k);
        whole
            .update(logits_for(&p, k, &device), targets(&t64, &device))
            .unwrap();
        assert_eq!(whole, expected, "{backend}: one pass");
        let half = n / 2;
        let mut first = kiln::eval::ConfusionMatrix::new(k);
        first
            .update(
                logits_for(&p[..half], k, &device),
                targets(&t64[..half], &device),
            )
            .unwrap();
        let mut second = kiln::eval::ConfusionMatrix::new(k);
        second
            .update(
                logits_for(&p[half..], k, &device),
                targets(&t64[half..], &device),
            )
            .unwrap();
        first.merge(&second).unwrap();
        assert_eq!(first, expected, "{backend}: merged halves");
    }
}
