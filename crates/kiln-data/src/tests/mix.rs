use super::*;

const DIMS: [usize; 4] = [5, 2, 6, 7];

/// Image `i` is `i + 1` everywhere, so any pixel says which images it came from.
fn batch() -> Vec<f32> {
    let len = DIMS[1] * DIMS[2] * DIMS[3];
    (0..DIMS[0])
        .flat_map(|i| vec![(i + 1) as f32; len])
        .collect()
}

const LABELS: [i64; 5] = [0, 3, 1, 3, 2];

#[test]
fn soft_targets_sum_to_one_and_weigh_each_image_and_its_partner() {
    for lam in [0.0f32, 0.3, 0.5, 0.9, 1.0] {
        let mixed = mixed_targets(&LABELS, 4, lam);
        for (i, row) in mixed.targets.chunks(4).enumerate() {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "row {i} sums to {sum}");
            let (own, other) = (LABELS[i] as usize, LABELS[4 - i] as usize);
            if own != other {
                assert_eq!(row[own], lam);
                assert_eq!(row[other], 1.0 - lam);
            }
            let dominant = if lam >= 0.5 { own } else { other };
            assert_eq!(mixed.dominant[i], dominant as i64);
        }
    }
}

#[test]
fn mixup_blends_each_image_with_the_reversed_batch_by_the_drawn_weight() {
    let mixing = Mixing::new(0.4, 0.0);
    let mut pixels = batch();
    let mixed = mixing.apply(&mut pixels, DIMS, &LABELS, 4, &mut SplitMix64::new(3));
    assert!(mixed.lam > 0.0 && mixed.lam < 1.0);
    let len = DIMS[1] * DIMS[2] * DIMS[3];
    for i in 0..DIMS[0] {
        let expected = (i + 1) as f32 * mixed.lam + (DIMS[0] - i) as f32 * (1.0 - mixed.lam);
        assert!(
            pixels[i * len..(i + 1) * len]
                .iter()
                .all(|&p| (p - expected).abs() < 1e-5)
        );
    }
}

#[test]
fn cutmix_pastes_one_box_from_the_partner_and_lambda_is_the_area_kept() {
    let mixing = Mixing::new(0.0, 1.0);
    let len = DIMS[1] * DIMS[2] * DIMS[3];
    let mut cut_any = false;
    for seed in 0..50 {
        let mut pixels = batch();
        let mixed = mixing.apply(&mut pixels, DIMS, &LABELS, 4, &mut SplitMix64::new(seed));
        for i in 0..DIMS[0] {
            let image = &pixels[i * len..(i + 1) * len];
            let own = image.iter().filter(|&&p| p == (i + 1) as f32).count();
            let pasted = image.iter().filter(|&&p| p == (DIMS[0] - i) as f32).count();
            // The middle image is its own partner.
            if i != DIMS[0] / 2 {
                assert_eq!(own + pasted, len, "only the two images' pixels");
                let kept = own as f32 / len as f32;
                assert!(
                    (kept - mixed.lam).abs() < 1e-6,
                    "λ {} kept {kept}",
                    mixed.lam
                );
            }
        }
        cut_any |= mixed.lam < 1.0;
        let row_sums = mixed.targets.chunks(4).map(|r| r.iter().sum::<f32>());
        assert!(row_sums.into_iter().all(|s| (s - 1.0).abs() < 1e-6));
    }
    assert!(cut_any);
}

#[test]
fn cutmix_boxes_follow_timm_rand_bbox() {
    let mut rng = SplitMix64::new(9);
    for _ in 0..500 {
        let lam = unit(&mut rng) as f32;
        let b = cutmix_box(28, 30, lam, &mut rng);
        assert!(b.y0 <= b.y1 && b.y1 <= 28 && b.x0 <= b.x1 && b.x1 <= 30);
        let ratio = (1.0 - f64::from(lam)).sqrt();
        // Sides at most the uncut box's (even part), less where clipped.
        assert!(b.y1 - b.y0 <= 2 * ((28.0 * ratio) as usize / 2));
        assert!(b.x1 - b.x0 <= 2 * ((30.0 * ratio) as usize / 2));
    }
}

#[test]
fn beta_draws_have_the_beta_mean_and_variance() {
    for alpha in [0.2, 1.0, 2.5] {
        let mut rng = SplitMix64::new(1);
        let n = 40_000;
        let draws: Vec<f64> = (0..n).map(|_| beta(&mut rng, alpha)).collect();
        assert!(draws.iter().all(|&x| (0.0..=1.0).contains(&x)));
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Beta(α, α): mean 1/2, variance 1 / (4(2α + 1)).
        let expected = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        assert!((mean - 0.5).abs() < 0.01, "α {alpha}: mean {mean}");
        assert!(
            (var - expected).abs() < 0.01 * expected.max(0.05),
            "α {alpha}: var {var}"
        );
    }
}

#[test]
fn a_batch_is_left_alone_with_probability_one_minus_prob_and_both_kinds_are_drawn() {
    let mixing = Mixing {
        prob: 0.5,
        ..Mixing::new(1.0, 1.0)
    };
    let mut rng = SplitMix64::new(4);
    let (mut unmixed, mut cut, mut mixup) = (0, 0, 0);
    for _ in 0..2000 {
        match mixing.draw(&mut rng) {
            (lam, _) if lam >= 1.0 => unmixed += 1,
            (_, Kind::CutMix) => cut += 1,
            (_, Kind::Mixup) => mixup += 1,
        }
    }
    assert!((900..1100).contains(&unmixed), "{unmixed}");
    assert!(
        (400..600).contains(&cut) && (400..600).contains(&mixup),
        "{cut} {mixup}"
    );
    assert!(Mixing::new(0.0, 0.0).check().is_err());
    assert!(
        Mixing {
            prob: 1.5,
            ..mixing
        }
        .check()
        .is_err()
    );
    assert!(Mixing::new(-1.0, 1.0).check().is_err());
}
