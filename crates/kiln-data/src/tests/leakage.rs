use super::*;
use crate::images::ImageShape;
use crate::rng::SplitMix64;

const SHAPE: ImageShape = ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

/// `n` random images with smooth structure (random blobs), labels `i % 10`.
fn images(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = SplitMix64::new(seed);
    let mut pixels = Vec::with_capacity(n * 784);
    for _ in 0..n {
        let (cy, cx, r) = (rng.below(28), rng.below(28), 3 + rng.below(10));
        let level = 80 + rng.below(170);
        for y in 0..28usize {
            for x in 0..28usize {
                let d = y.abs_diff(cy).pow(2) + x.abs_diff(cx).pow(2);
                let base = if d < r * r { level } else { 0 };
                pixels.push((base + rng.below(30)).min(255) as u8);
            }
        }
    }
    (pixels, (0..n).map(|i| (i % 10) as u8).collect())
}

fn dataset(pixels: Vec<u8>, labels: Vec<u8>) -> ImageDataset {
    ImageDataset::new(SHAPE, 10, pixels, labels).unwrap()
}

#[test]
fn planted_exact_and_near_duplicates_are_found_exactly() {
    let (train_px, train_labels) = images(500, 1);
    let (mut test_px, mut test_labels) = images(100, 2);
    // Exact copies: test 3 = train 10, test 50 = train 499 (with another label).
    test_px[3 * 784..4 * 784].copy_from_slice(&train_px[10 * 784..11 * 784]);
    test_labels[3] = train_labels[10];
    test_px[50 * 784..51 * 784].copy_from_slice(&train_px[499 * 784..500 * 784]);
    test_labels[50] = (train_labels[499] + 1) % 10;
    // Near copies: test 7 = train 20 brightened by 3 levels; test 80 = train 300 with ±4 noise.
    let mut rng = SplitMix64::new(9);
    for p in 0..784 {
        test_px[7 * 784 + p] = train_px[20 * 784 + p].saturating_add(3);
        let noise = rng.below(9) as i32 - 4;
        test_px[80 * 784 + p] = (i32::from(train_px[300 * 784 + p]) + noise).clamp(0, 255) as u8;
    }
    test_labels[7] = train_labels[20];
    test_labels[80] = train_labels[300];
    // Not a duplicate: train 40 brightened by 40 levels (a pixel difference of ~0.15).
    for p in 0..784 {
        test_px[90 * 784 + p] = train_px[40 * 784 + p].saturating_add(40);
    }
    let train = dataset(train_px, train_labels);
    let test = dataset(test_px, test_labels);
    let overlap = find_duplicates(
        ("test", &test),
        ("train", &train),
        &LeakageOptions::default(),
    );
    let found: Vec<(usize, usize, bool, bool)> = overlap
        .matches
        .iter()
        .map(|m| (m.query, m.reference, m.is_exact(), m.same_label))
        .collect();
    assert_eq!(
        found,
        [
            (3, 10, true, true),
            (7, 20, false, true),
            (50, 499, true, false),
            (80, 300, false, true)
        ]
    );
    assert_eq!((overlap.exact, overlap.near), (2, 2));
    let brightened = overlap.matches[1].pixel_difference;
    assert!((brightened - 3.0 / 255.0).abs() < 0.002, "{brightened}");
    let text = overlap.summary();
    assert!(
        text.starts_with("4 of 100 test images (4.00%) duplicate a train image: 2 exact, 2 near"),
        "{text}"
    );
    assert!(text.contains("1 of them with another label"), "{text}");
    assert!(text.contains("test#3 = train#10"), "{text}");

    // Exact only.
    let exact = find_duplicates(
        ("test", &test),
        ("train", &train),
        &LeakageOptions {
            near: false,
            ..LeakageOptions::default()
        },
    );
    assert_eq!(exact.query_indices(), [3, 50]);
    // Of different shapes nothing can match.
    let other = ImageDataset::new(
        ImageShape {
            channels: 1,
            height: 2,
            width: 2,
        },
        10,
        vec![0; 4],
        vec![0],
    )
    .unwrap();
    assert!(
        find_duplicates(("x", &other), ("train", &train), &LeakageOptions::default())
            .matches
            .is_empty()
    );
}

#[test]
fn difference_hash_follows_horizontal_gradients() {
    // Brighter to the right: every bit set; to the left: none.
    let ramp: Vec<u8> = (0..784).map(|i| ((i % 28) * 9) as u8).collect();
    let reversed: Vec<u8> = (0..784).map(|i| ((27 - i % 28) * 9) as u8).collect();
    let data = dataset([ramp, reversed].concat(), vec![0, 1]);
    assert_eq!(difference_hash(&data, 0), u64::MAX);
    assert_eq!(difference_hash(&data, 1), 0);
}

#[test]
fn copies_inside_one_split_match_their_earliest_twin() {
    let (mut px, labels) = images(60, 4);
    // Image 30 = image 5; image 45 = image 5 too; image 59 = image 12 plus one level.
    for (to, from, add) in [(30, 5, 0u8), (45, 5, 0), (59, 12, 1)] {
        for p in 0..784 {
            px[to * 784 + p] = px[from * 784 + p].saturating_add(add);
        }
    }
    let data = dataset(px, labels);
    let within = find_duplicates_within("train", &data, &LeakageOptions::default());
    let found: Vec<(usize, usize, bool)> = within
        .matches
        .iter()
        .map(|m| (m.query, m.reference, m.is_exact()))
        .collect();
    assert_eq!(found, [(30, 5, true), (45, 5, true), (59, 12, false)]);
    let splits = check_splits(
        &data,
        &data.select(&[30]),
        &data.select(&[1, 2]),
        &LeakageOptions::default(),
    );
    let counts: Vec<(usize, usize)> = splits.iter().map(|o| (o.exact, o.near)).collect();
    assert_eq!(counts, [(1, 0), (2, 0), (0, 0)]);
}
