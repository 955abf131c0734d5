use super::*;

#[test]
fn batches_cover_every_index_once() {
    let b = epoch_batches(10, 4, Some((1, 0)));
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    let mut all: Vec<usize> = b.concat();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_ne!(
        epoch_batches(10, 4, Some((1, 1))),
        b,
        "each epoch reshuffles"
    );
    assert_eq!(
        epoch_batches(5, 2, None),
        vec![vec![0, 1], vec![2, 3], vec![4]]
    );
}

#[test]
fn normalization_table() {
    let t = Normalization {
        mean: [0.5, 0.0, 1.0],
        std: [0.5, 1.0, 0.5],
    }
    .tables();
    assert_eq!((t[0][0], t[0][255]), (-1.0, 1.0));
    assert_eq!((t[1][0], t[1][255]), (0.0, 1.0));
    assert_eq!((t[2][0], t[2][255]), (-2.0, 0.0));
}

#[test]
fn rgb_batches_normalize_each_channel_with_its_own_constants() {
    use burn::tensor::Device;

    use crate::images::{ImageDataset, ImageShape};
    let shape = ImageShape {
        channels: 3,
        height: 1,
        width: 2,
    };
    // Two images; channel planes R, G, B of 2 pixels each.
    let pixels = vec![0, 255, 0, 255, 0, 255, 255, 255, 0, 0, 255, 0];
    let data = ImageDataset::new(shape, 2, pixels, vec![1, 0]).unwrap();
    let norm = Normalization {
        mean: [0.5, 0.0, 1.0],
        std: [0.5, 1.0, 0.5],
    };
    let batch = Batcher::new(norm, Device::flex()).batch(&data, &[1, 0]);
    assert_eq!(batch.images.dims(), [2, 3, 1, 2]);
    let v = batch.images.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(
        v,
        [
            1.0, 1.0, 0.0, 0.0, 0.0, -2.0, -1.0, 1.0, 0.0, 1.0, -2.0, 0.0
        ]
    );
    let t = batch
        .targets
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    assert_eq!(t, [0, 1]);
}

#[test]
fn a_balanced_sampler_draws_every_class_equally_often() {
    // 900 images of class 0, 100 of class 1.
    let labels: Vec<u8> = (0..1000).map(|i| u8::from(i >= 900)).collect();
    let weights = balanced_class_weights(&labels, 2);
    assert_eq!(weights, [1.0 / 900.0, 1.0 / 100.0]);
    let mut rare = 0;
    let epochs = 20;
    for epoch in 0..epochs {
        let batches = weighted_epoch_batches(&labels, &weights, 64, (7, epoch));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 1000);
        assert!(batches[..15].iter().all(|b| b.len() == 64));
        rare += batches.concat().iter().filter(|&&i| i >= 900).count();
    }
    // Binomial(20,000, ½): σ ≈ 71; allow 4σ.
    let expected = 10_000.0;
    assert!((rare as f64 - expected).abs() < 4.0 * 70.8, "{rare}");
    // Seeded per epoch, and a class of weight 0 is never drawn.
    assert_eq!(
        weighted_epoch_batches(&labels, &weights, 64, (7, 3)),
        weighted_epoch_batches(&labels, &weights, 64, (7, 3))
    );
    assert_ne!(
        weighted_epoch_batches(&labels, &weights, 64, (7, 3)),
        weighted_epoch_batches(&labels, &weights, 64, (7, 4))
    );
    let only_rare = weighted_epoch_batches(&labels, &[0.0, 1.0], 64, (7, 0));
    assert!(only_rare.concat().iter().all(|&i| i >= 900));
    assert!(weighted_epoch_batches(&labels, &[0.0, 0.0], 64, (7, 0)).is_empty());
}
