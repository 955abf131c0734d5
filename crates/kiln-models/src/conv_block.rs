//! Conv → BatchNorm → ReLU → MaxPool, the repeated unit of the reference CNN.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::onnx::{ExportError, OnnxGraph, ToOnnx};

/// Configuration of a [`ConvBlock`].
#[derive(Config, Debug)]
pub struct ConvBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Square kernel size (no padding: `valid` convolution).
    #[config(default = 3)]
    pub kernel_size: usize,
}

impl ConvBlockConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv2dConfig::new(
                [self.in_channels, self.out_channels],
                [self.kernel_size, self.kernel_size],
            )
            .with_padding(PaddingConfig2d::Valid)
            .init(device),
            norm: BatchNormConfig::new(self.out_channels).init(device),
            activation: Relu::new(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }
}

/// Conv2d (valid) → BatchNorm → ReLU → MaxPool 2×2.
#[derive(Module, Debug)]
pub struct ConvBlock {
    pub(crate) conv: Conv2d,
    norm: BatchNorm,
    activation: Relu,
    pool: MaxPool2d,
}

impl ConvBlock {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, (height - k + 1) / 2, (width - k + 1) / 2]`
    ///
    /// On Flex (f32) this is one fused operation ([`crate::kernels::conv_block`]); elsewhere,
    /// or with the fused kernels off, it is [`ConvBlock::forward_reference`].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        #[cfg(feature = "flex")]
        if let Some(output) = crate::kernels::conv_block(&self.conv, &self.norm, true, true, &x) {
            return output;
        }
        self.forward_reference(x)
    }

    /// The block as Burn's own layers, one after the other: the reference the fused kernel is
    /// tested against, and the path on every backend but Flex.
    ///
    /// # Shapes
    /// As [`ConvBlock::forward`].
    pub fn forward_reference(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv.forward(x);
        let x = crate::batch_norm(&self.norm, x);
        let x = self.activation.forward(x);
        self.pool.forward(x)
    }
}

/// Configuration of a [`ConvNormBlock`].
#[derive(Config, Debug)]
pub struct ConvNormBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Square kernel size.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Stride, both axes.
    #[config(default = 1)]
    pub stride: usize,
    /// Zero padding on every side (1 keeps a 3×3 convolution's size at stride 1).
    #[config(default = 1)]
    pub padding: usize,
    /// ReLU after the batch norm.
    #[config(default = true)]
    pub relu: bool,
    /// Max-pool 2×2, stride 2, after the ReLU.
    #[config(default = false)]
    pub pool: bool,
}

impl ConvNormBlockConfig {
    /// Builds the block on `device`: a bias-free convolution (the batch norm's shift replaces
    /// the bias) with torchvision's initialization, and a fresh batch norm.
    pub fn init(&self, device: &Device) -> ConvNormBlock {
        let (k, s, p) = (self.kernel_size, self.stride, self.padding);
        ConvNormBlock {
            conv: crate::torch_init::conv(self.in_channels, self.out_channels, k, s, p)
                .init(device),
            norm: BatchNormConfig::new(self.out_channels).init(device),
            activation: self.relu.then(Relu::new),
            pool: self
                .pool
                .then(|| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
        }
    }
}

/// Conv → BatchNorm → (ReLU) → (MaxPool 2×2): the building block for your own CNNs. On Flex
/// (f32) it runs as one fused operation, with the direct convolution kernels for 3×3 stride 1
/// padding 1 ([`crate::kernels::conv_block`]); on other backends as Burn's layers.
#[derive(Module, Debug)]
pub struct ConvNormBlock {
    pub(crate) conv: Conv2d,
    pub(crate) norm: BatchNorm,
    activation: Option<Relu>,
    pool: Option<MaxPool2d>,
}

impl ConvNormBlock {
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, conv_h, conv_w]`, halved (floor) with the pool, where
    ///   `conv_* = (size + 2·padding − kernel_size) / stride + 1`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        #[cfg(feature = "flex")]
        if let Some(output) = crate::kernels::conv_block(
            &self.conv,
            &self.norm,
            self.activation.is_some(),
            self.pool.is_some(),
            &x,
        ) {
            return output;
        }
        self.forward_reference(x)
    }

    /// The block as Burn's layers one after the other (the path on other backends).
    ///
    /// # Shapes
    /// As [`ConvNormBlock::forward`].
    pub fn forward_reference(&self, x: Tensor<4>) -> Tensor<4> {
        let x = crate::batch_norm(&self.norm, self.conv.forward(x));
        let x = match &self.activation {
            Some(relu) => relu.forward(x),
            None => x,
        };
        match &self.pool {
            Some(pool) => pool.forward(x),
            None => x,
        }
    }
}

impl ToOnnx for ConvNormBlock {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let relu = self.activation.is_some();
        let x = conv_bn_onnx(
            graph,
            ("conv", &self.conv),
            ("norm", &self.norm),
            relu,
            input,
        )?;
        match &self.pool {
            Some(pool) => graph.layer("pool", pool, &x),
            None => Ok(x),
        }
    }
}

/// `conv → norm → (ReLU)`, the unit of the ResNets: one fused operation on Flex
/// ([`crate::kernels::conv_block`]), Burn's layers elsewhere.
///
/// # Shapes
/// - input: `[batch, in_channels, height, width]`
/// - output: `[batch, out_channels, conv_h, conv_w]`
pub(crate) fn conv_bn(conv: &Conv2d, norm: &BatchNorm, with_relu: bool, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(output) = crate::kernels::conv_block(conv, norm, with_relu, false, &x) {
        return output;
    }
    let y = crate::batch_norm(norm, conv.forward(x));
    if with_relu { relu(y) } else { y }
}

/// `relu(norm(conv(x)) + residual)`, the end of a residual block: one fused operation on Flex
/// ([`crate::kernels::conv_block_add_relu`]), Burn's layers elsewhere.
///
/// # Shapes
/// - input: `[batch, in_channels, height, width]`
/// - residual and output: `[batch, out_channels, conv_h, conv_w]`
pub(crate) fn conv_bn_add_relu(
    conv: &Conv2d,
    norm: &BatchNorm,
    x: Tensor<4>,
    residual: Tensor<4>,
) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(output) = crate::kernels::conv_block_add_relu(conv, norm, &x, &residual) {
        return output;
    }
    relu(crate::batch_norm(norm, conv.forward(x)) + residual)
}

impl ToOnnx for ConvBlock {
    fn to_onnx(&self, graph: &mut OnnxGraph, input: &str) -> Result<String, ExportError> {
        let x = graph.layer("conv", &self.conv, input)?;
        let x = graph.layer("norm", &self.norm, &x)?;
        let x = graph.layer("activation", &self.activation, &x)?;
        graph.layer("pool", &self.pool, &x)
    }
}

/// `conv → bn → (ReLU)`, the ResNets' unit, under the fields' names.
pub(crate) fn conv_bn_onnx(
    graph: &mut OnnxGraph,
    (conv_name, conv): (&str, &Conv2d),
    (bn_name, bn): (&str, &BatchNorm),
    with_relu: bool,
    input: &str,
) -> Result<String, ExportError> {
    let x = graph.layer(conv_name, conv, input)?;
    let x = graph.layer(bn_name, bn, &x)?;
    Ok(if with_relu {
        graph.node("Relu", &[&x], vec![])
    } else {
        x
    })
}
