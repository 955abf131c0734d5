//! `kiln train --pretrained FILE --freeze-backbone` end to end: torchvision-layout weights (the
//! committed narrow ResNet fixture, RGB) fine-tuned on a generated grayscale dataset — only the
//! head trains, the backbone keeps the imported weights; a file that does not fit is refused
//! before the artifact directory is touched.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::parameters;
use burn::module::Module;
use burn::tensor::Device;
use kiln::models::{
    Architecture, BlockKind, ImportReport, ModelConfig, ModelSpec, ResNetConfig, import_weights,
};
use kiln::train::Registry;

/// The fixture's architecture (torchvision's BasicBlock ResNet, stages 8/16/32/64, 2-1-1-1).
fn narrow(spec: &ModelSpec) -> ModelConfig {
    ModelConfig::ResNet(
        ResNetConfig::new(spec.num_classes, BlockKind::Basic, [2, 1, 1, 1])
            .with_widths([8, 16, 32, 64])
            .with_in_channels(spec.in_channels),
    )
}

fn registry() -> Registry {
    Registry::builtin().with("narrow-resnet", "the parity fixture's ResNet", narrow)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/kiln-models/tests/fixtures")
        .join(name)
}

fn kiln<S: Into<String>>(args: impl IntoIterator<Item = S>) -> i32 {
    let args = std::iter::once("kiln".to_string()).chain(args.into_iter().map(Into::into));
    kiln::cli::main(&registry(), args)
}

#[test]
fn a_frozen_backbone_keeps_the_imported_weights_and_only_the_head_trains() {
    let Some(cpu) = common::cpu_run(300, 100) else {
        return;
    };
    let (art, weights) = (&cpu.art, fixture("narrow_basic.pth"));
    let w = weights.to_str().unwrap();
    let code = kiln(cpu.args(
        &["train", "--model", "narrow-resnet"],
        &[
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--pretrained",
            w,
            "--freeze-backbone",
        ],
    ));
    assert_eq!(code, 0);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["pretrained"]["weights"], w);
    assert_eq!(config["pretrained"]["freeze_backbone"], true);

    // The imported model (RGB conv1 summed for the 1-channel data) against the trained one.
    let spec = ModelSpec::new(10, 1, 28);
    let arch = narrow(&spec);
    let device = Device::flex();
    let (imported, report) = import_weights(&arch, arch.init(&device), &weights).unwrap();
    assert_eq!(
        report,
        ImportReport {
            applied: report.applied,
            replaced_head: vec![],
            gray_input: vec!["conv1.weight".into()],
        }
    );
    let trained = arch
        .init(&device)
        .try_load_file(art.join("model.bpk"))
        .unwrap();
    let mut changed = Vec::new();
    for ((path, before), (_, after)) in parameters(&imported).iter().zip(parameters(&trained)) {
        if *before != after {
            changed.push(path.clone());
        }
    }
    // Only the head moved: frozen batch norms kept their running statistics too.
    assert_eq!(
        changed,
        ["ResNet.fc.weight", "ResNet.fc.bias"],
        "{changed:?}"
    );
}

#[test]
fn weights_that_do_not_fit_are_refused_before_the_artifact_dir_is_touched() {
    let Some(cpu) = common::cpu_run(100, 50) else {
        return;
    };
    // A bottleneck fixture for a basic-block architecture: exit 2, nothing written.
    let wrong = fixture("narrow_bottleneck.safetensors");
    let code = kiln(cpu.args(
        &["train", "--model", "narrow-resnet"],
        &["--epochs", "1", "--pretrained", wrong.to_str().unwrap()],
    ));
    assert_eq!(code, 2);
    assert!(!cpu.art.exists());
    // --freeze-backbone needs --pretrained (a usage error).
    let code = kiln(["train", "--model", "narrow-resnet", "--freeze-backbone"]);
    assert_eq!(code, 2);
}

#[derive(clap::Parser)]
struct PredictCli {
    #[command(flatten)]
    args: kiln::cli::PredictArgs,
}

#[test]
fn predict_with_torchvision_weights_normalizes_as_imagenet_and_ranks_the_classes() {
    use clap::Parser;
    let tmp = tempfile::tempdir().unwrap();
    // A 40×40 RGB image (the fixture model's input size in its parity test).
    let pixel = |x: u32, y: u32| [(x * 6) as u8, (y * 5) as u8, ((x + y) * 3) as u8];
    let exact = tmp.path().join("exact.png");
    image::RgbImage::from_fn(40, 40, |x, y| image::Rgb(pixel(x, y)))
        .save(&exact)
        .unwrap();
    let larger = tmp.path().join("larger.png");
    image::RgbImage::from_fn(64, 50, |x, y| image::Rgb(pixel(x % 40, y % 40)))
        .save(&larger)
        .unwrap();
    let weights = fixture("narrow_basic.pth");
    let run = |image: &Path, extra: &[&str]| {
        let mut args = vec![
            "predict",
            "--model",
            "narrow-resnet",
            "--weights",
            weights.to_str().unwrap(),
            "--num-classes",
            "10",
            "--image-size",
            "40",
            "--top-k",
            "3",
            "--backend",
            "flex",
            "--image",
            image.to_str().unwrap(),
        ];
        args.extend(extra);
        kiln::cli::predict(&registry(), &PredictCli::parse_from(args).args)
    };

    // --no-resize: only (x / 255 − mean) / std with ImageNet's constants.
    let got = run(&exact, &["--no-resize"]).unwrap();
    let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let mut input = vec![0f32; 3 * 40 * 40];
    for y in 0..40 {
        for x in 0..40 {
            for c in 0..3 {
                let v = f32::from(pixel(x, y)[c]) / 255.0;
                input[c * 1600 + (y * 40 + x) as usize] = (v - mean[c]) / std[c];
            }
        }
    }
    let device = Device::flex();
    let arch = narrow(&ModelSpec::new(10, 3, 40));
    let (model, _) = import_weights(&arch, arch.init(&device), &weights).unwrap();
    let expected = kiln::models::ImageClassifier::forward(
        &model.valid(),
        burn::tensor::Tensor::<1>::from_floats(input.as_slice(), &device).reshape([1, 3, 40, 40]),
    )
    .into_data()
    .try_to_vec::<f32>()
    .unwrap();
    assert_eq!(got[0].logits.len(), 10);
    for (g, e) in got[0].logits.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-4, "{g} vs {e}");
    }
    let best = (0..10)
        .max_by(|&a, &b| expected[a].total_cmp(&expected[b]))
        .unwrap();
    assert_eq!(got[0].top_k.len(), 3);
    assert_eq!(got[0].top_k[0].class, best);
    assert!(
        got[0]
            .top_k
            .windows(2)
            .all(|w| w[0].probability >= w[1].probability)
    );

    // Without --no-resize a larger image is resized and center-cropped to the input size;
    // with it, it is refused with the sizes named.
    assert_eq!(run(&larger, &[]).unwrap()[0].logits.len(), 10);
    let err = run(&larger, &["--no-resize"]).unwrap_err();
    assert!(err.to_string().contains("64×50"), "{err}");
    assert_eq!(err.exit_code(), 2);
}
