//! torchvision weights in kiln's ResNets: the same logits as torchvision (eval mode, non-trivial
//! batch-norm statistics) from `.pth` and `.safetensors` state dicts, the head replaced for
//! another class count, and clear errors for state dicts of another architecture.
//!
//! The fixtures are written by `tests/fixtures/make_torchvision_fixtures.py` (small
//! torchvision-layout ResNets with seeded random weights). A full-size `resnet18` is checked
//! too when `KILN_RESNET18_DIR` names a directory written by `--full DIR`.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use kiln_models::{
    Architecture, BlockKind, ImageClassifier, ImportError, ModelConfig, ResNetConfig,
    freeze_backbone, import_weights, torch_safetensors, torch_state_dict,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    config: FixtureConfig,
    input_shape: [usize; 4],
    input: Vec<f32>,
    logits_shape: [usize; 2],
    logits: Vec<f32>,
}

#[derive(Deserialize)]
struct FixtureConfig {
    block: BlockKind,
    layers: [usize; 4],
    widths: [usize; 4],
    num_classes: usize,
    in_channels: usize,
}

impl FixtureConfig {
    fn resnet(&self) -> ModelConfig {
        ModelConfig::ResNet(
            ResNetConfig::new(self.num_classes, self.block, self.layers)
                .with_widths(self.widths)
                .with_in_channels(self.in_channels),
        )
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_fixture(dir: &Path, name: &str) -> Fixture {
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run make_torchvision_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Imports `weights` into `arch` and compares its logits on the fixture's input.
fn assert_parity(arch: &ModelConfig, fixture: &Fixture, weights: &Path) {
    let device = Device::flex();
    let (model, report) =
        import_weights(arch, arch.init(&device), weights).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.replaced_head.is_empty(), "{report:?}");
    assert!(report.applied.unwrap() > 0);
    let input =
        Tensor::<1>::from_floats(fixture.input.as_slice(), &device).reshape(fixture.input_shape);
    let logits = model.valid().forward(input);
    assert_eq!(logits.dims(), fixture.logits_shape);
    let got = logits.into_data().try_to_vec::<f32>().unwrap();
    let scale = fixture.logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (g, e)) in got.iter().zip(&fixture.logits).enumerate() {
        assert!(
            (g - e).abs() <= 1e-4 * scale,
            "{}: logit {i}: kiln {g}, torchvision {e}",
            weights.display()
        );
    }
}

#[test]
fn narrow_resnets_match_torchvision_logits_from_pth_and_safetensors() {
    let dir = fixtures();
    for name in ["narrow_basic", "narrow_bottleneck"] {
        let fixture = read_fixture(&dir, name);
        let arch = fixture.config.resnet();
        for ext in ["pth", "safetensors"] {
            assert_parity(&arch, &fixture, &dir.join(format!("{name}.{ext}")));
        }
    }
}

/// torchvision's state dict imported and exported again is torchvision's state dict: the same
/// keys (`num_batches_tracked` included, so `load_state_dict(strict=True)` accepts it), shapes
/// and values, for basic blocks and bottlenecks; the exported file imports back to the same
/// logits.
#[test]
fn exported_safetensors_are_torchvisions_state_dict() {
    let dir = fixtures();
    let device = Device::flex();
    for name in ["narrow_basic", "narrow_bottleneck"] {
        let fixture = read_fixture(&dir, name);
        let arch = fixture.config.resnet();
        let original = std::fs::read(dir.join(format!("{name}.safetensors"))).unwrap();
        let original = safetensors::SafeTensors::deserialize(&original).unwrap();
        let (model, _) = import_weights(
            &arch,
            arch.init(&device),
            &dir.join(format!("{name}.safetensors")),
        )
        .unwrap();
        let bytes = torch_safetensors(&arch, &model).unwrap();
        let exported = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut expected_names = original.names();
        let mut names = exported.names();
        expected_names.sort();
        names.sort();
        assert_eq!(names, expected_names, "{name}: keys");
        for key in names {
            let (got, want) = (exported.tensor(key).unwrap(), original.tensor(key).unwrap());
            assert_eq!(got.shape(), want.shape(), "{name}: {key}: shape");
            assert_eq!(got.dtype(), want.dtype(), "{name}: {key}: dtype");
            if !key.ends_with("num_batches_tracked") {
                assert_eq!(got.data(), want.data(), "{name}: {key}: values");
            }
        }

        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("exported.safetensors");
        std::fs::write(&file, &bytes).unwrap();
        assert_parity(&arch, &fixture, &file);
    }
}

/// A layer norm's γ/β export under PyTorch's `weight`/`bias`, as a batch norm's.
#[test]
fn every_normalization_layer_exports_under_pytorchs_names() {
    #[derive(Module, Debug)]
    struct Normed {
        norm: burn::nn::LayerNorm,
        head: burn::nn::Linear,
    }
    impl ImageClassifier for Normed {
        fn forward(&self, images: Tensor<4>) -> Tensor<2> {
            self.head.forward(self.norm.forward(images.flatten(1, 3)))
        }
    }
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct NormedConfig;
    impl Architecture for NormedConfig {
        type Model = Normed;
        fn init(&self, device: &Device) -> Normed {
            Normed {
                norm: burn::nn::LayerNormConfig::new(4).init(device),
                head: burn::nn::LinearConfig::new(4, 2).init(device),
            }
        }
    }
    let model = NormedConfig.init(&Device::flex());
    let keys: Vec<String> = torch_state_dict(&NormedConfig, &model)
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        keys,
        ["head.bias", "head.weight", "norm.bias", "norm.weight"]
    );
}

#[test]
fn full_resnet18_matches_torchvision_when_provided() {
    let Some(dir) = std::env::var_os("KILN_RESNET18_DIR") else {
        eprintln!("SKIPPED: set KILN_RESNET18_DIR to a `make_torchvision_fixtures.py --full` dir");
        return;
    };
    let dir = PathBuf::from(dir);
    let fixture = read_fixture(&dir, "resnet18");
    let arch = ModelConfig::ResNet(ResNetConfig::resnet18(1000));
    assert_parity(&arch, &fixture, &dir.join("resnet18.pth"));
}

#[test]
fn another_class_count_keeps_a_fresh_head_and_loads_the_rest() {
    let dir = fixtures();
    let fixture = read_fixture(&dir, "narrow_basic");
    let mut config = fixture.config;
    config.num_classes = 5;
    let arch = config.resnet();
    let device = Device::flex();
    for ext in ["pth", "safetensors"] {
        let weights = dir.join(format!("narrow_basic.{ext}"));
        let (model, report) = import_weights(&arch, arch.init(&device), &weights).unwrap();
        let mut replaced = report.replaced_head.clone();
        replaced.sort();
        assert_eq!(
            replaced,
            vec![
                ("fc.bias".to_string(), vec![10], vec![5]),
                ("fc.weight".to_string(), vec![64, 10], vec![64, 5]),
            ],
            "{ext}"
        );
        let input = Tensor::<1>::from_floats(fixture.input.as_slice(), &device)
            .reshape(fixture.input_shape);
        assert_eq!(model.valid().forward(input).dims(), [2, 5]);
    }
}

fn mismatch(arch: &ModelConfig, weights: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    match import_weights(arch, arch.init(&Device::flex()), weights) {
        Err(ImportError::Mismatch {
            missing,
            unexpected,
            mis_shaped,
            path,
        }) => {
            assert_eq!(path, weights);
            (missing, unexpected, mis_shaped)
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn state_dicts_of_another_architecture_are_refused_with_the_keys_named() {
    let dir = fixtures();
    let basic = read_fixture(&dir, "narrow_basic").config;
    let weights = dir.join("narrow_basic.pth");

    // Fewer blocks in layer1 than the file: its second block is unexpected.
    let mut fewer = read_fixture(&dir, "narrow_basic").config;
    fewer.layers = [1, 1, 1, 1];
    let (missing, unexpected, mis_shaped) = mismatch(&fewer.resnet(), &weights);
    assert!(
        missing.is_empty() && mis_shaped.is_empty(),
        "{missing:?} {mis_shaped:?}"
    );
    assert!(
        unexpected.contains(&"layer1.1.conv1.weight".to_string()),
        "{unexpected:?}"
    );
    assert!(
        unexpected.iter().all(|k| k.starts_with("layer1.1.")),
        "{unexpected:?}"
    );

    // Bottleneck blocks for a basic-block file: conv3/bn3 missing, shapes differ.
    let mut bottleneck = read_fixture(&dir, "narrow_basic").config;
    bottleneck.block = BlockKind::Bottleneck;
    let (missing, _, mis_shaped) = mismatch(&bottleneck.resnet(), &weights);
    assert!(
        missing.iter().any(|k| k.contains("conv3.weight")),
        "{missing:?}"
    );
    assert!(!mis_shaped.is_empty());

    // The error message lists them for the user.
    let message = import_weights(
        &bottleneck.resnet(),
        bottleneck.resnet().init(&Device::flex()),
        &weights,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        message.contains("narrow_basic.pth: the weights do not fit the model"),
        "{message}"
    );
    assert!(
        message.contains("missing keys") && message.contains("mis-shaped keys"),
        "{message}"
    );

    // Other formats and files.
    let arch = basic.resnet();
    let model = || arch.init(&Device::flex());
    assert!(matches!(
        import_weights(&arch, model(), Path::new("weights.onnx")),
        Err(ImportError::UnknownFormat { .. }) | Err(ImportError::Read { .. })
    ));
    assert!(matches!(
        import_weights(&arch, model(), &dir.join("absent.pth")),
        Err(ImportError::Read { .. })
    ));
    let garbage = tempfile_with(b"not a pickle", "garbage.pth");
    let error = import_weights(&arch, model(), &garbage).err().unwrap();
    assert!(matches!(error, ImportError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("garbage.pth"), "{error}");
}

fn tempfile_with(bytes: &[u8], name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Trainable (not frozen) parameters, by path.
fn trainable_paths<M: Module>(model: &M) -> Vec<String> {
    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        trainable: Vec<String>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.trainable.push(self.path.join("."));
            }
        }
    }
    let mut collect = Collect::default();
    model.visit(&mut collect);
    collect.trainable
}

#[test]
fn freezing_the_backbone_leaves_only_the_head_trainable() {
    let dir = fixtures();
    let fixture = read_fixture(&dir, "narrow_basic");
    let arch = fixture.config.resnet();
    let device = Device::flex().autodiff();
    let (model, _) =
        import_weights(&arch, arch.init(&device), &dir.join("narrow_basic.pth")).unwrap();
    let before = trainable_paths(&model);
    assert!(before.len() > 10, "{before:?}");
    let frozen = freeze_backbone(model, arch.head()).train();
    let after = trainable_paths(&frozen);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after
            .iter()
            .all(|p| p.ends_with("fc.weight") || p.ends_with("fc.bias")),
        "{after:?}"
    );

    // The frozen batch norms normalize with the imported running statistics even in training
    // mode: the training-mode forward equals the evaluation-mode one.
    let input = |device: &Device| {
        Tensor::<1>::from_floats(fixture.input.as_slice(), device).reshape(fixture.input_shape)
    };
    let train = frozen
        .forward(input(&device))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let eval = frozen
        .valid()
        .forward(input(&Device::flex()))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (t, e) in train.iter().zip(&eval) {
        assert!((t - e).abs() < 1e-5, "train {t}, eval {e}");
    }
}

#[test]
fn rgb_weights_load_into_a_grayscale_model_as_the_sum_of_their_input_channels() {
    let dir = fixtures();
    let fixture = read_fixture(&dir, "narrow_basic");
    let rgb = fixture.config.resnet();
    let mut gray_config = read_fixture(&dir, "narrow_basic").config;
    gray_config.in_channels = 1;
    let gray = gray_config.resnet();
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 1, 40, 40], burn::tensor::Distribution::Default, &device);
    for ext in ["pth", "safetensors"] {
        let weights = dir.join(format!("narrow_basic.{ext}"));
        let (rgb_model, _) = import_weights(&rgb, rgb.init(&device), &weights).unwrap();
        let (gray_model, report) = import_weights(&gray, gray.init(&device), &weights).unwrap();
        assert_eq!(report.gray_input, vec!["conv1.weight".to_string()], "{ext}");
        assert!(report.replaced_head.is_empty());
        // A gray image through the adapted model = the same image as (x, x, x) through the
        // RGB weights.
        let expected = rgb_model
            .valid()
            .forward(Tensor::cat(vec![x.clone(), x.clone(), x.clone()], 1));
        let got = gray_model.valid().forward(x.clone());
        let (e, g) = (
            expected.into_data().try_to_vec::<f32>().unwrap(),
            got.into_data().try_to_vec::<f32>().unwrap(),
        );
        for (a, b) in e.iter().zip(&g) {
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                "{ext}: {a} vs {b}"
            );
        }
    }
}
