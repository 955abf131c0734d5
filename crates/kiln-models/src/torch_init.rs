//! torchvision's initialization for convolutions: Kaiming normal, fan-out, ReLU gain, no bias.

use burn::module::Initializer;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;

/// A bias-free `k`×`k` convolution initialized as torchvision's ResNets
/// (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`: std = √2 / √(out·k·k)).
pub(crate) fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Conv2dConfig {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
}
