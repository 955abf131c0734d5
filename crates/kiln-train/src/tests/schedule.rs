use super::*;

#[test]
fn warmup_then_cosine() {
    let s = LrSchedule::WarmupCosine {
        warmup_steps: 10,
        min_ratio: 0.0,
    };
    assert_eq!(s.lr_at(1.0, 0, 110, 11), 0.1);
    assert_eq!(s.lr_at(1.0, 9, 110, 11), 1.0);
    assert_eq!(s.lr_at(1.0, 10, 110, 11), 1.0);
    assert!((s.lr_at(1.0, 60, 110, 11) - 0.5).abs() < 1e-12);
    assert!(s.lr_at(1.0, 109, 110, 11) < 1e-3);
    assert_eq!(LrSchedule::Constant.lr_at(0.3, 5, 10, 1), 0.3);
    // A run shorter than five warm-ups warms up for a fifth of it, then decays.
    assert_eq!(s.lr_at(1.0, 0, 20, 2), 0.25);
    assert_eq!(s.lr_at(1.0, 4, 20, 2), 1.0);
    assert!(s.lr_at(1.0, 19, 20, 2) < 0.01);
}

#[test]
fn step_and_multistep_decay_at_epoch_boundaries_after_their_warm_up() {
    // 10 steps per epoch, 100 steps.
    let step = LrSchedule::Step {
        warmup_steps: 0,
        step_epochs: 3,
        gamma: 0.1,
    };
    let at = |s: &LrSchedule, i: usize| s.lr_at(1.0, i, 100, 10);
    assert_eq!(at(&step, 0), 1.0);
    assert_eq!(at(&step, 29), 1.0);
    assert!((at(&step, 30) - 0.1).abs() < 1e-15);
    assert!((at(&step, 60) - 0.01).abs() < 1e-15);
    let multi = LrSchedule::MultiStep {
        warmup_steps: 4,
        milestones: vec![2, 5],
        gamma: 0.5,
    };
    assert_eq!(at(&multi, 0), 0.25, "warm-up scales the first steps");
    assert_eq!(at(&multi, 3), 1.0);
    assert_eq!(at(&multi, 19), 1.0);
    assert_eq!(at(&multi, 20), 0.5);
    assert_eq!(at(&multi, 49), 0.5);
    assert_eq!(at(&multi, 50), 0.25);
    let warm = LrSchedule::WarmupConstant { warmup_steps: 4 };
    assert_eq!((at(&warm, 1), at(&warm, 4), at(&warm, 99)), (0.5, 1.0, 1.0));
}

/// `torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)` (defaults:
/// pct_start 0.3, cos, div_factor 25, final_div_factor 1e4): `get_last_lr()` after 0, 10, 29,
/// 30, 60 and 99 scheduler steps (torch 2.15).
#[test]
fn one_cycle_matches_pytorch() {
    let expected = [
        (0, 0.040000000000000036),
        (10, 0.29516394846410077),
        (29, 1.0),
        (30, 0.9994965352845243),
        (60, 0.5892800902855287),
        (99, 4e-06),
    ];
    for (step, lr) in expected {
        let ours = LrSchedule::ONE_CYCLE.lr_at(1.0, step, 100, 10);
        assert!((ours - lr).abs() < 1e-9, "step {step}: {ours} vs {lr}");
    }
}

/// The same for a 5-step run (`cycle_momentum=False`), where the peak falls between steps 0
/// and 1 (up = 0.5).
#[test]
fn one_cycle_matches_pytorch_on_a_very_short_run() {
    let expected = [
        (0, 0.040000000000000036),
        (1, 0.9504846320134737),
        (2, 0.6112620219362893),
        (3, 0.18825834605023697),
        (4, 4e-06),
    ];
    for (step, lr) in expected {
        let ours = LrSchedule::ONE_CYCLE.lr_at(1.0, step, 5, 5);
        assert!((ours - lr).abs() < 1e-9, "step {step}: {ours} vs {lr}");
    }
}
