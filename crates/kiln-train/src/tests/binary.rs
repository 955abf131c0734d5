use burn::tensor::{Device, Int, Tensor, TensorData};

use super::*;

#[test]
fn one_logit_reads_as_two_class_logits_whose_softmax_is_the_sigmoid() {
    let device = Device::flex();
    let z = Tensor::<2>::from_data(TensorData::new(vec![-2.0f32, 0.0, 3.0], [3, 1]), &device);
    let two = class_logits(z);
    assert_eq!(two.dims(), [3, 2]);
    let p = burn::tensor::activation::softmax(two, 1)
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    for (i, z) in [-2.0f32, 0.0, 3.0].iter().enumerate() {
        let sigmoid = 1.0 / (1.0 + (-z).exp());
        assert!((p[2 * i + 1] - sigmoid).abs() < 1e-6);
    }
}

#[test]
fn the_binary_loss_is_pytorchs_bce_with_logits_and_pos_weight() {
    // torch 2.15: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([w]))(
    //     torch.tensor([-2.0, 0.5, 3.0, -1.0]), torch.tensor([1.0, 0.0, 1.0, 0.0])).item()
    // = 0.8657135367393494 (w = 1), 1.9534711837768555 (w = 3)
    let device = Device::flex();
    let z = Tensor::<2>::from_data(
        TensorData::new(vec![-2.0f32, 0.5, 3.0, -1.0], [4, 1]),
        &device,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 1, 0], [4]), &device);
    let softplus = |x: f64| (1.0 + x.exp()).ln();
    let expected =
        |w: f64| (w * softplus(2.0) + softplus(0.5) + w * softplus(-3.0) + softplus(-1.0)) / 4.0;
    for w in [1.0, 3.0] {
        let loss = binary_loss(class_logits(z.clone()), y.clone(), w).into_scalar::<f64>();
        assert!(
            (loss - expected(w)).abs() < 1e-6,
            "{w}: {loss} vs {}",
            expected(w)
        );
    }
    let torch = [
        (1.0, 0.865_713_536_739_349_4),
        (3.0, 1.953_471_183_776_855_5),
    ];
    for (w, value) in torch {
        assert!(
            (expected(w) - value).abs() < 1e-6,
            "{w}: {} vs torch {value}",
            expected(w)
        );
    }
}

#[test]
fn thresholds_are_fixed_or_chosen_by_the_rule() {
    let labels = [0, 0, 1, 1, 1, 0];
    let scores = [0.1, 0.4, 0.35, 0.8, 0.9, 0.7];
    let fixed = DecisionThreshold::Fixed { threshold: 0.5 };
    assert_eq!(
        choose_threshold(fixed, &labels, &scores).unwrap(),
        Some(0.5)
    );
    // Recall ≥ 0.9 needs every positive: the lowest positive score, 0.35.
    let recall = DecisionThreshold::MinRecall { recall: 0.9 };
    assert_eq!(
        choose_threshold(recall, &labels, &scores).unwrap(),
        Some(0.35)
    );
    let none = choose_threshold(recall, &[0, 0], &[0.2, 0.3]).unwrap();
    assert_eq!(none, None);
}
