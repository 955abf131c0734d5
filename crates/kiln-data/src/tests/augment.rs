use super::*;

const SHAPE: ImageShape = ImageShape {
    channels: 2,
    height: 6,
    width: 5,
};

/// Channel 0: `10 · y + x`; channel 1: 200 everywhere.
fn image() -> Vec<u8> {
    let mut px: Vec<u8> = (0..6u8)
        .flat_map(|y| (0..5u8).map(move |x| 10 * y + x))
        .collect();
    px.extend([200u8; 30]);
    px
}

#[test]
fn nothing_changes_without_augmentation_or_with_an_identity_affine() {
    let mut px = image();
    Augmentation::NONE.apply(&mut px, SHAPE, &mut SplitMix64::new(1));
    assert_eq!(px, image());
    let identity = Augmentation {
        affine: Some(Affine {
            degrees: 0.0,
            translate: 0.0,
            scale: 0.0,
        }),
        ..Augmentation::NONE
    };
    identity.apply(&mut px, SHAPE, &mut SplitMix64::new(1));
    assert_eq!(px, image());
}

#[test]
fn a_padded_crop_is_a_shift_with_zero_fill_and_a_flip_mirrors_rows() {
    let mut px = image();
    shift(&mut px, SHAPE, 1, -2);
    // (x, y) takes the pixel at (x + 1, y − 2): row 2 starts with 01 (= 10·0 + 1).
    assert_eq!(&px[..5], &[0; 5]);
    assert_eq!(&px[10..15], &[1, 2, 3, 4, 0]);
    assert_eq!(&px[30..35], &[0; 5], "channel 1 shifts too");
    assert_eq!(&px[40..45], &[200, 200, 200, 200, 0]);

    let flip = Augmentation {
        horizontal_flip: true,
        ..Augmentation::NONE
    };
    let mut flipped = 0;
    for seed in 0..400 {
        let mut px = image();
        flip.apply(&mut px, SHAPE, &mut SplitMix64::new(seed));
        match px == image() {
            true => {}
            false => {
                assert_eq!(&px[..5], &[4, 3, 2, 1, 0]);
                flipped += 1;
            }
        }
    }
    // Binomial(400, 0.5): 200 ± 4σ (σ = 10).
    assert!((160..=240).contains(&flipped), "{flipped}");
}

#[test]
fn crops_stay_within_the_padding_and_cover_it() {
    let crop = Augmentation {
        crop_padding: 2,
        ..Augmentation::NONE
    };
    let mut offsets = std::collections::BTreeSet::new();
    for seed in 0..500 {
        let mut px = image();
        crop.apply(&mut px, SHAPE, &mut SplitMix64::new(seed));
        // Where the centre pixel 22 (x 2, y 2) went: inside for every offset.
        let i = (0..30).find(|&i| px[i] == 22).unwrap();
        offsets.insert((2 - (i % 5) as isize, 2 - (i / 5) as isize));
    }
    let all: std::collections::BTreeSet<(isize, isize)> = (-2..=2)
        .flat_map(|dx| (-2..=2).map(move |dy| (dx, dy)))
        .collect();
    assert_eq!(offsets, all);
}

#[test]
fn an_affine_transform_keeps_the_image_roughly_in_place_and_is_seeded() {
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    // A bright square in the middle.
    let square: Vec<u8> = (0..784)
        .map(
            |i| match (10..18).contains(&(i % 28)) && (10..18).contains(&(i / 28)) {
                true => 250,
                false => 0,
            },
        )
        .collect();
    let mass = |px: &[u8]| px.iter().map(|&v| u64::from(v)).sum::<u64>() as f64;
    for seed in 0..20 {
        let mut px = square.clone();
        Augmentation::AFFINE.apply(&mut px, shape, &mut SplitMix64::new(seed));
        // ±10% scale changes the area by at most ~21%; rotation and shifts keep it inside.
        let ratio = mass(&px) / mass(&square);
        assert!((0.75..1.3).contains(&ratio), "seed {seed}: {ratio}");
        let mut again = square.clone();
        Augmentation::AFFINE.apply(&mut again, shape, &mut SplitMix64::new(seed));
        assert_eq!(px, again);
    }
}
