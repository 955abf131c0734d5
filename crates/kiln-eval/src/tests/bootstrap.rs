use super::*;

#[test]
fn percentiles_interpolate_as_numpy() {
    let v: Vec<f64> = (0..=100).map(f64::from).collect();
    let i = percentile_interval(v);
    assert!((i.low - 2.5).abs() < 1e-12 && (i.high - 97.5).abs() < 1e-12);
    let i = percentile_interval(vec![f64::NAN, 1.0, 3.0]);
    assert!(
        (i.low - 1.05).abs() < 1e-12 && (i.high - 2.95).abs() < 1e-12,
        "{i:?}"
    );
    assert!(percentile_interval(vec![f64::NAN]).low.is_nan());
}

#[test]
fn every_resample_draws_n_samples_and_a_seed_repeats() {
    let b = Bootstrap::new(50, 7).unwrap();
    let sums = b.distribution(1000, 1, |counts, out| {
        out[0] = counts.iter().map(|&c| f64::from(c)).sum();
    });
    assert_eq!(sums[0].len(), 50);
    assert!(sums[0].iter().all(|&s| s == 1000.0));
    let mean = |b: Bootstrap| {
        b.intervals(1000, 1, |counts, out| {
            let weighted = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| i as f64 * f64::from(c));
            out[0] = weighted.sum();
        })
    };
    assert_eq!(mean(b), mean(b));
    assert_ne!(mean(b), mean(Bootstrap::new(50, 8).unwrap()));
}

#[test]
fn the_mean_s_interval_matches_the_normal_approximation() {
    // Bernoulli(0.3) data of 2,000: the mean's standard error is sqrt(0.21 / 2000) ≈ 0.01025,
    // so the 95% interval is about 0.0402 wide.
    let n = 2000;
    let x: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 10 < 3))).collect();
    let i = Bootstrap::default().intervals(n, 1, |counts, out| {
        let s: f64 = x.iter().zip(counts).map(|(v, &c)| v * f64::from(c)).sum();
        out[0] = s / n as f64;
    })[0];
    assert!(i.contains(0.3), "{i:?}");
    assert!((i.width() - 0.0402).abs() < 0.004, "{i:?}");
}

#[test]
fn fewer_than_two_resamples_are_refused() {
    assert!(Bootstrap::new(1, 0).is_err());
    assert_eq!(
        format!(
            "{:.2}",
            Interval {
                low: 0.1,
                high: 0.25
            }
        ),
        "[0.10, 0.25]"
    );
}
