use burn::tensor::Device;

use super::*;
use crate::batch::Normalization;
use crate::epoch_batches;
use crate::images::ImageShape;

fn dataset(n: usize) -> ImageDataset {
    let shape = ImageShape {
        channels: 3,
        height: 5,
        width: 4,
    };
    let pixels = (0..n * shape.len()).map(|i| (i * 7 % 251) as u8).collect();
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    ImageDataset::new(shape, 3, pixels, labels).unwrap()
}

fn batcher() -> Batcher {
    let norm = Normalization {
        mean: [0.1, 0.2, 0.3],
        std: [0.5, 0.25, 2.0],
    };
    Batcher::new(norm, Device::flex())
}

/// Every batch as host data, in delivery order.
fn delivered(workers: usize, data: &ImageDataset, batches: &[Vec<usize>]) -> Vec<HostBatch> {
    Loader::new(batcher(), workers).run(data, batches, 0, |it| {
        assert_eq!(it.len(), batches.len());
        it.map(|(batch, indices)| {
            assert_eq!(batch.images.dims()[0], indices.len());
            HostBatch {
                pixels: batch.images.into_data().try_into_vec_as::<f32>().unwrap(),
                labels: batch
                    .targets
                    .into_data()
                    .convert::<i64>()
                    .try_into_vec()
                    .unwrap(),
                dims: [indices.len(), 3, 5, 4],
                soft_targets: None,
            }
        })
        .collect()
    })
}

#[test]
fn workers_deliver_exactly_the_batches_built_in_place_in_order() {
    let data = dataset(23);
    let batches = epoch_batches(data.len(), 4, Some((9, 1)));
    let expected: Vec<HostBatch> = batches
        .iter()
        .map(|b| batcher().host_batch(&data, b))
        .collect();
    for workers in [0, 1, 2, 3, 8] {
        assert_eq!(
            delivered(workers, &data, &batches),
            expected,
            "{workers} workers"
        );
    }
    assert!(delivered(2, &data, &[]).is_empty());
}

#[test]
fn stopping_early_releases_the_workers() {
    // 100 batches, 3 workers with 2 ready each: returning after 5 must not wait for the rest
    // to be built (a worker blocked on a full channel sees the hang-up and ends).
    let data = dataset(200);
    let batches = epoch_batches(data.len(), 2, None);
    let seen = Loader::new(batcher(), 3).run(&data, &batches, 0, |it| it.take(5).count());
    assert_eq!(seen, 5);
}

#[test]
fn augmented_epochs_are_a_function_of_seed_and_epoch_not_of_the_workers() {
    let data = dataset(23);
    let batches = epoch_batches(data.len(), 4, Some((9, 1)));
    let augmented = |workers: usize, seed: u64, epoch: u64| {
        Loader::new(batcher(), workers)
            .with_augmentation(crate::augment::Augmentation::crop_flip(), seed)
            .run(&data, &batches, epoch, |it| {
                it.map(|(b, _)| b.images.into_data().try_into_vec_as::<f32>().unwrap())
                    .collect::<Vec<_>>()
            })
    };
    let reference = augmented(0, 5, 1);
    assert_eq!(augmented(3, 5, 1), reference);
    assert_ne!(augmented(0, 5, 2), reference, "another epoch, other draws");
    assert_ne!(augmented(0, 6, 1), reference, "another seed, other draws");
    let plain = delivered(0, &data, &batches);
    assert_ne!(
        plain.iter().map(|h| h.pixels.clone()).collect::<Vec<_>>(),
        reference
    );
}

#[test]
fn an_epoch_resumed_at_a_batch_delivers_the_rest_of_the_whole_epoch() {
    let data = dataset(23);
    let batches = epoch_batches(data.len(), 4, Some((9, 1)));
    let images = |workers: usize, first: usize| {
        Loader::new(batcher(), workers)
            .with_augmentation(crate::augment::Augmentation::crop_flip(), 5)
            .run_from(&data, &batches, first, 1, |it| {
                assert_eq!(it.len(), batches.len() - first.min(batches.len()));
                it.map(|(b, _)| b.images.into_data().try_into_vec_as::<f32>().unwrap())
                    .collect::<Vec<_>>()
            })
    };
    let whole = images(0, 0);
    for workers in [0, 2, 3] {
        for first in [1, 4, batches.len()] {
            assert_eq!(
                images(workers, first),
                whole[first..],
                "{workers} workers from {first}"
            );
        }
    }
}
