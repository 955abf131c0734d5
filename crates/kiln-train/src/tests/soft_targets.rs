use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;

use super::*;

fn matrix(v: &Value) -> (Vec<f32>, [usize; 2]) {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    (data, [rows.len(), cols])
}

/// PyTorch's `cross_entropy(logits, soft_targets, weight, label_smoothing)` on every committed
/// case (`gen_training_recipe.py`): Mixup and CutMix targets, one-hot rows, class weights, label
/// smoothing and large logits — the loss and its gradient with respect to the logits.
#[test]
fn the_loss_and_its_gradient_equal_pytorch_cross_entropy_with_probability_targets() {
    let text = include_str!("../../tests/fixtures/training_recipe_cases.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let device = Device::flex().autodiff();
    for case in fixture["soft_cross_entropy"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (logits, dims) = matrix(&case["logits"]);
        let (targets, _) = matrix(&case["targets"]);
        let weights: Option<Vec<f32>> = case["weight"]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_f64().unwrap() as f32).collect());
        let smoothing = case["label_smoothing"].as_f64().unwrap() as f32;
        let loss = SoftCrossEntropy::new(
            weights.as_deref(),
            (smoothing > 0.0).then_some(smoothing),
            &device,
        );
        let logits = Tensor::<2>::from_data(TensorData::new(logits, dims), &device).require_grad();
        let targets = Tensor::<2>::from_data(TensorData::new(targets, dims), &device);
        let value = loss.forward(logits.clone(), targets);
        let got = value.clone().into_scalar::<f64>();
        let expected = case["loss"].as_f64().unwrap();
        assert!(
            (got - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
            "{name}: {got} vs {expected}"
        );
        let grads = value.backward();
        let grad = logits
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let (expected, _) = matrix(&case["grad"]);
        for (g, e) in grad.iter().zip(&expected) {
            assert!(
                (g - e).abs() <= 1e-5,
                "{name}: gradient {grad:?} vs {expected:?}"
            );
        }
    }
}
