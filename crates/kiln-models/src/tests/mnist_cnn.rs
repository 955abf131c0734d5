use burn::module::Module;
use burn::prelude::*;

use crate::{Architecture, ImageClassifier, MnistCnnConfig, ModelConfig, ModelSpec};

#[test]
fn mnist_cnn_shapes_and_parameter_count() {
    let device = Device::flex();
    let model = MnistCnnConfig::new(10).init(&device);
    let logits = model.forward(Tensor::zeros([3, 1, 28, 28], &device));
    assert_eq!(logits.dims(), [3, 10]);
    // PyTorch's sum(p.numel() for p in model.parameters()) for the same layers is 260,554:
    // conv 640 + bn 128 + conv 36,928 + bn 128 + fc 204,928 + fc 16,512 + head 1,290.
    // Burn also counts the BatchNorm running mean and variance (PyTorch buffers): 2 × 2 × 64.
    assert_eq!(model.num_params(), 260_554 + 256);
}

#[test]
fn registry_builds_by_name_and_rejects_unknown_names() {
    let device = Device::flex();
    let config = ModelConfig::from_name("mnist-cnn", &ModelSpec::new(4, 1, 28)).unwrap();
    let model = config.init(&device);
    assert_eq!(
        model.forward(Tensor::zeros([2, 1, 28, 28], &device)).dims(),
        [2, 4]
    );
    let err = ModelConfig::from_name("resnet-9000", &ModelSpec::new(10, 1, 28)).unwrap_err();
    assert!(err.to_string().contains("resnet18"), "{err}");
}

#[test]
fn config_round_trips_through_json() {
    let config = ModelConfig::from_name("mnist-cnn", &ModelSpec::new(10, 1, 28)).unwrap();
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains("\"architecture\":\"mnist-cnn\""), "{json}");
    let back: ModelConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.name(), "mnist-cnn");
}
