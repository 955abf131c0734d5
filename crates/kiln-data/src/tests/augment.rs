use super::color::{self, Adjustment};
use super::erasing::erasing_window;
use super::geometry::{self, Window, resize_window, resized_crop_window, shift};
use super::policy::{self, Op, RAND_OPS, Space, apply_op, magnitude};
use super::*;

#[path = "augment_torchvision.rs"]
mod torchvision;

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

/// A shape of `channels` × `height` × `width`.
fn shape(channels: usize, height: usize, width: usize) -> ImageShape {
    ImageShape {
        channels,
        height,
        width,
    }
}

/// Uniform random bytes for `shape`, seeded.
fn noise(shape: ImageShape, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..shape.len()).map(|_| rng.below(256) as u8).collect()
}

/// The pipeline of `text`, which must parse.
fn pipeline(text: &str) -> Augmentation {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
}

/// `image` after `op` at `magnitude`.
fn after(op: Op, image: &[u8], shape: ImageShape, magnitude: f32) -> Vec<u8> {
    let mut px = image.to_vec();
    apply_op(&mut px, shape, op, magnitude);
    px
}

// ---------------------------------------------------------------------------------------------
// Crop, flip, affine.

#[test]
fn nothing_changes_without_augmentation_or_with_an_identity_affine() {
    let mut px = image();
    Augmentation::NONE.apply(&mut px, SHAPE, &mut SplitMix64::new(1));
    assert_eq!(px, image());
    let identity = Augmentation::new(vec![Transform::Affine(Affine {
        degrees: 0.0,
        translate: 0.0,
        scale: 0.0,
    })])
    .unwrap();
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

    let flip = Augmentation::new(vec![Transform::HorizontalFlip]).unwrap();
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
    let crop = Augmentation::new(vec![Transform::Crop { padding: 2 }]).unwrap();
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
    let shape = shape(1, 28, 28);
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
    let affine = Augmentation::affine();
    for seed in 0..20 {
        let mut px = square.clone();
        affine.apply(&mut px, shape, &mut SplitMix64::new(seed));
        // ±10% scale changes the area by at most ~21%; rotation and shifts keep it inside.
        let ratio = mass(&px) / mass(&square);
        assert!((0.75..1.3).contains(&ratio), "seed {seed}: {ratio}");
        let mut again = square.clone();
        affine.apply(&mut again, shape, &mut SplitMix64::new(seed));
        assert_eq!(px, again);
    }
}

// ---------------------------------------------------------------------------------------------
// RandomResizedCrop.

/// Whether a side pair rounded from real sides `(w', h')` can have `w'·h'` in `area` and
/// `w' / h'` in `ratio` (each side within ½ of the real one).
fn could_round_from(w: usize, h: usize, area: [f64; 2], ratio: [f64; 2]) -> bool {
    let (w, h) = (w as f64, h as f64);
    (w + 0.5) * (h + 0.5) >= area[0]
        && (w - 0.5) * (h - 0.5) <= area[1]
        && (w + 0.5) / (h - 0.5) >= ratio[0]
        && (w - 0.5) / (h + 0.5) <= ratio[1]
}

#[test]
fn resized_crop_windows_keep_the_area_and_ratio_ranges_and_cover_the_image() {
    let shape = shape(3, 32, 32);
    let (scale, ratio) = ([0.08, 1.0], RESIZED_CROP_RATIO);
    let area = [0.08 * 1024.0, 1024.0];
    let ratio_f64 = [f64::from(ratio[0]), f64::from(ratio[1])];
    let (mut small, mut large, mut lefts, mut tops) = (0, 0, [false; 32], [false; 32]);
    for seed in 0..3000 {
        let window = resized_crop_window(shape, scale, ratio, &mut SplitMix64::new(seed));
        let Window {
            top,
            left,
            height,
            width,
        } = window;
        assert!(height >= 1 && width >= 1, "{window:?}");
        assert!(top + height <= 32 && left + width <= 32, "{window:?}");
        assert!(
            could_round_from(width, height, area, ratio_f64),
            "seed {seed}: {window:?}"
        );
        let fraction = (height * width) as f64 / 1024.0;
        small += usize::from(fraction < 0.2);
        large += usize::from(fraction > 0.8);
        lefts[left] = true;
        tops[top] = true;
    }
    // The area fraction is drawn uniform in [0.08, 1]: ~13% below 0.2; ~22% above 0.8, of which
    // only ratios near 1 fit (~12% in all, with the whole-image fallbacks).
    assert!(small > 250 && large > 200, "{small} small, {large} large");
    // Small windows (sides from 8) reach every offset up to 24.
    assert!(lefts.iter().filter(|&&b| b).count() >= 20);
    assert!(tops.iter().filter(|&&b| b).count() >= 20);
}

#[test]
fn resized_crop_falls_back_to_the_central_crop_clamped_to_the_ratio() {
    // Almost the whole area at a ratio of at most 4/3 never fits a 4:1 image.
    let (scale, ratio) = ([0.99, 1.0], RESIZED_CROP_RATIO);
    let wide = resized_crop_window(shape(1, 10, 40), scale, ratio, &mut SplitMix64::new(3));
    assert_eq!(
        wide,
        Window {
            top: 0,
            left: 13,
            height: 10,
            width: 13
        }
    );
    let tall = resized_crop_window(shape(1, 40, 10), scale, ratio, &mut SplitMix64::new(3));
    assert_eq!(
        tall,
        Window {
            top: 13,
            left: 0,
            height: 13,
            width: 10
        }
    );
}

#[test]
fn a_resized_crop_of_the_whole_image_is_the_identity() {
    let shape = shape(3, 32, 32);
    let whole = Augmentation::new(vec![Transform::RandomResizedCrop {
        scale: [1.0, 1.0],
        ratio: [1.0, 1.0],
    }])
    .unwrap();
    for seed in 0..10 {
        let mut px = noise(shape, seed);
        whole.apply(&mut px, shape, &mut SplitMix64::new(seed));
        assert_eq!(px, noise(shape, seed));
    }
}

#[test]
fn a_window_is_resized_bilinearly_with_half_pixel_centres() {
    let shape = shape(1, 4, 4);
    let mut px: Vec<u8> = [0, 100, 200, 50].repeat(4);
    let left_half = Window {
        top: 0,
        left: 0,
        height: 4,
        width: 2,
    };
    resize_window(&mut px, shape, left_half);
    // Output x samples source x' = (x + ½)/2 − ½, clamped: 0, ¼, ¾, 1¼ → the last pixel.
    assert_eq!(px, [0, 25, 75, 100].repeat(4));

    // A 2×2 window of a gradient: both axes interpolate, rows like columns.
    let mut px: Vec<u8> = (0..16).map(|i| 40 * (i / 4) as u8).collect();
    let corner = Window {
        top: 1,
        left: 1,
        height: 2,
        width: 2,
    };
    resize_window(&mut px, shape, corner);
    let column: Vec<u8> = px.iter().step_by(4).copied().collect();
    assert_eq!(column, [40, 50, 70, 80]);
    assert!(px.chunks(4).all(|row| row.iter().all(|&v| v == row[0])));
}

// ---------------------------------------------------------------------------------------------
// RandomErasing.

#[test]
fn erasing_windows_keep_the_area_and_ratio_ranges() {
    let shape = shape(3, 32, 32);
    let (mut fitted, mut small, mut large) = (0, 0, 0);
    for seed in 0..3000 {
        let Some(window) = erasing_window(
            shape,
            ERASING_SCALE,
            ERASING_RATIO,
            &mut SplitMix64::new(seed),
        ) else {
            continue;
        };
        fitted += 1;
        let (h, w) = (window.height, window.width);
        assert!(h < 32 && w < 32, "{window:?}");
        assert!(window.top + h <= 32 && window.left + w <= 32, "{window:?}");
        // `ratio` is height / width here (torchvision's erasing, unlike its crop).
        let area = [0.02 * 1024.0, 0.33 * 1024.0];
        assert!(
            could_round_from(h, w, area, [0.3, 3.3]),
            "seed {seed}: {window:?}"
        );
        let fraction = (h * w) as f64 / 1024.0;
        small += usize::from(fraction < 0.1);
        large += usize::from(fraction > 0.25);
    }
    assert!(fitted >= 2990, "{fitted}");
    assert!(small > 500 && large > 300, "{small} small, {large} large");
}

/// The erasing pipeline `random-erasing` with probability `p`, value `value` and area `scale`.
fn erasing(p: f32, scale: [f32; 2], value: ErasingValue) -> Augmentation {
    Augmentation::new(vec![Transform::RandomErasing {
        p,
        scale,
        ratio: ERASING_RATIO,
        value,
    }])
    .unwrap()
}

#[test]
fn random_erasing_fills_its_window_in_every_channel_with_the_value() {
    let shape = shape(3, 32, 32);
    let erase = erasing(1.0, ERASING_SCALE, ErasingValue::Constant(0.5));
    for seed in 0..50 {
        let mut pixels = vec![-7.0f32; shape.len()];
        erase.apply_normalized(&mut pixels, shape, &mut SplitMix64::new(seed));
        // The same draws: the probability, then the window.
        let mut rng = SplitMix64::new(seed);
        let _ = unit(&mut rng);
        let window = erasing_window(shape, ERASING_SCALE, ERASING_RATIO, &mut rng).unwrap();
        for (i, &v) in pixels.iter().enumerate() {
            let (y, x) = ((i / 32) % 32, i % 32);
            let inside = (window.top..window.top + window.height).contains(&y)
                && (window.left..window.left + window.width).contains(&x);
            assert_eq!(v, if inside { 0.5 } else { -7.0 }, "seed {seed}, pixel {i}");
        }
    }
}

#[test]
fn random_erasing_happens_with_probability_p() {
    let shape = shape(1, 32, 32);
    let erased = |p: f32| {
        let erase = erasing(p, ERASING_SCALE, ErasingValue::Constant(1.0));
        (0..1000)
            .filter(|&seed| {
                let mut pixels = vec![0.0f32; shape.len()];
                erase.apply_normalized(&mut pixels, shape, &mut SplitMix64::new(seed));
                pixels.iter().any(|&v| v != 0.0)
            })
            .count()
    };
    assert_eq!(erased(0.0), 0);
    assert!(erased(1.0) >= 995, "{}", erased(1.0));
    // Binomial(1000, 0.5): 500 ± 4σ (σ ≈ 16).
    assert!((436..=564).contains(&erased(0.5)), "{}", erased(0.5));
}

#[test]
fn random_erasing_noise_is_standard_normal() {
    let shape = shape(3, 32, 32);
    let erase = erasing(1.0, [0.2, 0.33], ErasingValue::Random);
    let mut values = Vec::new();
    for seed in 0..40 {
        let mut pixels = vec![f32::NAN; shape.len()];
        erase.apply_normalized(&mut pixels, shape, &mut SplitMix64::new(seed));
        values.extend(pixels.into_iter().filter(|v| v.is_finite()).map(f64::from));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let within_1 = values.iter().filter(|v| v.abs() < 1.0).count() as f64 / n;
    assert!(n > 20_000.0, "{n}");
    assert!(mean.abs() < 0.03, "mean {mean}");
    assert!((0.95..1.05).contains(&variance), "variance {variance}");
    assert!((0.66..0.705).contains(&within_1), "P(|z| < 1) {within_1}");
}

// ---------------------------------------------------------------------------------------------
// ColorJitter.

#[test]
fn jitter_factors_stay_in_their_ranges_and_zero_jitter_is_skipped() {
    let (mut lowest, mut highest) = ([f32::MAX; 4], [f32::MIN; 4]);
    for seed in 0..2000 {
        let draw = color::jitter_params([0.4, 1.5, 0.0, 0.2], &mut SplitMix64::new(seed));
        let mut order = draw.order.map(|a| a as usize);
        order.sort_unstable();
        assert_eq!(order, [0, 1, 2, 3], "{draw:?}");
        assert_eq!(draw.factors[Adjustment::Saturation as usize], None);
        for (i, factor) in draw.factors.iter().enumerate() {
            if let Some(f) = *factor {
                lowest[i] = lowest[i].min(f);
                highest[i] = highest[i].max(f);
            }
        }
    }
    // Brightness [0.6, 1.4], contrast [max(0, −0.5), 2.5], hue ±0.2, each nearly reached.
    let ranges = [(0.6, 1.4), (0.0, 2.5), (f32::NAN, f32::NAN), (-0.2, 0.2)];
    for i in [0, 1, 3] {
        let (lo, hi) = ranges[i];
        assert!(
            lowest[i] >= lo && lowest[i] < lo + 0.01 * (hi - lo),
            "{i}: {lowest:?}"
        );
        assert!(
            highest[i] <= hi && highest[i] > hi - 0.01 * (hi - lo),
            "{i}: {highest:?}"
        );
    }
    let first: std::collections::BTreeSet<usize> = (0..200)
        .map(|seed| color::jitter_params([0.1; 4], &mut SplitMix64::new(seed)).order[0] as usize)
        .collect();
    assert_eq!(first.len(), 4, "every adjustment comes first sometimes");
}

#[test]
fn zero_jitter_is_the_identity() {
    for (channels, seed) in [(3, 1), (1, 2)] {
        let shape = shape(channels, 16, 16);
        let mut px = noise(shape, seed);
        pipeline("color-jitter:0:0:0:0").apply(&mut px, shape, &mut SplitMix64::new(seed));
        assert_eq!(px, noise(shape, seed));
    }
}

#[test]
fn brightness_scales_every_value_and_truncates() {
    let values: Vec<u8> = (0..=255).collect();
    for factor in [1.5f64, 0.5, 0.0] {
        let mut px = values.clone();
        color::adjust_brightness(&mut px, factor);
        let expected: Vec<u8> = values
            .iter()
            .map(|&v| (f64::from(v) * factor).min(255.0).floor() as u8)
            .collect();
        assert_eq!(px, expected, "factor {factor}");
    }
    // Through the jitter: a constant image scales by a factor in [0.5, 1.5].
    let shape = shape(1, 4, 4);
    for seed in 0..20 {
        let mut px = vec![100u8; 16];
        pipeline("color-jitter:0.5:0:0:0").apply(&mut px, shape, &mut SplitMix64::new(seed));
        assert!(px.iter().all(|&v| v == px[0] && (50..=150).contains(&v)));
    }
}

#[test]
fn contrast_blends_with_the_mean_luma() {
    // Gray: the mean of the image itself (100).
    let gray = shape(1, 1, 4);
    let mut px = vec![0u8, 100, 100, 200];
    color::adjust_contrast(&mut px, gray, 2.0);
    assert_eq!(px, [0, 100, 100, 255]);
    let mut px = vec![0u8, 100, 100, 200];
    color::adjust_contrast(&mut px, gray, 0.5);
    assert_eq!(px, [50, 100, 100, 150]);
    // RGB: red's luma is 76 (0.2989 · 255, truncated), blue's 29; factor 0 gives the mean 52.5,
    // truncated.
    let rgb = shape(3, 1, 2);
    let mut px = vec![255u8, 0, 0, 0, 0, 255];
    color::adjust_contrast(&mut px, rgb, 0.0);
    assert_eq!(px, [52; 6]);
}

#[test]
fn saturation_0_is_the_luma_and_gray_images_keep_their_colour() {
    let rgb = shape(3, 1, 3);
    // Pixels red, green, white.
    let mut px = vec![255u8, 0, 255, 0, 255, 255, 0, 0, 255];
    color::adjust_saturation(&mut px, rgb, 0.0);
    assert_eq!(px, [76, 149, 254, 76, 149, 254, 76, 149, 254]);
    let gray = shape(1, 8, 8);
    for factor in [0.0, 0.5, 2.0] {
        let mut px = noise(gray, 5);
        color::adjust_saturation(&mut px, gray, factor);
        color::adjust_hue(&mut px, gray, 0.3);
        assert_eq!(px, noise(gray, 5));
    }
}

#[test]
fn hue_shifts_turn_the_colour_wheel() {
    let rgb = shape(3, 1, 1);
    let shifted = |px: [u8; 3], shift: f32| {
        let mut px = px.to_vec();
        color::adjust_hue(&mut px, rgb, shift);
        px
    };
    // Half a turn: red to cyan, either way round; a third: red to green to blue.
    assert_eq!(shifted([255, 0, 0], 0.5), [0, 255, 255]);
    assert_eq!(shifted([255, 0, 0], -0.5), [0, 255, 255]);
    assert_eq!(shifted([200, 0, 0], 1.0 / 3.0), [0, 200, 0]);
    assert_eq!(shifted([0, 200, 0], 1.0 / 3.0), [0, 0, 200]);
    // No shift: the float round trip keeps every value to within 1.
    let shape = shape(3, 16, 16);
    let mut px = noise(shape, 9);
    color::adjust_hue(&mut px, shape, 0.0);
    for (a, b) in px.iter().zip(noise(shape, 9)) {
        assert!(a.abs_diff(b) <= 1, "{a} vs {b}");
    }
}

// ---------------------------------------------------------------------------------------------
// The policies' operations.

#[test]
fn invert_posterize_and_solarize_on_every_value() {
    let shape = shape(1, 16, 16);
    let values: Vec<u8> = (0..=255).collect();
    let each = |f: fn(u8) -> u8| values.iter().map(|&v| f(v)).collect::<Vec<u8>>();
    assert_eq!(after(Op::Invert, &values, shape, 0.0), each(|v| 255 - v));
    assert_eq!(
        after(Op::Posterize, &values, shape, 3.0),
        each(|v| v & 0b1110_0000)
    );
    assert_eq!(after(Op::Posterize, &values, shape, 8.0), values);
    assert_eq!(after(Op::Posterize, &values, shape, 0.0), [0; 256]);
    let solarized = each(|v| if v >= 128 { 255 - v } else { v });
    assert_eq!(after(Op::Solarize, &values, shape, 128.0), solarized);
    assert_eq!(after(Op::Solarize, &values, shape, 127.5), solarized);
    assert_eq!(after(Op::Solarize, &values, shape, 0.0), each(|v| 255 - v));
    // The top of the table (magnitude 0): only 255 turns, into 0.
    let top = after(Op::Solarize, &values, shape, 255.0);
    assert_eq!(top[..255], values[..255]);
    assert_eq!(top[255], 0);
}

#[test]
fn autocontrast_stretches_each_channel_to_the_full_range() {
    let rgb = shape(3, 1, 3);
    let px = [50u8, 100, 150, 7, 7, 7, 0, 128, 255];
    // (v − 50) · 255 / 100, truncated; a constant channel and a full one are kept.
    assert_eq!(
        after(Op::AutoContrast, &px, rgb, 0.0),
        [0, 127, 255, 7, 7, 7, 0, 128, 255]
    );
}

#[test]
fn equalize_maps_each_value_through_the_histogram_lut() {
    let shape = shape(1, 32, 32);
    let mut px = vec![10u8; 512];
    px.extend([50u8; 256]);
    px.extend([200u8; 256]);
    // step = (512 + 256) / 255 = 3 (the brightest value's count left out); value v becomes
    // (pixels below v + 1) / 3, at most 255.
    let expected: Vec<u8> = px
        .iter()
        .map(|&v| match v {
            10 => 0,
            50 => 171,
            _ => 255,
        })
        .collect();
    assert_eq!(after(Op::Equalize, &px, shape, 0.0), expected);
    // Under 255 pixels besides the brightest value: step 0, nothing changes.
    let small = self::shape(1, 8, 8);
    assert_eq!(
        after(Op::Equalize, &noise(small, 1), small, 0.0),
        noise(small, 1)
    );
}

#[test]
fn sharpness_blends_with_the_smoothed_interior() {
    let shape = shape(1, 3, 3);
    let mut px = vec![0u8; 9];
    px[4] = 130;
    // The centre smoothed: 5 · 130 / 13 = 50; the border is kept.
    let mut expected = vec![0u8; 9];
    expected[4] = 50;
    assert_eq!(after(Op::Sharpness, &px, shape, -1.0), expected);
    expected[4] = 210; // 2 · 130 − 50
    assert_eq!(after(Op::Sharpness, &px, shape, 1.0), expected);
    // Two pixels or less on a side: unchanged.
    let thin = self::shape(1, 2, 5);
    assert_eq!(
        after(Op::Sharpness, &noise(thin, 4), thin, 0.7),
        noise(thin, 4)
    );
}

#[test]
fn a_quarter_turn_is_rot90_and_a_half_turn_flips_both_ways() {
    let shape = shape(1, 4, 4);
    let px: Vec<u8> = (0..16).collect();
    // Counter-clockwise, as torch.rot90(k=1): out[y][x] = in[x][3 − y].
    let quarter: Vec<u8> = (0..16).map(|i| (4 * (i % 4) + 3 - i / 4) as u8).collect();
    assert_eq!(after(Op::Rotate, &px, shape, 90.0), quarter);
    let reversed: Vec<u8> = (0..16).rev().collect();
    assert_eq!(after(Op::Rotate, &px, shape, 180.0), reversed);
    assert_eq!(after(Op::Rotate, &px, shape, -180.0), reversed);
    // Odd sizes turn about the centre pixel.
    let odd = self::shape(1, 5, 5);
    let px: Vec<u8> = (0..25).collect();
    let turned = after(Op::Rotate, &px, odd, -90.0);
    assert_eq!(turned[12], 12);
    assert_eq!(after(Op::Rotate, &turned, odd, 90.0), px);
}

#[test]
fn translations_move_the_content_by_whole_pixels() {
    let shape = shape(1, 3, 5);
    let px: Vec<u8> = (1..=15).collect();
    // `int(magnitude)`: 2.9 is 2, −1.7 is −1.
    assert_eq!(
        after(Op::TranslateX, &px, shape, 2.9),
        [0, 0, 1, 2, 3, 0, 0, 6, 7, 8, 0, 0, 11, 12, 13]
    );
    assert_eq!(
        after(Op::TranslateX, &px, shape, -1.7),
        [2, 3, 4, 5, 0, 7, 8, 9, 10, 0, 12, 13, 14, 15, 0]
    );
    assert_eq!(
        after(Op::TranslateY, &px, shape, 1.0),
        [0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
}

#[test]
fn shears_slide_rows_or_columns_about_the_top_left_corner() {
    let shape = shape(1, 4, 4);
    let px: Vec<u8> = (0..16).collect();
    // Row y takes the pixels at x + ½(y + ½): offsets ¼, ¾, 1¼, 1¾ round to 0, 1, 1, 2.
    let sheared_x = [0, 1, 2, 3, 5, 6, 7, 0, 9, 10, 11, 0, 14, 15, 0, 0];
    assert_eq!(after(Op::ShearX, &px, shape, 0.5), sheared_x);
    // The same down the columns.
    let transposed: Vec<u8> = (0..16).map(|i| (4 * (i % 4) + i / 4) as u8).collect();
    let sheared_y = after(Op::ShearY, &transposed, shape, 0.5);
    let back: Vec<u8> = (0..16).map(|i| sheared_y[4 * (i % 4) + i / 4]).collect();
    assert_eq!(back, sheared_x);
}

#[test]
fn magnitude_tables_are_torchvisions() {
    let shape = shape(3, 32, 32);
    let at = |op, space, bin, bins| magnitude(op, space, bin, bins, shape);
    assert_eq!(at(Op::Rotate, Space::Standard, 30, 31), 30.0);
    assert_eq!(at(Op::Rotate, Space::Wide, 30, 31), 135.0);
    assert_eq!(at(Op::ShearX, Space::Wide, 30, 31), 0.99);
    assert!((at(Op::Brightness, Space::Standard, 10, 31) - 0.3).abs() < 1e-6);
    // 150/331 of the side at the top; the wide table's 32 pixels, 15.999999 (f32) halfway.
    assert!((at(Op::TranslateX, Space::Standard, 30, 31) - 14.50151).abs() < 1e-4);
    assert_eq!(at(Op::TranslateX, Space::Wide, 15, 31) as isize, 15);
    // Posterize 8 bits down to 4 (wide: 2); solarize from 255 down to 0.
    let bits = |space, bin, bins| at(Op::Posterize, space, bin, bins);
    assert_eq!(bits(Space::Standard, 0, 31), 8.0);
    assert_eq!(bits(Space::Standard, 3, 31), 8.0);
    assert_eq!(bits(Space::Standard, 4, 31), 7.0);
    assert_eq!(bits(Space::Standard, 30, 31), 4.0);
    assert_eq!(bits(Space::Wide, 30, 31), 2.0);
    assert_eq!(bits(Space::Standard, 9, 10), 4.0);
    assert_eq!(at(Op::Solarize, Space::Standard, 0, 31), 255.0);
    assert_eq!(at(Op::Solarize, Space::Standard, 1, 31), 246.5);
    assert_eq!(at(Op::Solarize, Space::Standard, 3, 10), 170.0);
    assert_eq!(at(Op::Solarize, Space::Wide, 30, 31), 0.0);
    for op in [Op::Identity, Op::AutoContrast, Op::Equalize, Op::Invert] {
        assert_eq!(at(op, Space::Standard, 30, 31), 0.0);
    }
}

#[test]
fn magnitude_0_is_the_identity_where_torchvision_has_one() {
    for (channels, seed) in [(3, 1), (1, 2)] {
        let shape = shape(channels, 12, 13);
        // Every value but 255, which the solarize at 255 turns into 0.
        let px: Vec<u8> = noise(shape, seed).iter().map(|&v| v.min(254)).collect();
        for space in [Space::Standard, Space::Wide] {
            for op in RAND_OPS {
                if matches!(op, Op::AutoContrast | Op::Equalize) {
                    continue;
                }
                let m = magnitude(op, space, 0, policy::MAGNITUDE_BINS, shape);
                assert_eq!(after(op, &px, shape, m), px, "{op:?} at {m}");
                // The signed ones, negated: −0 is 0.
                if !matches!(op, Op::Posterize | Op::Solarize) {
                    assert_eq!(after(op, &px, shape, -m), px, "{op:?} at −{m}");
                }
            }
        }
        let mut white = px.clone();
        white[7] = 255;
        let m = magnitude(Op::Solarize, Space::Standard, 0, 31, shape);
        let solarized = after(Op::Solarize, &white, shape, m);
        assert_eq!(solarized[7], 0);
        assert_eq!(solarized[8..], white[8..]);
    }
}

#[test]
fn rand_augment_at_magnitude_0_changes_only_by_the_magnitude_free_ops() {
    // Over 255 pixels a channel, so that equalize changes it.
    let shape = shape(3, 24, 24);
    let px: Vec<u8> = noise(shape, 3)
        .iter()
        .map(|&v| v.min(254) / 2 + 20)
        .collect();
    let contrasted = after(Op::AutoContrast, &px, shape, 0.0);
    let equalized = after(Op::Equalize, &px, shape, 0.0);
    assert_ne!(contrasted, px);
    assert_ne!(equalized, px);
    let once = pipeline("rand-augment:1:0");
    let mut unchanged = 0;
    for seed in 0..300 {
        let mut out = px.clone();
        once.apply(&mut out, shape, &mut SplitMix64::new(seed));
        assert!(
            out == px || out == contrasted || out == equalized,
            "seed {seed}"
        );
        unchanged += usize::from(out == px);
    }
    // 12 of the 14 ops change nothing at magnitude 0.
    assert!((220..=290).contains(&unchanged), "{unchanged}");
}

#[test]
fn the_policies_change_images_sometimes_and_leave_them_sometimes() {
    let shape = shape(3, 32, 32);
    let px = noise(shape, 11);
    for (text, min_changed, max_changed) in [
        ("trivial-augment", 100, 199),
        ("rand-augment", 150, 200),
        ("auto-augment", 80, 199),
    ] {
        let augment = pipeline(text);
        let changed = (0..200)
            .filter(|&seed| {
                let mut out = px.clone();
                augment.apply(&mut out, shape, &mut SplitMix64::new(seed));
                out != px
            })
            .count();
        assert!(
            (min_changed..=max_changed).contains(&changed),
            "{text}: {changed} of 200 changed"
        );
    }
}

#[test]
fn the_cifar10_policy_has_25_sub_policies_of_two_ops() {
    let policies = policy::sub_policies(AutoAugmentPolicy::Cifar10);
    assert_eq!(policies.len(), 25);
    assert_eq!(policies[0][0].0, Op::Invert);
    assert_eq!(policies[24][1].0, Op::AutoContrast);
    for [(op_a, p_a, _), (op_b, p_b, _)] in policies {
        assert!((0.0..=1.0).contains(p_a) && (0.0..=1.0).contains(p_b));
        assert!(*op_a != Op::Identity && *op_b != Op::Identity);
    }
}

// ---------------------------------------------------------------------------------------------
// Every pipeline.

/// One of each step, in text form.
const EVERY_STEP: [&str; 9] = [
    "crop:4",
    "flip",
    "affine:10:0.1:0.1",
    "random-resized-crop:0.08:1",
    "color-jitter:0.4:0.4:0.4:0.1",
    "trivial-augment",
    "rand-augment:2:9",
    "auto-augment",
    "random-erasing:0.5",
];

#[test]
fn every_step_keeps_the_shape_and_is_a_function_of_the_seed() {
    for (channels, size) in [(3, 32), (1, 28)] {
        let shape = shape(channels, size, size);
        for text in EVERY_STEP {
            let augment = pipeline(text);
            let run = |seed: u64| {
                let mut rng = SplitMix64::new(seed);
                let mut px = noise(shape, 21);
                augment.apply(&mut px, shape, &mut rng);
                let mut pixels: Vec<f32> = px.iter().map(|&v| f32::from(v) / 255.0).collect();
                augment.apply_normalized(&mut pixels, shape, &mut rng);
                assert_eq!(pixels.len(), shape.len());
                pixels.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
            };
            let outputs: std::collections::BTreeSet<Vec<u32>> = (0..6)
                .map(|seed| {
                    assert_eq!(run(seed), run(seed), "{text}, seed {seed}");
                    run(seed)
                })
                .collect();
            assert!(outputs.len() >= 2, "{text}: the seed changes nothing");
        }
    }
}

#[test]
fn every_step_round_trips_through_its_text() {
    for text in EVERY_STEP.iter().copied().chain([
        "crop:0",
        "affine:5:0.2:0",
        "random-resized-crop:0.5:0.9",
        "color-jitter:0.1:0.2:0.3:0.5",
        "rand-augment:3:0",
        "random-erasing:0.25",
    ]) {
        let augment = pipeline(text);
        assert_eq!(augment.to_string(), text);
        assert_eq!(pipeline(&augment.to_string()), augment);
    }
    let all = EVERY_STEP.join(",");
    assert_eq!(pipeline(&all).to_string(), all);
    assert_eq!(pipeline(&all).steps().len(), 9);
}

#[test]
fn defaults_fill_in_missing_arguments() {
    for (short, full) in [
        ("crop", "crop:4"),
        ("crop-flip", "crop:4,flip"),
        ("affine", "affine:10:0.1:0.1"),
        ("random-resized-crop", "random-resized-crop:0.08:1"),
        ("random-resized-crop:0.2", "random-resized-crop:0.2:1"),
        ("color-jitter", "color-jitter:0.4:0.4:0.4:0"),
        ("rand-augment", "rand-augment:2:9"),
        ("random-erasing", "random-erasing:0.5"),
        (
            " crop-flip , random-erasing ",
            "crop:4,flip,random-erasing:0.5",
        ),
        ("none", "none"),
        ("", "none"),
    ] {
        assert_eq!(pipeline(short).to_string(), full, "{short}");
    }
    assert_eq!(pipeline("crop-flip"), Augmentation::crop_flip());
    assert_eq!(pipeline("affine"), Augmentation::affine());
    assert!(pipeline("none").is_none());
    assert_eq!(
        pipeline("random-resized-crop:0.2").steps(),
        [Transform::RandomResizedCrop {
            scale: [0.2, 1.0],
            ratio: [0.75, 4.0 / 3.0],
        }]
    );
    let erasing = pipeline("random-erasing");
    assert!(erasing.has_normalized_steps());
    assert_eq!(
        erasing.steps(),
        [Transform::RandomErasing {
            p: 0.5,
            scale: [0.02, 0.33],
            ratio: [0.3, 3.3],
            value: ErasingValue::Constant(0.0),
        }]
    );
    assert_eq!(
        pipeline("auto-augment").steps(),
        [Transform::AutoAugment {
            policy: AutoAugmentPolicy::Cifar10
        }]
    );
}

#[test]
fn bad_pipelines_are_refused_with_the_step_and_the_reason() {
    for (text, step, reason) in [
        ("blur", "blur", "unknown step `blur`"),
        ("crop-flip,blur:3", "blur:3", "unknown step `blur`"),
        ("crop:x", "crop:x", "`x` is not a number"),
        ("crop:1.5", "crop:1.5", "is not a whole number"),
        ("crop:-1", "crop:-1", "is not a whole number"),
        ("flip:1", "flip:1", "at most 0 argument(s), got 1"),
        (
            "rand-augment:1:2:3",
            "rand-augment:1:2:3",
            "at most 2 argument(s)",
        ),
        (
            "rand-augment:2:31",
            "rand-augment:2:31",
            "magnitude must be below 31",
        ),
        (
            "random-resized-crop:0.5:0.2",
            "random-resized-crop:0.5:0.2",
            "increasing range",
        ),
        (
            "random-resized-crop:0:1",
            "random-resized-crop:0:1",
            "increasing range",
        ),
        (
            "random-resized-crop:0.5:1.5",
            "random-resized-crop:0.5:1.5",
            "increasing range",
        ),
        (
            "color-jitter:0:0:0:0.6",
            "color-jitter:0:0:0:0.6",
            "hue must be",
        ),
        (
            "color-jitter:-0.1",
            "color-jitter:-0.1:0.4:0.4:0",
            "brightness must be ≥ 0",
        ),
        (
            "color-jitter:inf",
            "color-jitter:inf:0.4:0.4:0",
            "brightness must be ≥ 0",
        ),
        ("affine:10:0.1:1", "affine:10:0.1:1", "affine scale"),
        (
            "random-erasing:1.5",
            "random-erasing:1.5",
            "random-erasing p",
        ),
        ("random-erasing,flip", "flip", "must be last"),
    ] {
        let error = text.parse::<Augmentation>().unwrap_err();
        assert_eq!(error.step, step, "{text}: {error}");
        assert!(error.reason.contains(reason), "{text}: {error}");
    }
    let out_of_range = Augmentation::new(vec![Transform::RandomErasing {
        p: 0.5,
        scale: [0.4, 0.2],
        ratio: ERASING_RATIO,
        value: ErasingValue::Random,
    }]);
    assert!(out_of_range.is_err());
}

#[test]
fn pipelines_round_trip_through_serde_and_the_legacy_form_still_reads() {
    let mut steps = pipeline(&EVERY_STEP.join(",")).steps().to_vec();
    steps.pop();
    steps.push(Transform::RandomErasing {
        p: 0.3,
        scale: [0.1, 0.2],
        ratio: [0.5, 2.0],
        value: ErasingValue::Random,
    });
    let every = Augmentation::new(steps).unwrap();
    let json = serde_json::to_string(&every).unwrap();
    assert_eq!(serde_json::from_str::<Augmentation>(&json).unwrap(), every);
    let tagged = r#"[{"op":"crop","padding":4},{"op":"horizontal-flip"}]"#;
    assert_eq!(
        serde_json::from_str::<Augmentation>(tagged).unwrap(),
        Augmentation::crop_flip()
    );

    let legacy = r#"{"crop_padding":4,"horizontal_flip":true,"affine":null}"#;
    let old = serde_json::from_str::<Augmentation>(legacy).unwrap();
    assert_eq!(old, Augmentation::crop_flip());
    assert_eq!(old.to_string(), "crop:4,flip");
    let legacy = r#"{"crop_padding":0,"horizontal_flip":false,"affine":{"degrees":10.0,"translate":0.1,"scale":0.1}}"#;
    assert_eq!(
        serde_json::from_str::<Augmentation>(legacy).unwrap(),
        Augmentation::affine()
    );
    let legacy = r#"{"crop_padding":0,"horizontal_flip":false,"affine":null}"#;
    assert!(
        serde_json::from_str::<Augmentation>(legacy)
            .unwrap()
            .is_none()
    );

    let erasing_first = r#"[{"op":"random-erasing","p":0.5,"scale":[0.02,0.33],"ratio":[0.3,3.3],"value":"random"},{"op":"horizontal-flip"}]"#;
    assert!(serde_json::from_str::<Augmentation>(erasing_first).is_err());
}

#[test]
fn geometry_helpers_leave_empty_images_alone() {
    for shape in [shape(3, 0, 5), shape(1, 4, 0)] {
        let mut px: Vec<u8> = Vec::new();
        let mut rng = SplitMix64::new(1);
        for text in EVERY_STEP {
            pipeline(text).apply(&mut px, shape, &mut rng);
        }
        let window = resized_crop_window(shape, [0.08, 1.0], RESIZED_CROP_RATIO, &mut rng);
        assert_eq!(window.height * window.width, 0);
        geometry::rotate(&mut px, shape, 30.0);
        assert!(px.is_empty());
    }
}
