//! Building an ONNX graph: named values, operator nodes, weights as initializers, and the scope
//! (the module path, e.g. `layer1.0.conv1`) that names them.

use std::collections::HashSet;

use burn::prelude::*;
use burn::tensor::TensorData;

use super::ExportError;
use super::proto::attribute_proto::AttributeType;
use super::proto::tensor_proto::DataType;
use super::proto::{AttributeProto, NodeProto, TensorProto};

/// An ONNX graph under construction. Layers append their operators with [`OnnxGraph::node`],
/// their weights with [`OnnxGraph::weight`], inside the [`OnnxGraph::scoped`] module path that
/// names both (a model's `layer1.0.conv1.weight` is the initializer's name).
#[derive(Debug)]
pub struct OnnxGraph {
    opset: i64,
    scope: Vec<String>,
    names: HashSet<String>,
    pub(super) nodes: Vec<NodeProto>,
    pub(super) initializers: Vec<TensorProto>,
}

impl OnnxGraph {
    pub(super) fn new(opset: i64) -> Self {
        Self {
            opset,
            scope: Vec::new(),
            names: HashSet::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
        }
    }

    /// The opset the graph is written for (layers pick operators by it, e.g. `Gelu` from 20).
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// Runs `f` with `name` appended to the module path (a field name or a `Vec` index).
    pub fn scoped<T>(&mut self, name: impl ToString, f: impl FnOnce(&mut Self) -> T) -> T {
        self.scope.push(name.to_string());
        let out = f(self);
        self.scope.pop();
        out
    }

    /// The current module path, `.`-separated (empty at the top).
    pub fn path(&self) -> String {
        self.scope.join(".")
    }

    /// `<path>.<name>`.
    fn child(&self, name: &str) -> String {
        match self.path() {
            path if path.is_empty() => name.to_string(),
            path => format!("{path}.{name}"),
        }
    }

    /// The error for a layer that has no export, naming it and where it sits.
    pub fn unsupported(&self, layer: impl Into<String>) -> ExportError {
        ExportError::Unsupported {
            path: self.path(),
            layer: layer.into(),
        }
    }

    /// Adds `tensor` as the float initializer `<path>.<name>` and returns that name.
    pub fn weight<const D: usize>(
        &mut self,
        name: &str,
        tensor: &Tensor<D>,
    ) -> Result<String, ExportError> {
        let full = self.unique(&self.child(name));
        let values = f32_values(tensor.to_data()).map_err(|message| ExportError::Tensor {
            name: full.clone(),
            message,
        })?;
        let dims = tensor.dims().map(|d| d as i64).to_vec();
        Ok(self.floats(&full, dims, &values))
    }

    /// Adds the float constant `values` of shape `dims` under a name derived from `name` and
    /// returns its name.
    pub fn constant(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        let full = self.unique(&self.child(name));
        self.floats(&full, dims.to_vec(), values)
    }

    /// Adds the 1-D int64 constant `values` (shapes, axes, pads) and returns its name.
    pub fn constant_i64(&mut self, name: &str, values: &[i64]) -> String {
        let full = self.unique(&self.child(name));
        self.names.insert(full.clone());
        self.initializers.push(TensorProto {
            name: Some(full.clone()),
            dims: vec![values.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        full
    }

    fn floats(&mut self, name: &str, dims: Vec<i64>, values: &[f32]) -> String {
        self.names.insert(name.to_string());
        self.initializers.push(TensorProto {
            name: Some(name.to_string()),
            dims,
            data_type: Some(DataType::Float as i32),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        name.to_string()
    }

    /// Appends the operator `op` reading `inputs` (value names; `""` for an omitted optional
    /// input) and returns the name of its one output, `<path>/<op>` made unique.
    pub fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let path = self.path();
        let base = if path.is_empty() {
            op.to_string()
        } else {
            format!("{path}/{op}")
        };
        let output = self.unique(&base);
        self.names.insert(output.clone());
        self.nodes.push(NodeProto {
            name: Some(output.clone()),
            op_type: Some(op.to_string()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            attribute: attributes,
            ..Default::default()
        });
        output
    }

    /// Renames the value `from` (a node's output) to `to`, e.g. the last layer's to `logits`.
    pub(super) fn rename(&mut self, from: &str, to: &str) {
        for node in &mut self.nodes {
            for name in node.output.iter_mut().chain(node.input.iter_mut()) {
                if name == from {
                    *name = to.to_string();
                }
            }
        }
        self.names.insert(to.to_string());
    }

    fn unique(&self, base: &str) -> String {
        if !self.names.contains(base) {
            return base.to_string();
        }
        (1..)
            .map(|i| format!("{base}_{i}"))
            .find(|name| !self.names.contains(name))
            .unwrap_or_default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.iter().map(|&v| v as i64).collect(),
        ..Default::default()
    }
}

/// A float attribute.
pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

/// A string attribute.
pub fn attr_string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::String as i32),
        s: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// `data` as f32 values (the element type kiln's models hold).
pub(crate) fn f32_values(data: TensorData) -> Result<Vec<f32>, String> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}
