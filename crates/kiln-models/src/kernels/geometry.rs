//! The shape of one fused conv → batch-norm → (ReLU) → (max-pool 2×2) block.

/// Everything the fused kernels need to know about a block's shapes, NCHW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Output channels (convolution filters).
    pub out_channels: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride, both axes.
    pub stride: usize,
    /// Zero padding, both axes and both sides.
    pub padding: usize,
    /// ReLU after the batch norm.
    pub relu: bool,
    /// Max-pool 2×2 with stride 2 (floor) after the ReLU.
    pub pool: bool,
}

impl BlockGeometry {
    /// Convolution output `[height, width]`, or `None` when the kernel does not fit or the
    /// stride is 0.
    pub fn conv_size(&self) -> Option<[usize; 2]> {
        if self.stride == 0 {
            return None;
        }
        let out = |size: usize, kernel: usize| {
            (size + 2 * self.padding)
                .checked_sub(kernel)
                .map(|span| span / self.stride + 1)
        };
        Some([
            out(self.height, self.kernel[0])?,
            out(self.width, self.kernel[1])?,
        ])
    }

    /// Convolution output positions per channel (`conv_h · conv_w`).
    pub(crate) fn conv_positions(&self) -> usize {
        self.conv_size().map_or(0, |[h, w]| h * w)
    }

    /// Block output `[height, width]` (halved, floored, when pooling).
    pub fn output_size(&self) -> Option<[usize; 2]> {
        let [h, w] = self.conv_size()?;
        Some(if self.pool { [h / 2, w / 2] } else { [h, w] })
    }

    /// Block output positions per channel.
    pub(crate) fn output_positions(&self) -> usize {
        self.output_size().map_or(0, |[h, w]| h * w)
    }

    /// Rows of the im2col matrix: `in_channels · kernel_h · kernel_w`.
    pub(crate) fn patch_len(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Elements of one input image.
    pub(crate) fn image_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Whether the convolution reads each input pixel once, in place (1×1, stride 1, no
    /// padding), so im2col is the image itself.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == 1 && self.padding == 0
    }

    /// Whether the convolution is 3×3, stride 1 or 2, padding 1: the shapes the direct kernels
    /// take ([`super::direct3x3`]).
    pub(crate) fn is_direct_3x3(&self) -> bool {
        self.kernel == [3, 3] && matches!(self.stride, 1 | 2) && self.padding == 1
    }
}
