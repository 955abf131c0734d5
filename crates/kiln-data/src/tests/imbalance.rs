use super::*;
use crate::images::ImageShape;

/// 300 one-pixel images, labels 0,1,2 repeating; the pixel is the image's index mod 256.
fn toy() -> ImageDataset {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 1,
    };
    let labels: Vec<u8> = (0..300).map(|i| (i % 3) as u8).collect();
    let pixels: Vec<u8> = (0..300).map(|i| (i % 256) as u8).collect();
    ImageDataset::new(shape, 3, pixels, labels).unwrap()
}

#[test]
fn keeps_a_seeded_fraction_of_one_class_only() {
    let data = toy();
    let rare = keep_class_fraction(&data, 1, 0.05, 7).unwrap();
    assert_eq!(rare.class_counts(), vec![100, 5, 100]);
    assert_eq!(
        keep_class_fraction(&data, 1, 0.05, 7).unwrap().labels(),
        rare.labels()
    );
    let other = keep_class_fraction(&data, 1, 0.05, 8).unwrap();
    let picked = |d: &ImageDataset| -> Vec<u8> {
        (0..d.len())
            .filter(|&i| d.labels()[i] == 1)
            .map(|i| d.image(i)[0])
            .collect()
    };
    assert_ne!(picked(&rare), picked(&other), "the seed picks the images");
    assert_eq!(
        keep_class_fraction(&data, 0, 0.001, 1)
            .unwrap()
            .class_counts()[0],
        1
    );
    assert_eq!(keep_class_fraction(&data, 2, 1.0, 1).unwrap().len(), 300);
}

#[test]
fn bad_fraction_or_class_is_an_error() {
    let data = toy();
    for f in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(keep_class_fraction(&data, 0, f, 1).is_err(), "{f}");
    }
    assert!(keep_class_fraction(&data, 3, 0.5, 1).is_err());
}

/// Images of 2 bytes holding their index (big-endian), with the given labels.
fn indexed(labels: Vec<u8>, classes: usize) -> ImageDataset {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 2,
    };
    let pixels = (0..labels.len() as u16)
        .flat_map(u16::to_be_bytes)
        .collect();
    ImageDataset::new(shape, classes, pixels, labels).unwrap()
}

fn ids(d: &ImageDataset) -> Vec<u16> {
    (0..d.len())
        .map(|i| u16::from_be_bytes([d.image(i)[0], d.image(i)[1]]))
        .collect()
}

#[test]
fn class_fractions_build_a_long_tailed_variant() {
    let data = toy();
    let tail = keep_class_fractions(&data, &[1.0, 0.5, 0.0], 3).unwrap();
    assert_eq!(tail.class_counts(), vec![100, 50, 0]);
    assert!(keep_class_fractions(&data, &[1.0, 0.5], 3).is_err());
    assert!(keep_class_fractions(&data, &[1.0, 1.5, 0.0], 3).is_err());
    // The one-class form is the general one with the others at 1.
    assert_eq!(
        keep_class_fraction(&data, 2, 0.1, 9).unwrap(),
        keep_class_fractions(&data, &[1.0, 1.0, 0.1], 9).unwrap()
    );
}

#[test]
fn the_stratified_split_keeps_class_proportions_exactly() {
    // 200 / 80 / 20 images: a validation set of 30 takes 20 / 8 / 2.
    let labels: Vec<u8> = (0..300)
        .map(|i| {
            if i < 200 {
                0
            } else if i < 280 {
                1
            } else {
                2
            }
        })
        .collect();
    let data = indexed(labels, 3);
    let (train, valid) = stratified_split(&data, 30, 5).unwrap();
    assert_eq!(valid.class_counts(), vec![20, 8, 2]);
    assert_eq!(train.class_counts(), vec![180, 72, 18]);
    // Disjoint, complete, in file order, seeded.
    let (t, v) = (ids(&train), ids(&valid));
    let mut all: Vec<u16> = t.iter().chain(&v).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..300).collect::<Vec<u16>>());
    assert!(t.windows(2).all(|w| w[0] < w[1]) && v.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ids(&stratified_split(&data, 30, 5).unwrap().1), v);
    assert_ne!(ids(&stratified_split(&data, 30, 6).unwrap().1), v);

    // Shares that do not divide: 10 of 3 × 100 → 3.33 each; the largest remainders (ties by
    // class) get the extra image.
    let (_, valid) = stratified_split(&toy(), 10, 1).unwrap();
    assert_eq!(valid.class_counts(), vec![4, 3, 3]);
    assert!(stratified_split(&toy(), 300, 1).is_err());
}
