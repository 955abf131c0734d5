use super::*;

#[test]
fn rates_grow_exponentially_from_start_towards_end() {
    let s = LrFindSettings {
        start_lr: 1e-6,
        end_lr: 1.0,
        steps: 60,
        ..LrFindSettings::default()
    };
    assert_eq!(s.lr_at(0), 1e-6);
    assert!((s.lr_at(30) - 1e-3).abs() < 1e-15);
    assert!((s.lr_at(60) - 1.0).abs() < 1e-12, "the step after the last");
    assert!(LrFindSettings { end_lr: 1e-7, ..s }.check().is_err());
    assert!(LrFindSettings { steps: 1, ..s }.check().is_err());
    assert!(LrFindSettings { diverge: 1.0, ..s }.check().is_err());
}

/// numpy: `np.gradient([5, 5, 4.5, 3, 2.8, 2.7, 3.5])` = [0, -0.25, -1, -0.85, -0.15, 0.35, 0.8];
/// the most negative is the third kept point, index 10 + 2 of the whole list.
#[test]
fn the_suggestion_is_lightnings_steepest_descent_after_the_first_ten_points() {
    let mut smoothed = vec![9.0; 10];
    smoothed.extend([5.0, 5.0, 4.5, 3.0, 2.8, 2.7, 3.5, 100.0]);
    assert_eq!(suggest(&smoothed), Some(12));
    smoothed[12] = f64::NAN;
    // Without it: [5, 5, 3, 2.8, 2.7, 3.5] → gradient [0, -1, -1.1, -0.15, 0.35, 0.8]: the
    // point of 2.8, index 13 of the whole list (Lightning would add 10 to the index among the
    // finite points and name the wrong rate; kiln maps it back).
    assert_eq!(suggest(&smoothed), Some(13));
    assert_eq!(suggest(&smoothed[..12]), None, "too few points");
}
