use serde_json::Value;

use super::*;

/// Every case of a real `torch.optim.lr_scheduler.ReduceLROnPlateau` (`gen_training_recipe.py`):
/// the rate, `num_bad_epochs`, `cooldown_counter` and `best` after every epoch's step.
#[test]
fn the_state_follows_pytorch_reduce_lr_on_plateau_epoch_by_epoch() {
    let text = include_str!("../../tests/fixtures/training_recipe_cases.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    for case in fixture["reduce_lr_on_plateau"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let f = |key: &str| case[key].as_f64().unwrap();
        let settings = Plateau {
            mode: None,
            factor: f("factor"),
            patience: case["patience"].as_u64().unwrap() as usize,
            threshold: f("threshold"),
            threshold_mode: match case["threshold_mode"].as_str().unwrap() {
                "rel" => ThresholdMode::Rel,
                _ => ThresholdMode::Abs,
            },
            cooldown: case["cooldown"].as_u64().unwrap() as usize,
            min_lr: f("min_lr"),
            eps: f("eps"),
            ..Plateau::new("valid_loss", 0)
        };
        let mode = match case["mode"].as_str().unwrap() {
            "min" => Mode::Min,
            _ => Mode::Max,
        };
        let mut state = PlateauState::new(f("initial_lr"));
        for (epoch, metric) in case["metrics"].as_array().unwrap().iter().enumerate() {
            state.step(&settings, mode, metric.as_f64().unwrap());
            let at = |key: &str| &case[key][epoch];
            // To the last bits: PyTorch keeps the rate in a float of its own arithmetic.
            let lr = at("lrs").as_f64().unwrap();
            assert!(
                (state.lr - lr).abs() <= 1e-12 * lr,
                "{name} epoch {epoch}: lr {} vs {lr}",
                state.lr
            );
            assert_eq!(
                state.num_bad_epochs as u64,
                at("num_bad_epochs").as_u64().unwrap(),
                "{name} epoch {epoch}: bad epochs"
            );
            assert_eq!(
                state.cooldown_counter as u64,
                at("cooldown_counter").as_u64().unwrap(),
                "{name} epoch {epoch}: cooldown"
            );
            assert_eq!(
                state.best,
                at("best").as_f64(),
                "{name} epoch {epoch}: best"
            );
        }
    }
}

#[test]
fn nan_never_improves_and_the_state_round_trips_through_json() {
    let settings = Plateau::new("valid_loss", 0);
    let mut state = PlateauState::new(0.1);
    state.step(&settings, Mode::Min, f64::NAN);
    assert_eq!(state.best, None);
    assert_eq!(
        state.lr,
        0.1 * 0.1,
        "a NaN epoch is a bad one: patience 0 drops the rate"
    );
    state.step(&settings, Mode::Min, 0.5);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<PlateauState>(&json).unwrap(), state);
}
