use burn::module::Module;
use burn::prelude::*;

use crate::{
    ARCHITECTURES, Architecture, CifarResNetConfig, ImageClassifier, ModelConfig, ModelSpec,
    ResNetConfig, ShortcutKind, trainable_params,
};

fn params(name: &str, spec: ModelSpec) -> usize {
    let config = ModelConfig::from_name(name, &spec).unwrap();
    trainable_params(&config.init(&Device::flex()))
}

#[test]
fn imagenet_resnets_have_torchvisions_parameter_counts() {
    // `sum(p.numel() for p in torchvision.models.resnetXX().parameters())`.
    let imagenet = ModelSpec::new(1000, 3, 224);
    for (name, expected) in [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
    ] {
        assert_eq!(params(name, imagenet), expected, "{name}");
    }
}

#[test]
fn cifar_resnets_have_the_papers_parameter_counts() {
    // He et al. 2016, Table 6 (option A): 0.27 M, 0.46 M, 0.66 M, 0.85 M, 1.7 M. Exactly, for
    // resnet20: stem 432 + 32; stage 1: 3 × (2 × 2,304 + 64); stage 2: 4,608 + 9,216 + 128 +
    // 2 × (2 × 9,216 + 128); stage 3: 18,432 + 36,864 + 256 + 2 × (2 × 36,864 + 256); fc 650.
    let cifar = ModelSpec::new(10, 3, 32);
    for (name, expected) in [
        ("resnet20", 269_722),
        ("resnet32", 464_154),
        ("resnet44", 658_586),
        ("resnet56", 853_018),
        ("resnet110", 1_727_962),
    ] {
        assert_eq!(params(name, cifar), expected, "{name}");
    }
    // Option B adds a 1×1 conv + batch norm at the two widening blocks:
    // (16·32 + 2·32) + (32·64 + 2·64) = 576 + 2,176.
    let b = CifarResNetConfig::new(10, 3).with_shortcut(ShortcutKind::Projection);
    assert_eq!(
        trainable_params(&b.init(&Device::flex())),
        269_722 + 576 + 2_176
    );
}

#[test]
fn lenet5_has_the_classic_parameter_count() {
    // 156 + 2,416 + 48,120 + 10,164 + 850.
    assert_eq!(params("lenet5", ModelSpec::new(10, 1, 28)), 61_706);
}

#[test]
fn every_architecture_maps_mnist_and_cifar_shapes_to_logits() {
    let device = Device::flex();
    for arch in ARCHITECTURES {
        if arch.name == "resnet101" || arch.name == "resnet152" || arch.name == "resnet110" {
            continue; // same blocks as resnet50 / resnet56, only deeper
        }
        for (channels, size) in [(1, 28), (3, 32)] {
            let config = (arch.build)(&ModelSpec::new(7, channels, size));
            let model = config.init(&device);
            let logits = model.forward(Tensor::random(
                [2, channels, size, size],
                burn::tensor::Distribution::Default,
                &device,
            ));
            assert_eq!(logits.dims(), [2, 7], "{} on {channels}×{size}²", arch.name);
        }
    }
}

#[test]
fn zero_init_residual_makes_every_block_start_as_the_identity_path() {
    let device = Device::flex();
    let plain = ResNetConfig::resnet18(10);
    let zero = plain.clone().with_zero_init_residual(true);
    // γ of bn2 in each of the 8 blocks is 0: the sum of all γ drops by 8 blocks' widths.
    let gamma_sum = |c: &ResNetConfig| {
        let record = c.init(&device);
        let mut total = 0.0;
        record.visit(&mut GammaSum(&mut total, Vec::new()));
        total
    };
    let widths = 2.0 * (64.0 + 128.0 + 256.0 + 512.0);
    assert_eq!(gamma_sum(&plain) - gamma_sum(&zero), widths);
}

struct GammaSum<'a>(&'a mut f64, Vec<String>);

impl burn::module::ModuleVisitor for GammaSum<'_> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.1.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.1.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if self.1.last().map(String::as_str) == Some("gamma") {
            *self.0 += param.val().sum().into_scalar::<f64>();
        }
    }
}

#[test]
fn configs_round_trip_and_report_their_registered_name() {
    for arch in ARCHITECTURES {
        let config = (arch.build)(&ModelSpec::new(10, 3, 32));
        let json = serde_json::to_string(&config).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.name(), arch.name, "{json}");
        assert_eq!(back.head(), config.head());
    }
}
