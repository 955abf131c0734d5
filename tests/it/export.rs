//! `kiln export` end to end on a trained run: an ONNX file with the run's weights, input shape,
//! class names and normalization, never written over an existing file unless asked; a
//! safetensors state dict that `kiln eval --weights` reads back to the same report; imported
//! weights exported by architecture name; a model without an export refused, nothing written.
//! (That the graphs compute the model's logits is `kiln-models`' `onnx_parity` tests, in tract.)

use crate::common;

use std::path::Path;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use kiln::models::onnx::Message;
use kiln::models::onnx::proto::{ModelProto, type_proto};
use kiln::models::{Architecture, ImageClassifier, ModelConfig, ModelSpec};
use kiln::train::Registry;

/// A user architecture that never said how to export itself.
#[derive(Module, Debug)]
struct Flat {
    head: Linear,
}

impl ImageClassifier for Flat {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(images.flatten(1, 3))
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FlatConfig {
    inputs: usize,
    classes: usize,
}

impl Architecture for FlatConfig {
    type Model = Flat;
    fn init(&self, device: &Device) -> Flat {
        Flat {
            head: LinearConfig::new(self.inputs, self.classes).init(device),
        }
    }
}

fn registry() -> Registry {
    Registry::builtin().with(
        "flat",
        "a linear model without an ONNX export",
        |s: &ModelSpec| FlatConfig {
            inputs: s.in_channels * s.image_size * s.image_size,
            classes: s.num_classes,
        },
    )
}

fn kiln<S: Into<String>>(args: impl IntoIterator<Item = S>) -> i32 {
    let args = std::iter::once("kiln".to_string()).chain(args.into_iter().map(Into::into));
    kiln::cli::main(&registry(), args)
}

fn read_onnx(path: &Path) -> ModelProto {
    ModelProto::decode(std::fs::read(path).unwrap().as_slice()).unwrap()
}

fn metadata(model: &ModelProto, key: &str) -> Option<String> {
    model
        .metadata_props
        .iter()
        .find(|p| p.key.as_deref() == Some(key))
        .and_then(|p| p.value.clone())
}

/// The declared shape of a graph input or output (`-1` for the dynamic batch).
fn shape(value: &kiln::models::onnx::proto::ValueInfoProto) -> Vec<i64> {
    use kiln::models::onnx::proto::tensor_shape_proto::dimension::Value;
    let Some(type_proto::Value::TensorType(t)) = &value.r#type.as_ref().unwrap().value else {
        panic!("not a tensor: {value:?}");
    };
    (t.shape.as_ref().unwrap().dim.iter())
        .map(|d| match &d.value {
            Some(Value::DimValue(n)) => *n,
            _ => -1,
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_trained_run_exports_to_onnx_and_to_safetensors_that_evaluate_the_same() {
    let Some(cpu) = common::cpu_run(300, 100) else {
        return;
    };
    let (art, b) = (&cpu.art, cpu.backend.to_string());
    let a = art.to_str().unwrap();
    let code = kiln(cpu.args(&["train"], &["--epochs", "1", "--batch-size", "32"]));
    assert_eq!(code, 0);

    // ONNX into the run's directory: its weights, shapes, classes and normalization.
    assert_eq!(kiln(["export", "--artifact-dir", a, "--backend", &b]), 0);
    let onnx = art.join("model.onnx");
    let model = read_onnx(&onnx);
    assert_eq!(model.opset_import[0].version, Some(17));
    assert_eq!(model.producer_name.as_deref(), Some("kiln"));
    let graph = model.graph.as_ref().unwrap();
    assert_eq!(shape(&graph.input[0]), [-1, 1, 28, 28]);
    assert_eq!(shape(&graph.output[0]), [-1, 10]);
    let config = json(&art.join("config.json"));
    let classes: serde_json::Value =
        serde_json::from_str(&metadata(&model, "kiln.class_names").unwrap()).unwrap();
    assert_eq!(classes, json(&art.join("eval.json"))["class_names"]);
    assert_eq!(
        metadata(&model, "kiln.architecture").as_deref(),
        Some("mnist-cnn")
    );
    assert_eq!(
        metadata(&model, "kiln.normalization_in_graph").as_deref(),
        Some("false")
    );
    let arch: ModelConfig = serde_json::from_value(config["model"].clone()).unwrap();
    let trained = arch
        .init(&Device::default())
        .try_load_file(art.join("model.bpk"))
        .unwrap();
    let head = common::parameters(&trained)
        .into_iter()
        .find(|(path, _)| path.ends_with("head.bias"))
        .unwrap()
        .1;
    let stored = graph
        .initializer
        .iter()
        .find(|t| t.name.as_deref() == Some("head.bias"))
        .unwrap();
    let stored: Vec<f32> = (stored.raw_data.as_ref().unwrap().chunks(4))
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(stored, head);

    // An existing file is kept (exit 2) unless --overwrite.
    let before = std::fs::read(&onnx).unwrap();
    let args = [
        "export",
        "--artifact-dir",
        a,
        "--backend",
        &b,
        "--include-normalization",
    ];
    assert_eq!(kiln(args), 2);
    assert_eq!(std::fs::read(&onnx).unwrap(), before);
    assert_eq!(
        kiln(
            args.iter()
                .chain(&["--overwrite", "--opset", "20"])
                .copied()
        ),
        0
    );
    let model = read_onnx(&onnx);
    assert_eq!(model.opset_import[0].version, Some(20));
    assert_eq!(
        metadata(&model, "kiln.normalization_in_graph").as_deref(),
        Some("true")
    );
    let first = &model.graph.as_ref().unwrap().node[0];
    assert_eq!(
        (first.op_type.as_deref(), first.input[0].as_str()),
        (Some("Div"), "images")
    );

    // Flags that do not apply are refused, nothing written.
    let st = art.join("model.safetensors");
    let safetensors = [
        "export",
        "--artifact-dir",
        a,
        "--backend",
        &b,
        "--format",
        "safetensors",
    ];
    assert_eq!(
        kiln(safetensors.iter().chain(&["--opset", "20"]).copied()),
        2
    );
    assert_eq!(kiln(["export", "--artifact-dir", a, "--opset", "12"]), 2);
    assert!(!st.exists());

    // The safetensors state dict evaluates to the same report as model.bpk.
    assert_eq!(kiln(safetensors), 0);
    let out = cpu.tmp.path().join("eval-from-safetensors");
    let (d, s, o) = (
        cpu.data.to_str().unwrap(),
        st.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let eval = [
        "eval",
        "--artifact-dir",
        a,
        "--data-dir",
        d,
        "--offline",
        "--backend",
        &b,
    ];
    assert_eq!(
        kiln(eval.iter().chain(&["--weights", s, "--out", o]).copied()),
        0
    );
    assert_eq!(json(&out.join("eval.json")), json(&art.join("eval.json")));
    assert_eq!(
        std::fs::read_to_string(out.join("predictions.csv")).unwrap(),
        std::fs::read_to_string(art.join("predictions.csv")).unwrap()
    );
}

#[test]
fn imported_weights_export_by_name_and_a_model_without_an_export_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(backend) = common::cpu_backend() else {
        return;
    };
    let b = backend.to_string();
    let device = Device::default();

    // kiln weights of the built-in lenet5 for 3-channel 32×32 images, exported by name.
    let spec = ModelSpec::new(4, 3, 32);
    let weights = tmp.path().join("lenet5.bpk");
    let config = ModelConfig::from_name("lenet5", &spec).unwrap();
    config.init(&device).save_file(&weights).unwrap();
    let out = tmp.path().join("out/lenet5.onnx");
    let (w, o) = (weights.to_str().unwrap(), out.to_str().unwrap());
    let by_name = [
        "export",
        "--model",
        "lenet5",
        "--weights",
        w,
        "--backend",
        &b,
    ];
    let sizes = ["--num-classes", "4", "--image-size", "32", "--out", o];
    assert_eq!(kiln(by_name.iter().chain(&sizes).copied()), 0);
    let model = read_onnx(&out);
    let graph = model.graph.as_ref().unwrap();
    assert_eq!(shape(&graph.input[0]), [-1, 3, 32, 32]);
    assert_eq!(shape(&graph.output[0]), [-1, 4]);
    assert_eq!(metadata(&model, "kiln.class_names"), None);
    // Imported weights are normalized as torchvision's ImageNet models.
    assert_eq!(
        metadata(&model, "kiln.mean").as_deref(),
        Some("[0.485,0.456,0.406]")
    );

    // A registered architecture without `to_onnx`: exit 2, no file.
    let flat = tmp.path().join("flat.bpk");
    let config = FlatConfig {
        inputs: 3 * 32 * 32,
        classes: 4,
    };
    config.init(&device).save_file(&flat).unwrap();
    let out = tmp.path().join("flat.onnx");
    let (w, o) = (flat.to_str().unwrap(), out.to_str().unwrap());
    let flat_args = ["export", "--model", "flat", "--weights", w, "--backend", &b];
    assert_eq!(
        kiln(
            flat_args
                .iter()
                .chain(&sizes[..4])
                .chain(&["--out", o])
                .copied()
        ),
        2
    );
    assert!(!out.exists());
    // Its weights still export as a state dict.
    let st = tmp.path().join("flat.safetensors");
    let st_args = ["--format", "safetensors", "--out", st.to_str().unwrap()];
    assert_eq!(
        kiln(flat_args.iter().chain(&sizes[..4]).chain(&st_args).copied()),
        0
    );
    let bytes = std::fs::read(&st).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    // PyTorch's Linear layout: [out, in].
    assert_eq!(
        tensors.tensor("head.weight").unwrap().shape(),
        [4, 3 * 32 * 32]
    );
}
