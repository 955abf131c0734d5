//! ONNX operators for Burn's layers and kiln's blocks and architectures: the inference graph
//! (batch norm with its running statistics, dropout removed).

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Dropout, Gelu, Linear, PaddingConfig2d, Relu};

use super::ExportError;
use super::graph::{OnnxGraph, attr_float, attr_int, attr_ints, attr_string};
use super::proto::AttributeProto;

/// A layer that writes itself into an ONNX graph: kiln's blocks and Burn's `Conv2d`,
/// `BatchNorm`, `Linear`, `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d` (to 1×1), `Relu`,
/// `Gelu`, `Dropout`, and `Vec`s of them (applied in order). A model built from these exports
/// by calling them in its [`crate::ImageClassifier::to_onnx`] as its `forward` calls them.
pub trait ToOnnx {
    /// Appends the layer's operators reading the value `input`; returns its output value.
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError>;
}

impl OnnxGraph {
    /// `layer` applied to `input`, its names under `name` (the field name in the module).
    pub fn layer(
        &mut self,
        name: &str,
        layer: &impl ToOnnx,
        input: &str,
    ) -> Result<String, ExportError> {
        self.scoped(name, |g| layer.to_onnx(g, input))
    }

    /// `Flatten` from `axis` on (`[batch, c, h, w]` → `[batch, c·h·w]` for axis 1).
    pub fn flatten(&mut self, input: &str, axis: i64) -> String {
        self.node("Flatten", &[input], vec![attr_int("axis", axis)])
    }

    /// The element-wise sum of two values (a residual connection).
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.node("Add", &[a, b], vec![])
    }
}

impl<T: ToOnnx> ToOnnx for Vec<T> {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let mut x = input.to_string();
        for (i, layer) in self.iter().enumerate() {
            x = graph.scoped(i, |g| layer.to_onnx(g, &x))?;
        }
        Ok(x)
    }
}

/// ONNX `pads` (`[top, left, bottom, right]`) or `auto_pad` for a Burn padding.
fn padding(
    graph: &OnnxGraph,
    layer: &str,
    padding: &PaddingConfig2d,
    dilation: [usize; 2],
) -> Result<AttributeProto, ExportError> {
    match *padding {
        PaddingConfig2d::Valid => Ok(attr_ints("pads", &[0, 0, 0, 0])),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            Ok(attr_ints("pads", &[top, left, bottom, right]))
        }
        // Burn puts the odd pixel of `Same` padding at the end, as ONNX's SAME_UPPER; Burn
        // ignores the dilation there, ONNX does not.
        PaddingConfig2d::Same if dilation == [1, 1] => Ok(attr_string("auto_pad", "SAME_UPPER")),
        PaddingConfig2d::Same => {
            Err(graph.unsupported(format!("{layer} with `Same` padding and dilation")))
        }
    }
}

impl ToOnnx for Conv2d {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let pads = padding(graph, "Conv2d", &self.padding, self.dilation)?;
        let weight = graph.weight("weight", &self.weight.val())?;
        let mut inputs = vec![input.to_string(), weight];
        if let Some(bias) = &self.bias {
            inputs.push(graph.weight("bias", &bias.val())?);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let attributes = vec![
            attr_ints("kernel_shape", &self.kernel_size),
            attr_ints("strides", &self.stride),
            pads,
            attr_ints("dilations", &self.dilation),
            attr_int("group", self.groups as i64),
        ];
        Ok(graph.node("Conv", &inputs, attributes))
    }
}

impl ToOnnx for BatchNorm {
    /// Inference mode: normalized with the running statistics.
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let scale = graph.weight("weight", &self.gamma.val())?;
        let bias = graph.weight("bias", &self.beta.val())?;
        let mean = graph.weight("running_mean", &self.running_mean.value())?;
        let var = graph.weight("running_var", &self.running_var.value())?;
        let epsilon = attr_float("epsilon", self.epsilon as f32);
        Ok(graph.node(
            "BatchNormalization",
            &[input, &scale, &bias, &mean, &var],
            vec![epsilon],
        ))
    }
}

impl ToOnnx for Linear {
    /// `input · weight + bias` on the last axis (`MatMul` + `Add`, any rank, as Burn's).
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let weight = graph.weight("weight", &self.weight.val())?;
        let y = graph.node("MatMul", &[input, &weight], vec![]);
        match &self.bias {
            Some(bias) => {
                let bias = graph.weight("bias", &bias.val())?;
                Ok(graph.add(&y, &bias))
            }
            None => Ok(y),
        }
    }
}

impl ToOnnx for MaxPool2d {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let attributes = vec![
            attr_ints("kernel_shape", &self.kernel_size),
            attr_ints("strides", &self.stride),
            padding(graph, "MaxPool2d", &self.padding, self.dilation)?,
            attr_ints("dilations", &self.dilation),
            attr_int("ceil_mode", self.ceil_mode as i64),
        ];
        Ok(graph.node("MaxPool", &[input], attributes))
    }
}

impl ToOnnx for AvgPool2d {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let attributes = vec![
            attr_ints("kernel_shape", &self.kernel_size),
            attr_ints("strides", &self.stride),
            padding(graph, "AvgPool2d", &self.padding, [1, 1])?,
            attr_int("count_include_pad", self.count_include_pad as i64),
            attr_int("ceil_mode", self.ceil_mode as i64),
        ];
        Ok(graph.node("AveragePool", &[input], attributes))
    }
}

impl ToOnnx for AdaptiveAvgPool2d {
    /// To 1×1 only (`GlobalAveragePool`): other output sizes depend on the input's.
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        match self.output_size {
            [1, 1] => Ok(graph.node("GlobalAveragePool", &[input], vec![])),
            [h, w] => Err(graph.unsupported(format!("AdaptiveAvgPool2d to {h}×{w} (only to 1×1)"))),
        }
    }
}

impl ToOnnx for Relu {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        Ok(graph.node("Relu", &[input], vec![]))
    }
}

impl ToOnnx for Gelu {
    /// The opset's `Gelu` from opset 20; before it the same function from `Erf` (exact) or
    /// `Tanh` (`approximate`).
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let mode = if self.approximate { "tanh" } else { "none" };
        if graph.opset() >= 20 {
            return Ok(graph.node("Gelu", &[input], vec![attr_string("approximate", mode)]));
        }
        let inner = if self.approximate {
            // √(2/π) · (x + 0.044715 x³), then tanh.
            let cube = graph.constant("three", &[], &[3.0]);
            let x3 = graph.node("Pow", &[input, &cube], vec![]);
            let c = graph.constant("coefficient", &[], &[0.044715]);
            let x3 = graph.node("Mul", &[&x3, &c], vec![]);
            let sum = graph.add(input, &x3);
            let k = graph.constant(
                "sqrt_2_over_pi",
                &[],
                &[(2.0 / std::f32::consts::PI).sqrt()],
            );
            let scaled = graph.node("Mul", &[&sum, &k], vec![]);
            graph.node("Tanh", &[&scaled], vec![])
        } else {
            let root2 = graph.constant("sqrt_2", &[], &[std::f32::consts::SQRT_2]);
            let scaled = graph.node("Div", &[input, &root2], vec![]);
            graph.node("Erf", &[&scaled], vec![])
        };
        let one = graph.constant("one", &[], &[1.0]);
        let half = graph.constant("half", &[], &[0.5]);
        let y = graph.add(&inner, &one);
        let y = graph.node("Mul", &[input, &y], vec![]);
        Ok(graph.node("Mul", &[&y, &half], vec![]))
    }
}

impl ToOnnx for Dropout {
    /// The identity: an inference graph.
    fn to_onnx(&self, _graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        Ok(input.to_string())
    }
}
