//! A stage: residual blocks of one width, the first one strided (torchvision's `_make_layer`).

use burn::prelude::*;

use crate::blocks::{BlockKind, ResidualBlock, ResidualBlockConfig};
use crate::shortcut::ShortcutKind;

/// Configuration of one stage (`layer1` … `layer4` in torchvision).
#[derive(Config, Debug)]
pub struct StageConfig {
    /// Which block.
    pub kind: BlockKind,
    /// Input channels of the first block.
    pub in_channels: usize,
    /// Block width; the stage outputs `planes × expansion` channels.
    pub planes: usize,
    /// Number of blocks.
    pub blocks: usize,
    /// Stride of the first block.
    #[config(default = 1)]
    pub stride: usize,
    /// Shortcut used where shapes change.
    #[config(default = "ShortcutKind::Projection")]
    pub shortcut: ShortcutKind,
    /// Zero-initialize each block's last batch-norm γ.
    #[config(default = false)]
    pub zero_init_residual: bool,
}

impl StageConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.planes * self.kind.expansion()
    }

    /// Builds the stage's blocks on `device`.
    pub fn init(&self, device: &Device) -> Vec<ResidualBlock> {
        (0..self.blocks)
            .map(|i| {
                let (in_channels, stride) = match i {
                    0 => (self.in_channels, self.stride),
                    _ => (self.out_channels(), 1),
                };
                ResidualBlockConfig::new(self.kind, in_channels, self.planes)
                    .with_stride(stride)
                    .with_shortcut(self.shortcut)
                    .with_zero_init_residual(self.zero_init_residual)
                    .init(device)
            })
            .collect()
    }
}

/// Runs `x` through a stage's blocks.
///
/// # Shapes
/// - input: `[batch, in_channels, height, width]`
/// - output: `[batch, planes × expansion, ⌈height / stride⌉, ⌈width / stride⌉]`
pub fn forward_stage(blocks: &[ResidualBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}
