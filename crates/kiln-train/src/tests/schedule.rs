use super::*;

#[test]
fn warmup_then_cosine() {
    let s = LrSchedule::WarmupCosine {
        warmup_steps: 10,
        min_ratio: 0.0,
    };
    assert_eq!(s.lr_at(1.0, 0, 110), 0.1);
    assert_eq!(s.lr_at(1.0, 9, 110), 1.0);
    assert_eq!(s.lr_at(1.0, 10, 110), 1.0);
    assert!((s.lr_at(1.0, 60, 110) - 0.5).abs() < 1e-12);
    assert!(s.lr_at(1.0, 109, 110) < 1e-3);
    assert_eq!(LrSchedule::Constant.lr_at(0.3, 5, 10), 0.3);
    // A run shorter than five warm-ups warms up for a fifth of it, then decays.
    assert_eq!(s.lr_at(1.0, 0, 20), 0.25);
    assert_eq!(s.lr_at(1.0, 4, 20), 1.0);
    assert!(s.lr_at(1.0, 19, 20) < 0.01);
}
