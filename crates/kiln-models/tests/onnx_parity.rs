//! Exported ONNX graphs run in tract (a pure-Rust ONNX runtime) give kiln's logits: every
//! built-in architecture (both CIFAR shortcut options), non-trivial batch-norm statistics,
//! batches of 1 and 7, the opset's own `Gelu` and its `Erf` form, the normalization inside the
//! graph, a binary head's pair of logits, the layers only a user's model uses; a layer without an
//! export is an error naming it.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Gelu, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use kiln_models::onnx::{ExportError, OnnxGraph, OnnxOptions, export_onnx};
use kiln_models::{
    ARCHITECTURES, Architecture, CifarResNetConfig, ImageClassifier, ModelConfig, ModelSpec,
    ShortcutKind,
};
use tract_onnx::prelude::{Framework, InferenceModelExt, IntoRunnable, TValue, tvec};

/// Every float parameter moved off its initialization: γ, β and the running statistics of
/// every batch norm random (variances positive), so the graph's batch norms are not identities.
struct Perturb {
    path: Vec<String>,
}

impl ModuleMapper for Perturb {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let device = tensor.device();
        let tensor = match self.path.last().map(String::as_str) {
            Some("running_var" | "gamma") => {
                Tensor::random(shape, Distribution::Uniform(0.5, 1.5), &device)
            }
            Some("running_mean" | "beta") => {
                Tensor::random(shape, Distribution::Uniform(-0.3, 0.3), &device)
            }
            _ => {
                tensor.clone() + Tensor::random(shape, Distribution::Uniform(-0.02, 0.02), &device)
            }
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

fn perturbed<M: Module>(model: M) -> M {
    model.map(&mut Perturb { path: Vec::new() })
}

/// The graph, read and planned by tract once (the batch dimension stays symbolic).
fn load_onnx(bytes: &[u8]) -> Runnable {
    tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the graph")
        .into_optimized()
        .expect("tract optimizes the graph")
        .into_runnable()
        .expect("tract plans the graph")
}

type Runnable = std::sync::Arc<tract_onnx::prelude::TypedRunnableModel>;

/// The graph's logits for `input` (`[batch, c, s, s]` values).
fn run_onnx(model: &Runnable, shape: [usize; 4], input: &[f32]) -> Vec<f32> {
    let tensor = tract_onnx::prelude::Tensor::from_shape(&shape, input).expect("input tensor");
    let outputs = model
        .run(tvec!(TValue::from(tensor)))
        .expect("tract runs the graph");
    let view = outputs[0].to_plain_array_view::<f32>().expect("f32 logits");
    view.iter().copied().collect()
}

/// `got` equals `expected` within `1e-4` of the largest logit.
fn assert_close(what: &str, got: &[f32], expected: &[f32]) {
    assert_eq!(got.len(), expected.len(), "{what}: logit count");
    let scale = expected.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            (g - e).abs() <= 1e-4 * scale,
            "{what}: logit {i}: onnx {g}, kiln {e} (largest {scale})"
        );
    }
}

/// Exports `model` and compares the graph's logits with kiln's on random normalized images.
fn assert_parity<M: ImageClassifier>(what: &str, model: &M, options: &OnnxOptions) {
    let bytes = export_onnx(model, options).unwrap_or_else(|e| panic!("{what}: {e}"));
    let onnx = load_onnx(&bytes);
    let spec = options.spec;
    let device = Device::default();
    for batch in [1, 7] {
        let shape = [batch, spec.in_channels, spec.image_size, spec.image_size];
        let images = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let input = images.to_data().try_to_vec::<f32>().unwrap();
        let expected = model
            .forward(images)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let got = run_onnx(&onnx, shape, &input);
        assert_close(&format!("{what}, batch {batch}"), &got, &expected);
    }
}

/// Gray 28×28 for the MNIST models, 3×32×32 for the ResNets (the ImageNet ones take any size:
/// 32 keeps resnet152 quick).
fn spec_for(build: fn(&ModelSpec) -> ModelConfig) -> ModelSpec {
    match build(&ModelSpec::new(10, 3, 32)).family() {
        "mnist-cnn" | "lenet5" => ModelSpec::new(10, 1, 28),
        _ => ModelSpec::new(10, 3, 32),
    }
}

#[test]
fn every_architecture_exports_a_graph_that_gives_its_logits() {
    let device = Device::default();
    for info in ARCHITECTURES {
        device.seed(7);
        let spec = spec_for(info.build);
        let config = (info.build)(&spec);
        let model = perturbed(config.init(&device)).valid();
        assert_parity(info.name, &model, &OnnxOptions::new(spec));
    }
}

#[test]
fn cifar_resnets_with_projection_shortcuts_export() {
    let device = Device::default();
    device.seed(3);
    let config = ModelConfig::CifarResNet(
        CifarResNetConfig::new(10, 1).with_shortcut(ShortcutKind::Projection),
    );
    let model = perturbed(config.init(&device)).valid();
    assert_parity(
        "resnet8-B",
        &model,
        &OnnxOptions::new(ModelSpec::new(10, 3, 32)),
    );
}

#[test]
fn gelu_exports_as_the_opset_20_operator_and_as_erf_before_it() {
    let device = Device::default();
    device.seed(11);
    let spec = ModelSpec::new(10, 1, 28);
    let model = perturbed(
        ModelConfig::from_name("mnist-cnn", &spec)
            .unwrap()
            .init(&device),
    )
    .valid();
    for opset in [13, 17, 20, 22] {
        let options = OnnxOptions {
            opset,
            ..OnnxOptions::new(spec)
        };
        assert_parity(&format!("mnist-cnn, opset {opset}"), &model, &options);
    }
}

#[test]
fn with_the_normalization_in_the_graph_raw_pixels_give_the_same_logits() {
    let device = Device::default();
    device.seed(5);
    let spec = ModelSpec::new(10, 3, 32);
    let model = perturbed(
        ModelConfig::from_name("resnet20", &spec)
            .unwrap()
            .init(&device),
    )
    .valid();
    let (mean, std) = (vec![0.49, 0.48, 0.45], vec![0.25, 0.24, 0.26]);
    let options = OnnxOptions {
        normalization: Some((mean.clone(), std.clone())),
        ..OnnxOptions::new(spec)
    };
    let bytes = export_onnx(&model, &options).unwrap();
    let shape = [3, 3, 32, 32];
    let pixels = Tensor::<4>::random(shape, Distribution::Uniform(0.0, 255.0), &device).floor();
    let raw = pixels.to_data().try_to_vec::<f32>().unwrap();
    let mean_t = Tensor::<1>::from_floats(mean.as_slice(), &device).reshape([1, 3, 1, 1]);
    let std_t = Tensor::<1>::from_floats(std.as_slice(), &device).reshape([1, 3, 1, 1]);
    let normalized = (pixels / 255.0 - mean_t) / std_t;
    let expected = model
        .forward(normalized)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_close(
        "raw pixels",
        &run_onnx(&load_onnx(&bytes), shape, &raw),
        &expected,
    );

    let wrong = OnnxOptions {
        normalization: Some((vec![0.5], vec![0.25])),
        ..OnnxOptions::new(spec)
    };
    assert!(matches!(
        export_onnx(&model, &wrong),
        Err(ExportError::Normalization {
            expected: 3,
            found: 1
        })
    ));
}

/// A user's architecture of the layers the built-ins do not use: a grouped convolution with
/// `Same` padding, an average pool counting its padding, the tanh GELU, a bias-free `Linear`.
#[derive(Module, Debug)]
struct Unusual {
    conv: Conv2d,
    pool: AvgPool2d,
    gelu: Gelu,
    head: Linear,
}

impl Unusual {
    fn new(device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([4, 6], [3, 3])
                .with_groups(2)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pool: AvgPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(true)
                .init(),
            gelu: Gelu::new_approximate(),
            head: LinearConfig::new(6 * 5 * 5, 3)
                .with_bias(false)
                .init(device),
        }
    }
}

impl ImageClassifier for Unusual {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.gelu.forward(self.conv.forward(images)));
        self.head.forward(x.flatten(1, 3))
    }

    fn to_onnx(&self, graph: &mut OnnxGraph, images: &str) -> Result<String, ExportError> {
        let x = graph.layer("conv", &self.conv, images)?;
        let x = graph.layer("gelu", &self.gelu, &x)?;
        let x = graph.layer("pool", &self.pool, &x)?;
        let x = graph.flatten(&x, 1);
        graph.layer("head", &self.head, &x)
    }
}

#[test]
fn grouped_same_padded_convolutions_average_pools_and_the_tanh_gelu_export() {
    let device = Device::default();
    device.seed(13);
    let model = Unusual::new(&device);
    for opset in [17, 20] {
        let options = OnnxOptions {
            opset,
            ..OnnxOptions::new(ModelSpec::new(3, 4, 10))
        };
        assert_parity(&format!("unusual layers, opset {opset}"), &model, &options);
    }
}

#[test]
fn a_binary_head_exports_as_the_pair_of_logits_kiln_predict_reads() {
    let device = Device::default();
    device.seed(17);
    let spec = ModelSpec::new(1, 1, 28);
    let model = perturbed(
        ModelConfig::from_name("lenet5", &spec)
            .unwrap()
            .init(&device),
    )
    .valid();
    let options = OnnxOptions {
        binary_head: true,
        ..OnnxOptions::new(spec)
    };
    let onnx = load_onnx(&export_onnx(&model, &options).unwrap());
    let shape = [5, 1, 28, 28];
    let images = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let input = images.to_data().try_to_vec::<f32>().unwrap();
    let z = model
        .forward(images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let expected: Vec<f32> = z.iter().flat_map(|&z| [0.0, z]).collect();
    assert_close("binary head", &run_onnx(&onnx, shape, &input), &expected);
}

/// A user's architecture that never said how to export itself.
#[derive(Module, Debug)]
struct NoExport {
    head: Linear,
}

impl ImageClassifier for NoExport {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(images.flatten(1, 3))
    }
}

#[test]
fn a_model_without_an_export_and_a_bad_opset_are_errors_that_name_them() {
    let device = Device::default();
    let model = NoExport {
        head: LinearConfig::new(4, 2).init(&device),
    };
    let err = export_onnx(&model, &OnnxOptions::new(ModelSpec::new(2, 1, 2))).unwrap_err();
    assert!(matches!(err, ExportError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("NoExport"), "{err}");

    let spec = ModelSpec::new(10, 1, 28);
    let config = ModelConfig::from_name("lenet5", &spec).unwrap();
    let options = OnnxOptions {
        opset: 9,
        ..OnnxOptions::new(spec)
    };
    let err = export_onnx(&config.init(&device), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "opset 9 is not supported (kiln writes opsets 13–22)"
    );
}
