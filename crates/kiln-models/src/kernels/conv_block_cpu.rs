//! The fused conv → batch-norm → (ReLU) → (max-pool 2×2) block on f32 slices, NCHW.
//!
//! Why fused: Burn composes a training batch norm from generic reductions over a swapped-axes
//! copy of the activation, then ReLU and max-pool each take another pass with a fresh
//! allocation; for small CNNs those passes, not the convolution's arithmetic, dominate a CPU
//! step. Here each image's convolution is a direct 3×3 kernel ([`super::direct3x3`]) or one
//! im2col + `gemm`, statistics accumulate while the image is still in cache, and normalize +
//! ReLU + pool is one pass. The backward recomputes what it needs (the pool's argmax, the ReLU
//! mask, the patches or padded planes) from the saved convolution output instead of keeping
//! more activations.
//!
//! Work is split over rayon threads in contiguous runs of images with fixed boundaries, and
//! partial sums are reduced in run order, so results do not depend on scheduling.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::buffers;
use super::direct3x3::{self, Grid, Isa};
use super::geometry::BlockGeometry;
use super::matmul::{MatRef, matmul};
use super::patches::{col2im, im2col};
use super::pool_route::{Affine, RowPair, route_row_pair};
use super::simd::{lane_shifted_sums, lane_sum, lane_sum_and_centered_dot, multiversion};
use crate::replicas::moments::Moments;
use crate::replicas::{LayerLink, ReplicaNorm};

/// The block's forward in training mode.
pub struct TrainForward {
    /// `[batch, out_channels, out_h, out_w]`.
    pub output: Vec<f32>,
    /// The convolution output *without its bias*, `[batch, out_channels, conv_h, conv_w]`,
    /// kept for the backward. (A training batch norm subtracts the batch mean, so the bias
    /// cancels from the output; it only shifts [`TrainForward::mean`].)
    pub conv: Vec<f32>,
    /// Per-channel mean of [`TrainForward::conv`].
    pub conv_mean: Vec<f32>,
    /// Batch mean per channel of the batch norm's input (the convolution with its bias).
    pub mean: Vec<f32>,
    /// Biased batch variance per channel (Burn's `batch_norm_train` convention).
    pub variance: Vec<f32>,
    /// How many values per channel the statistics are over (every replica's, synchronized).
    pub count: f64,
}

/// Gradients of the block's inputs.
pub struct BlockGradients {
    /// `[batch, in_channels, height, width]`, when asked for.
    pub input: Option<Vec<f32>>,
    /// The residual's, `[batch, out_channels, conv_h, conv_w]`, when the block added one.
    pub residual: Option<Vec<f32>>,
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: Vec<f32>,
    /// `[out_channels]`.
    pub bias: Vec<f32>,
    /// `[out_channels]`.
    pub gamma: Vec<f32>,
    /// `[out_channels]`.
    pub beta: Vec<f32>,
}

/// The parameters of a block, as slices.
#[derive(Clone, Copy)]
pub struct BlockParams<'a> {
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: &'a [f32],
    /// `[out_channels]`.
    pub bias: &'a [f32],
    /// `[out_channels]`.
    pub gamma: &'a [f32],
    /// `[out_channels]`.
    pub beta: &'a [f32],
}

/// Images per rayon task: one contiguous run per thread.
fn images_per_task(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Per-channel `(Σ, Σ)` pairs of every run of images, added up in run order (so the result does
/// not depend on which thread finished first).
fn sum_runs(runs: &[Vec<(f64, f64)>], channels: usize) -> Vec<(f64, f64)> {
    (0..channels)
        .map(|c| {
            runs.iter()
                .fold((0.0, 0.0), |acc, run| (acc.0 + run[c].0, acc.1 + run[c].1))
        })
        .collect()
}

/// Output positions from which the direct kernels take a 3×3 layer: on smaller maps most of
/// their grid is padding, and grouped GEMM ([`GROUP_COLUMNS`]) is faster.
const DIRECT_MIN_POSITIONS: usize = 64;

/// GEMM columns a group of images gives at least: a layer with fewer output positions (a
/// ResNet's last stages on CIFAR-sized images: 16, 4, 1) convolves enough images at once that
/// its weights — up to 9 MiB for 512 → 512 channels — are read once a group, not once an
/// image. (Image by image, resnet18 on 3×32×32 trained at 0.23× PyTorch's speed.)
const GROUP_COLUMNS: usize = 64;

/// How a block's convolution is computed, chosen once per call from its geometry.
#[derive(Clone, Copy)]
enum Method {
    /// 3×3, stride 1 or 2, padding 1, at least [`DIRECT_MIN_POSITIONS`] outputs: the direct
    /// kernels on this grid (unless [`super::DIRECT_CONV_ENV`] turned them off).
    Direct(Grid),
    /// 1×1, stride 1, no padding: the image is its own patch matrix (when convolved alone).
    Pointwise,
    /// Anything else: im2col + GEMM.
    Patches,
}

impl Method {
    fn of(g: &BlockGeometry) -> Self {
        if g.is_direct_3x3()
            && g.conv_positions() >= DIRECT_MIN_POSITIONS
            && super::direct_conv_enabled()
        {
            Self::Direct(Grid::new(g.height, g.width, g.stride))
        } else if g.is_pointwise() {
            Self::Pointwise
        } else {
            Self::Patches
        }
    }

    /// Images [`convolve`] and [`convolve_backward`] take at once: the direct kernels one, GEMM
    /// enough for [`GROUP_COLUMNS`] columns.
    fn group(self, g: &BlockGeometry) -> usize {
        match self {
            Self::Direct(_) => 1,
            Self::Pointwise | Self::Patches => GROUP_COLUMNS.div_ceil(g.conv_positions().max(1)),
        }
    }

    /// Scratch values [`convolve`] needs for a group of images.
    fn forward_scratch_len(self, g: &BlockGeometry) -> usize {
        let columns = self.group(g) * g.conv_positions();
        match self {
            Self::Direct(grid) => grid.padded_len(g.in_channels) + grid.output_len(g.out_channels),
            _ if self.group(g) > 1 => (g.patch_len() + g.out_channels) * columns,
            Self::Pointwise => 0,
            Self::Patches => g.patch_len() * columns,
        }
    }

    /// Scratch values [`convolve_backward`] needs for a group of images.
    fn backward_scratch_len(self, g: &BlockGeometry) -> usize {
        match self {
            Self::Direct(grid) => {
                let input_gradient = match grid.stride() {
                    1 => grid.padded_len(g.out_channels) + grid.output_len(g.in_channels),
                    _ => grid.input_gradient_scratch_len(g.out_channels, g.in_channels),
                };
                grid.padded_len(g.in_channels)
                    + grid.transposed_len(g.out_channels)
                    + input_gradient
            }
            Self::Pointwise | Self::Patches => {
                (2 * g.patch_len() + g.out_channels) * self.group(g) * g.conv_positions()
            }
        }
    }

    /// The weights the backward needs besides the forward's: for the direct kernels' input
    /// gradient, the weights flipped and transposed (stride 1) or regrouped by phase (stride 2).
    fn backward_weights(
        self,
        g: &BlockGeometry,
        p: &BlockParams<'_>,
        input_grad: bool,
    ) -> Vec<f32> {
        match self {
            Self::Direct(grid) if input_grad && grid.stride() == 1 => {
                direct3x3::flip_transpose(p.weight, g.out_channels, g.in_channels)
            }
            Self::Direct(_) if input_grad => {
                direct3x3::phase_weights(p.weight, g.out_channels, g.in_channels)
            }
            _ => Vec::new(),
        }
    }

    /// Values of the weight gradient [`convolve_backward`] accumulates a run of images into.
    fn weight_accumulator_len(self, g: &BlockGeometry) -> usize {
        match self {
            Self::Direct(_) => direct3x3::accumulator_len(g.out_channels, g.in_channels),
            Self::Pointwise | Self::Patches => g.out_channels * g.patch_len(),
        }
    }

    /// Adds a run's accumulated weight gradient to `weight` (`[out_channels, patch_len]`).
    fn add_weight_accumulator(self, g: &BlockGeometry, acc: &[f32], weight: &mut [f32]) {
        match self {
            Self::Direct(_) => {
                direct3x3::add_accumulated(acc, g.out_channels, g.in_channels, weight);
            }
            Self::Pointwise | Self::Patches => {
                weight.iter_mut().zip(acc).for_each(|(w, a)| *w += a);
            }
        }
    }
}

/// `ys = weight ⊛ images` for a group of images (`[n, in_channels, height, width]`, `n` at
/// most [`Method::group`]; no bias: callers fold it into the batch norm); `ys` is `[n,
/// out_channels, positions]`, every value written and returned.
fn convolve<'y>(
    g: &BlockGeometry,
    method: Method,
    p: &BlockParams<'_>,
    images: &[f32],
    ys: &'y mut [MaybeUninit<f32>],
    scratch: &mut [f32],
) -> &'y mut [f32] {
    if let Method::Direct(grid) = method {
        return grid.unpad(direct_forward(g, grid, p, images, scratch), ys);
    }
    let (positions, count) = (g.conv_positions(), images.len() / g.image_len().max(1));
    let weight = MatRef::row_major(p.weight, g.out_channels, g.patch_len());
    let ys = buffers::zeroed(ys);
    if matches!(method, Method::Pointwise) && count == 1 {
        let patches = MatRef::row_major(images, g.patch_len(), positions);
        matmul(ys, false, weight, patches);
        return ys;
    }
    // The images' patch matrices side by side, one GEMM, its column blocks split back.
    let columns = count * positions;
    let (cols, grouped) = scratch.split_at_mut(g.patch_len() * columns);
    for (b, image) in images.chunks_exact(g.image_len()).enumerate() {
        im2col(g, image, &mut cols[b * positions..], columns);
    }
    let patches = MatRef::row_major(cols, g.patch_len(), columns);
    if count == 1 {
        matmul(ys, false, weight, patches);
    } else {
        let grouped = &mut grouped[..g.out_channels * columns];
        matmul(grouped, false, weight, patches);
        split_columns(grouped, ys, g.out_channels, positions);
    }
    ys
}

/// [`convolve`], adding each output channel's moments to `moments`. The direct kernels' planes
/// are measured one by one as they are copied out, while in L1.
fn convolve_with_moments(
    g: &BlockGeometry,
    method: Method,
    p: &BlockParams<'_>,
    images: &[f32],
    ys: &mut [MaybeUninit<f32>],
    scratch: &mut [f32],
    moments: &mut [Moments],
) {
    let positions = g.conv_positions();
    if let Method::Direct(grid) = method {
        // Every plane of `ys` is paired with one of the kernels' and one moment, so all of it
        // is written (the caller relies on that).
        assert!(
            ys.len() == g.out_channels * positions && moments.len() == g.out_channels,
            "kiln kernels: block buffers do not match the geometry"
        );
        let out = direct_forward(g, grid, p, images, scratch);
        let planes = out
            .chunks_exact(grid.positions())
            .zip(ys.chunks_exact_mut(positions))
            .zip(moments);
        for ((plane, y), m) in planes {
            let y = grid.unpad(plane, y);
            image_statistics(y, positions, std::slice::from_mut(m));
        }
        return;
    }
    let ys = convolve(g, method, p, images, ys, scratch);
    for y in ys.chunks_exact(g.out_channels * positions) {
        image_statistics(y, positions, moments);
    }
}

/// A grouped GEMM's `[channels, n · positions]` result as `ys`, `[n, channels, positions]`.
fn split_columns(grouped: &[f32], ys: &mut [f32], channels: usize, positions: usize) {
    let columns = grouped.len() / channels.max(1);
    for (b, y) in ys.chunks_exact_mut(channels * positions).enumerate() {
        for (k, row) in y.chunks_exact_mut(positions).enumerate() {
            row.copy_from_slice(&grouped[k * columns + b * positions..][..positions]);
        }
    }
}

/// `ys` (`[n, channels, positions]`) as the `[channels, n · positions]` matrix of a grouped
/// GEMM, the inverse of [`split_columns`].
fn join_columns(ys: &[f32], grouped: &mut [f32], channels: usize, positions: usize) {
    let columns = grouped.len() / channels.max(1);
    for (b, y) in ys.chunks_exact(channels * positions).enumerate() {
        for (k, row) in y.chunks_exact(positions).enumerate() {
            grouped[k * columns + b * positions..][..positions].copy_from_slice(row);
        }
    }
}

/// The direct kernels' convolution of one image, left on their grid in `scratch`
/// ([`Method::forward_scratch_len`]): the returned `[out_channels, grid positions]`.
fn direct_forward<'s>(
    g: &BlockGeometry,
    grid: Grid,
    p: &BlockParams<'_>,
    image: &[f32],
    scratch: &'s mut [f32],
) -> &'s [f32] {
    let (padded, out) = scratch.split_at_mut(grid.padded_len(g.in_channels));
    grid.pad(image, padded);
    let forward = direct3x3::Forward {
        grid,
        padded,
        in_channels: g.in_channels,
        weight: p.weight,
        out_channels: g.out_channels,
    };
    direct3x3::forward(Isa::best(), &forward, out);
    &out[..grid.output_len(g.out_channels)]
}

/// [`convolve`] for a reader that takes the outputs through a [`Layout`]: the direct kernels'
/// grid stays where they wrote it instead of being copied out into `y` (room for a group).
fn convolve_laid_out<'s>(
    g: &BlockGeometry,
    method: Method,
    p: &BlockParams<'_>,
    images: &[f32],
    y: &'s mut [MaybeUninit<f32>],
    scratch: &'s mut [f32],
) -> (&'s [f32], Layout) {
    if let Method::Direct(grid) = method {
        let layout = Layout {
            plane: grid.positions(),
            row: grid.row(),
        };
        return (direct_forward(g, grid, p, images, scratch), layout);
    }
    let count = images.len() / g.image_len().max(1);
    let ys = &mut y[..count * g.out_channels * g.conv_positions()];
    (
        convolve(g, method, p, images, ys, scratch),
        Layout::dense(g),
    )
}

/// What [`convolve_backward`] reads for a group of images besides its buffers.
struct BackwardInputs<'a> {
    params: &'a BlockParams<'a>,
    /// [`Method::backward_weights`].
    input_weights: &'a [f32],
    /// The block's input images, `[n, in_channels, height, width]` (`n` at most
    /// [`Method::group`]).
    image: &'a [f32],
    /// The convolution output's gradient, `[n, out_channels, positions]`.
    dy: &'a [f32],
}

/// The convolution's backward for a group of images: adds `dy ⊛ image` to the weight
/// accumulator ([`Method::weight_accumulator_len`]) and, with `input`, writes the input
/// gradient there (every value).
fn convolve_backward(
    g: &BlockGeometry,
    method: Method,
    b: &BackwardInputs<'_>,
    weight: &mut [f32],
    input: Option<&mut [MaybeUninit<f32>]>,
    scratch: &mut [f32],
) {
    let (channels, positions) = (g.out_channels, g.conv_positions());
    let (image, dy) = (b.image, b.dy);
    match method {
        Method::Direct(grid) => {
            let (padded, rest) = scratch.split_at_mut(grid.padded_len(g.in_channels));
            let (transposed, rest) = rest.split_at_mut(grid.transposed_len(channels));
            grid.pad(image, padded);
            grid.transpose(dy, channels, transposed);
            let gradient = direct3x3::WeightGradient {
                grid,
                grad: transposed,
                out_channels: channels,
                padded,
                in_channels: g.in_channels,
            };
            direct3x3::weight_gradient(Isa::best(), &gradient, weight);
            let Some(input) = input else { return };
            if grid.stride() == 1 {
                let (grad, out) = rest.split_at_mut(grid.padded_len(channels));
                grid.pad(dy, grad);
                let adjoint = direct3x3::Forward {
                    grid,
                    padded: grad,
                    in_channels: channels,
                    weight: b.input_weights,
                    out_channels: g.in_channels,
                };
                direct3x3::forward(Isa::best(), &adjoint, out);
                grid.unpad(out, input);
            } else {
                let gradient = direct3x3::InputGradient {
                    grid,
                    grad: dy,
                    out_channels: channels,
                    weights: b.input_weights,
                    in_channels: g.in_channels,
                };
                direct3x3::input_gradient_stride2(Isa::best(), &gradient, rest, input);
            }
            return;
        }
        Method::Pointwise | Method::Patches => {}
    }
    let count = image.len() / g.image_len().max(1);
    if matches!(method, Method::Pointwise) && count == 1 {
        // The image is its own patch matrix.
        let dy = MatRef::row_major(dy, channels, positions);
        let patches = MatRef::row_major(image, g.patch_len(), positions);
        matmul(weight, true, dy, patches.t());
        if let Some(input) = input {
            let w = MatRef::row_major(b.params.weight, channels, g.patch_len()).t();
            matmul(buffers::zeroed(input), false, w, dy);
        }
        return;
    }
    // The images' patch matrices side by side and their output gradients likewise: one GEMM
    // for the weights, one for the patches' gradients, which col2im adds back image by image.
    let columns = count * positions;
    let (cols, rest) = scratch.split_at_mut(g.patch_len() * columns);
    let (grouped, rest) = rest.split_at_mut(channels * columns);
    for (n, image) in image.chunks_exact(g.image_len()).enumerate() {
        im2col(g, image, &mut cols[n * positions..], columns);
    }
    let dy = match count {
        1 => dy,
        _ => {
            join_columns(dy, grouped, channels, positions);
            &*grouped
        }
    };
    let dy = MatRef::row_major(dy, channels, columns);
    matmul(
        weight,
        true,
        dy,
        MatRef::row_major(cols, g.patch_len(), columns).t(),
    );
    if let Some(input) = input {
        input_gradient_by_patches(g, b.params.weight, dy, rest, buffers::zeroed(input));
    }
}

/// The input gradient of a group of images through their patch matrices: `Wᵀ · dy` into
/// `scratch` (`[patch_len, n · positions]`, `dy` being `[out_channels, n · positions]`), added
/// back onto each image's (zeroed) `input` by col2im.
fn input_gradient_by_patches(
    g: &BlockGeometry,
    weight: &[f32],
    dy: MatRef<'_>,
    scratch: &mut [f32],
    input: &mut [f32],
) {
    let columns = dy.cols;
    let grad_cols = &mut scratch[..g.patch_len() * columns];
    let w = MatRef::row_major(weight, g.out_channels, g.patch_len()).t();
    matmul(grad_cols, false, w, dy);
    let positions = g.conv_positions();
    for (n, input) in input.chunks_exact_mut(g.image_len()).enumerate() {
        col2im(g, &grad_cols[n * positions..], input, columns);
    }
}

/// The moments of `row`, from sums shifted by its first value.
#[inline(always)]
fn moments_of(row: &[f32]) -> Moments {
    let Some(&shift) = row.first() else {
        return Moments::default();
    };
    let (s, q) = lane_shifted_sums(row, shift);
    let count = row.len() as f64;
    let offset = s / count;
    Moments {
        count,
        mean: f64::from(shift) + offset,
        m2: (q - s * offset).max(0.0),
    }
}

/// Merges each channel's moments of one image's convolution output (`[channels, positions]`)
/// into `moments`.
#[inline(always)]
fn image_statistics_body(y: &[f32], positions: usize, moments: &mut [Moments]) {
    for (m, row) in moments.iter_mut().zip(y.chunks_exact(positions)) {
        *m = m.merge(moments_of(row));
    }
}

multiversion!(fn image_statistics(y: &[f32], positions: usize, moments: &mut [Moments]) => image_statistics_body);

/// Per-channel `scale = γ / √(var + ε)` and `shift = β − mean · scale`.
fn fold(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
) -> Vec<[f32; 2]> {
    gamma
        .iter()
        .zip(beta)
        .zip(mean.iter().zip(variance))
        .map(|((&gamma, &beta), (&mean, &var))| {
            let scale = f64::from(gamma) / (f64::from(var) + epsilon).sqrt();
            [
                scale as f32,
                (f64::from(beta) - f64::from(mean) * scale) as f32,
            ]
        })
        .collect()
}

/// The ReLU as a lower bound: 0, or −∞ without ReLU (so `max` is branch-free).
fn floor(g: &BlockGeometry) -> f32 {
    if g.relu { 0.0 } else { f32::NEG_INFINITY }
}

/// Where one image's convolution output lies in its buffer: planes of `plane` values, a row
/// every `row` values (the first `conv_w` of them used) — dense, or the direct kernels' grid.
#[derive(Clone, Copy)]
struct Layout {
    plane: usize,
    row: usize,
}

impl Layout {
    /// `[channels, conv_h, conv_w]`.
    fn dense(g: &BlockGeometry) -> Self {
        let [_, conv_w] = g.conv_size().unwrap_or([0, 0]);
        Self {
            plane: g.conv_positions(),
            row: conv_w,
        }
    }
}

/// Normalize (per-channel affine), add the residual, ReLU and pool one image: `y` (`[channels,
/// conv_h, conv_w]` laid out as `layout` says, and `residual`, dense, only without pooling)
/// into `out` `[channels, output positions]`, every value of which is written.
#[inline(always)]
fn activate_body(
    g: &BlockGeometry,
    affine: &[[f32; 2]],
    y: &[f32],
    layout: Layout,
    residual: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let [_, conv_w] = g.conv_size().unwrap_or([0, 0]);
    let [_, out_w] = g.output_size().unwrap_or([0, 0]);
    let floor = floor(g);
    fn row(plane: &[f32], layout: Layout, conv_w: usize, h: usize) -> &[f32] {
        &plane[h * layout.row..][..conv_w]
    }
    let planes = y
        .chunks_exact(layout.plane)
        .zip(out.chunks_exact_mut(g.output_positions()))
        .zip(affine);
    for (c, ((plane, out), &[scale, shift])) in planes.enumerate() {
        if let Some(residual) = residual {
            let residual = &residual[c * g.conv_positions()..(c + 1) * g.conv_positions()];
            let rows = out
                .chunks_exact_mut(conv_w)
                .zip(residual.chunks_exact(conv_w));
            for (h, (out, residual)) in rows.enumerate() {
                for ((value, &y), &r) in out
                    .iter_mut()
                    .zip(row(plane, layout, conv_w, h))
                    .zip(residual)
                {
                    value.write((y * scale + shift + r).max(floor));
                }
            }
        } else if g.pool {
            // Rows 2i and 2i + 1 of the plane pool into output row i (a trailing odd row and
            // column are dropped, as floor-mode pooling does).
            for (i, out_row) in out.chunks_exact_mut(out_w).enumerate() {
                let top = row(plane, layout, conv_w, 2 * i).as_chunks::<2>().0;
                let bottom = row(plane, layout, conv_w, 2 * i + 1).as_chunks::<2>().0;
                for ((value, a), b) in out_row.iter_mut().zip(top).zip(bottom) {
                    let upper = (a[0] * scale + shift).max(a[1] * scale + shift);
                    let lower = (b[0] * scale + shift).max(b[1] * scale + shift);
                    value.write(upper.max(lower).max(floor));
                }
            }
        } else {
            for (h, out) in out.chunks_exact_mut(conv_w).enumerate() {
                for (value, &y) in out.iter_mut().zip(row(plane, layout, conv_w, h)) {
                    value.write((y * scale + shift).max(floor));
                }
            }
        }
    }
}

multiversion!(fn activate(
    g: &BlockGeometry,
    affine: &[[f32; 2]],
    y: &[f32],
    layout: Layout,
    residual: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) => activate_body);

/// The `n`-th run of `per_run` values of `residual`, if there is one.
/// `buffer`, when there is one, as `runs` runs of `per_run` values (the last may be shorter);
/// `runs` times `None` otherwise.
fn runs_of(
    buffer: Option<&mut [MaybeUninit<f32>]>,
    per_run: usize,
    runs: usize,
) -> Vec<Option<&mut [MaybeUninit<f32>]>> {
    match buffer {
        Some(buffer) => buffer.chunks_mut(per_run).map(Some).collect(),
        None => (0..runs).map(|_| None).collect(),
    }
}

fn run_of(residual: Option<&[f32]>, per_run: usize, n: usize) -> Option<&[f32]> {
    residual.map(|r| &r[n * per_run..((n + 1) * per_run).min(r.len())])
}

/// Training forward: batch statistics, then normalize (+ residual) + ReLU + pool with them.
/// Inside a replica whose batch norm is synchronized (`link`), the statistics are the whole
/// batch's, merged with the other replicas'.
///
/// `x` is `[batch, in_channels, height, width]`, `residual` (added after the batch norm, before
/// the ReLU; never with a pool) `[batch, out_channels, conv_h, conv_w]`; the geometry must match
/// every slice.
pub fn forward_train(
    g: &BlockGeometry,
    x: &[f32],
    residual: Option<&[f32]>,
    p: &BlockParams<'_>,
    epsilon: f64,
    link: Option<&LayerLink>,
) -> TrainForward {
    let (channels, positions) = (g.out_channels, g.conv_positions());
    let per_task = images_per_task(g.batch);
    let method = Method::of(g);
    let image = channels * positions;
    let mut partials: Vec<Vec<Moments>> = Vec::new();
    let convolve_runs = |conv: &mut [MaybeUninit<f32>]| {
        partials = conv
            .par_chunks_mut(per_task * image)
            .zip(x.par_chunks(per_task * g.image_len()))
            .map(|(y, images)| {
                let mut cols = buffers::take(method.forward_scratch_len(g));
                let mut moments = vec![Moments::default(); channels];
                let group = method.group(g);
                for (ys, images) in y
                    .chunks_mut(group * image)
                    .zip(images.chunks(group * g.image_len()))
                {
                    convolve_with_moments(g, method, p, images, ys, &mut cols, &mut moments);
                }
                buffers::give(cols);
                moments
            })
            .collect();
    };
    assert!(
        x.len() == g.batch * g.image_len(),
        "kiln kernels: block buffers do not match the geometry"
    );
    // SAFETY: the runs pair every image of `x` (asserted: `batch` of them) with its output
    // planes, and `convolve_with_moments` writes every value of a group's outputs.
    let conv = unsafe { buffers::written(g.batch * image, convolve_runs) };
    let local: Vec<Moments> = (0..channels)
        .map(|c| {
            partials
                .iter()
                .fold(Moments::default(), |acc, run| acc.merge(run[c]))
        })
        .collect();
    let moments = match link {
        Some(link) if link.norm() == ReplicaNorm::Synchronized => link.merge_moments(&local),
        _ => local,
    };
    let count = moments.first().map_or(0.0, |m| m.count);
    let (conv_mean, variance): (Vec<f32>, Vec<f32>) = moments
        .iter()
        .map(|m| (m.mean as f32, m.biased_variance() as f32))
        .unzip();
    let affine = fold(p.gamma, p.beta, &conv_mean, &variance, epsilon);
    let output = activate_batch(g, &affine, &conv, residual);
    let mean = conv_mean
        .iter()
        .zip(p.bias)
        .map(|(&m, &b)| (f64::from(m) + f64::from(b)) as f32)
        .collect();
    TrainForward {
        output,
        conv,
        conv_mean,
        mean,
        variance,
        count,
    }
}

/// [`activate`] over the whole batch, in parallel.
fn activate_batch(
    g: &BlockGeometry,
    affine: &[[f32; 2]],
    conv: &[f32],
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let (channels, per_task) = (g.out_channels, images_per_task(g.batch));
    let (image_in, image_out) = (
        channels * g.conv_positions(),
        channels * g.output_positions(),
    );
    let activate_runs = |output: &mut [MaybeUninit<f32>]| {
        output
            .par_chunks_mut(per_task * image_out)
            .zip(conv.par_chunks(per_task * image_in))
            .enumerate()
            .for_each(|(run, (out, y))| {
                let residual = run_of(residual, per_task * image_in, run);
                for (n, (out, y)) in out
                    .chunks_exact_mut(image_out)
                    .zip(y.chunks_exact(image_in))
                    .enumerate()
                {
                    activate(
                        g,
                        affine,
                        y,
                        Layout::dense(g),
                        run_of(residual, image_in, n),
                        out,
                    );
                }
            });
    };
    assert!(
        conv.len() == g.batch * image_in && residual.is_none_or(|r| r.len() == g.batch * image_out),
        "kiln kernels: block buffers do not match the geometry"
    );
    // SAFETY: the runs of images cover the output (asserted above), and `activate` writes
    // every value of its image.
    unsafe { buffers::written(g.batch * image_out, activate_runs) }
}

/// Inference forward: the batch norm uses the running statistics, so each image is
/// convolved, normalized, activated and pooled while in cache, with no batch-sized buffer.
pub fn forward_infer(
    g: &BlockGeometry,
    x: &[f32],
    residual: Option<&[f32]>,
    p: &BlockParams<'_>,
    running_mean: &[f32],
    running_var: &[f32],
    epsilon: f64,
) -> Vec<f32> {
    let (channels, positions) = (g.out_channels, g.conv_positions());
    let per_task = images_per_task(g.batch);
    let method = Method::of(g);
    // The convolution runs without its bias, so the bias moves into the mean it is compared to.
    let mean: Vec<f32> = running_mean
        .iter()
        .zip(p.bias)
        .map(|(&m, &b)| (f64::from(m) - f64::from(b)) as f32)
        .collect();
    let affine = fold(p.gamma, p.beta, &mean, running_var, epsilon);
    let image_out = channels * g.output_positions();
    let output_len = g.batch * image_out;
    let convolve_runs = |output: &mut [MaybeUninit<f32>]| {
        output
            .par_chunks_mut(per_task * image_out)
            .zip(x.par_chunks(per_task * g.image_len()))
            .enumerate()
            .for_each(|(run, (out, images))| {
                let residual = run_of(residual, per_task * image_out, run);
                let mut cols = buffers::take(method.forward_scratch_len(g));
                let group = method.group(g);
                // (Only GEMM's outputs land here; the direct kernels' stay on their grid.)
                let mut y = Vec::with_capacity(group * channels * positions);
                let groups = out
                    .chunks_mut(group * image_out)
                    .zip(images.chunks(group * g.image_len()));
                for (i, (outs, images)) in groups.enumerate() {
                    let y = y.spare_capacity_mut();
                    let (ys, layout) = convolve_laid_out(g, method, p, images, y, &mut cols);
                    let per_image = channels * layout.plane;
                    for (b, out) in outs.chunks_exact_mut(image_out).enumerate() {
                        let y = &ys[b * per_image..(b + 1) * per_image];
                        let residual = run_of(residual, image_out, i * group + b);
                        activate(g, &affine, y, layout, residual, out);
                    }
                }
                buffers::give(cols);
            });
    };
    assert!(
        x.len() == g.batch * g.image_len() && residual.is_none_or(|r| r.len() == output_len),
        "kiln kernels: block buffers do not match the geometry"
    );
    // SAFETY: the runs of images cover the output (asserted above), and `activate` writes
    // every value of its image.
    unsafe { buffers::written(output_len, convolve_runs) }
}

/// What the training forward saved, for [`backward`].
#[derive(Clone, Copy)]
pub struct Saved<'a> {
    /// The block's input.
    pub x: &'a [f32],
    /// [`TrainForward::conv`].
    pub conv: &'a [f32],
    /// [`TrainForward::conv_mean`].
    pub mean: &'a [f32],
    /// [`TrainForward::variance`].
    pub variance: &'a [f32],
    /// [`TrainForward::count`].
    pub count: f64,
    /// The residual the forward added, if any.
    pub residual: Option<&'a [f32]>,
    /// The replica's link the forward merged its statistics through, if any.
    pub link: Option<&'a LayerLink>,
}

/// Per-channel values [`route`] needs.
struct RouteStats<'a> {
    affine: &'a [[f32; 2]],
    mean: &'a [f32],
    inv_std: &'a [f32],
}

/// One image of the backward's first step: the output gradient `grad` goes to the pooling
/// window's maximum (first one on ties, as Burn's max-pool) if the ReLU let it through (the
/// ReLU of the normalized value plus `residual`, when the block added one), into `dz`
/// (`[channels, conv positions]`, any contents on entry); `sums`, if given, gains Σdz and
/// Σdz·x̂ per channel.
#[inline(always)]
fn route_body(
    g: &BlockGeometry,
    stats: &RouteStats<'_>,
    y: &[f32],
    residual: Option<&[f32]>,
    grad: &[f32],
    dz: &mut [f32],
    mut sums: Option<&mut [(f64, f64)]>,
) {
    let (positions, outputs) = (g.conv_positions(), g.output_positions());
    let [_, conv_w] = g.conv_size().unwrap_or([0, 0]);
    let [_, out_w] = g.output_size().unwrap_or([0, 0]);
    let floor = floor(g);
    let planes = dz
        .chunks_exact_mut(positions)
        .zip(y.chunks_exact(positions))
        .zip(grad.chunks_exact(outputs));
    for (c, ((dz, y), grad)) in planes.enumerate() {
        let [scale, shift] = stats.affine[c];
        if g.pool {
            let affine = Affine {
                scale,
                shift,
                floor,
            };
            // `dz` arrives with unspecified contents: a trailing odd row and column are outside
            // every window, so they get 0 here.
            let [conv_h, _] = g.conv_size().unwrap_or([0, 0]);
            dz[(conv_h / 2) * 2 * conv_w..].fill(0.0);
            if conv_w % 2 == 1 {
                dz.iter_mut()
                    .skip(conv_w - 1)
                    .step_by(conv_w)
                    .for_each(|v| *v = 0.0);
            }
            let rows = dz
                .chunks_exact_mut(2 * conv_w)
                .zip(y.chunks_exact(2 * conv_w))
                .zip(grad.chunks_exact(out_w));
            for ((dz_rows, y_rows), grad) in rows {
                let (dz_top, dz_bottom) = dz_rows.split_at_mut(conv_w);
                let (top, bottom) = y_rows.split_at(conv_w);
                let rows = RowPair {
                    top,
                    bottom,
                    grad,
                    dz_top,
                    dz_bottom,
                };
                route_row_pair(rows, affine);
            }
        } else if let Some(residual) = residual {
            let residual = &residual[c * positions..(c + 1) * positions];
            for (((dz, &grad), &y), &r) in dz.iter_mut().zip(grad).zip(y).zip(residual) {
                *dz = if y * scale + shift + r > floor {
                    grad
                } else {
                    0.0
                };
            }
        } else {
            for ((dz, &grad), &y) in dz.iter_mut().zip(grad).zip(y.iter()) {
                *dz = if y * scale + shift > floor { grad } else { 0.0 };
            }
        }
        if let Some(sums) = sums.as_deref_mut() {
            let (sum, centered) = lane_sum_and_centered_dot(dz, y, stats.mean[c]);
            sums[c].0 += sum;
            sums[c].1 += centered * f64::from(stats.inv_std[c]);
        }
    }
}

multiversion!(fn route(
    g: &BlockGeometry,
    stats: &RouteStats<'_>,
    y: &[f32],
    residual: Option<&[f32]>,
    grad: &[f32],
    dz: &mut [f32],
    sums: Option<&mut [(f64, f64)]>,
) => route_body);

/// Where [`normalize_backward`] finds an image's routed gradient `dz`.
#[derive(Clone, Copy)]
enum Routed<'a> {
    /// Already in the output (routed there through a pool).
    InPlace,
    /// Kept by the first pass (a residual block's end: the shortcut's gradient).
    Kept(&'a [f32]),
    /// The output gradient, to route through the ReLU here (`y · scale + shift > floor`, as
    /// [`route`] does).
    Activation(&'a [f32]),
}

/// One image of the batch norm's backward into `dy`: `dy = γ/σ · (dz − mean(dz) − x̂ ·
/// mean(dz·x̂))` per channel (`coefficients[c] = [γ/σ, mean(dz), mean(dz·x̂), μ]`), `dz` taken
/// as `routed` says; adds Σdy per channel to `bias`.
#[inline(always)]
fn normalize_backward_body(
    g: &BlockGeometry,
    stats: &RouteStats<'_>,
    coefficients: &[[f32; 4]],
    y: &[f32],
    routed: Routed<'_>,
    dy: &mut [f32],
    bias: &mut [f64],
) {
    let (positions, floor) = (g.conv_positions(), floor(g));
    for (c, (dy, y)) in dy
        .chunks_exact_mut(positions)
        .zip(y.chunks_exact(positions))
        .enumerate()
    {
        let [k, mean_dz, mean_dzx, mean] = coefficients[c];
        let slope = stats.inv_std[c] * mean_dzx;
        let plane = c * positions..(c + 1) * positions;
        let normalized = |dz: f32, y: f32| k * (dz - mean_dz - (y - mean) * slope);
        match routed {
            Routed::InPlace => {
                for (d, &y) in dy.iter_mut().zip(y) {
                    *d = normalized(*d, y);
                }
            }
            Routed::Kept(kept) => {
                for ((d, &y), &dz) in dy.iter_mut().zip(y).zip(&kept[plane]) {
                    *d = normalized(dz, y);
                }
            }
            Routed::Activation(grad) => {
                let [scale, shift] = stats.affine[c];
                for ((d, &y), &grad) in dy.iter_mut().zip(y).zip(&grad[plane]) {
                    let dz = if y * scale + shift > floor { grad } else { 0.0 };
                    *d = normalized(dz, y);
                }
            }
        }
        bias[c] += lane_sum(dy);
    }
}

multiversion!(fn normalize_backward(
    g: &BlockGeometry,
    stats: &RouteStats<'_>,
    coefficients: &[[f32; 4]],
    y: &[f32],
    routed: Routed<'_>,
    dy: &mut [f32],
    bias: &mut [f64],
) => normalize_backward_body);

/// Gradients of the training forward, given `grad_output` (`[batch, out_channels, out_h,
/// out_w]`). The input's gradient is computed only when `input_grad` is set.
// Longer than kiln's ~100-line guide on purpose: it is the numbered passes of one backward
// (route the gradient through pool and ReLU, batch-norm backward, the convolution's weight,
// bias and input gradients) over buffers each pass hands to the next; each pass's inner loop
// is already a function of its own.
pub fn backward(
    g: &BlockGeometry,
    p: &BlockParams<'_>,
    saved: &Saved<'_>,
    epsilon: f64,
    grad_output: &[f32],
    input_grad: bool,
) -> BlockGradients {
    let (channels, positions, outputs) = (g.out_channels, g.conv_positions(), g.output_positions());
    let per_task = images_per_task(g.batch);
    let affine = fold(p.gamma, p.beta, saved.mean, saved.variance, epsilon);
    let inv_std: Vec<f32> = saved
        .variance
        .iter()
        .map(|&v| (1.0 / (f64::from(v) + epsilon).sqrt()) as f32)
        .collect();

    // 1. Route the output gradient back through pool and ReLU to the normalized values (dz),
    //    one image at a time into a scratch plane, for the sums Σdz and Σdz·x̂ per channel
    //    (dz is routed again in step 2 rather than written out and read back: a batch-sized
    //    buffer written and read costs more than the routing).
    let stats = RouteStats {
        affine: &affine,
        mean: saved.mean,
        inv_std: &inv_std,
    };
    let image = channels * positions;
    assert!(
        saved.conv.len() == g.batch * image
            && saved.x.len() == g.batch * g.image_len()
            && grad_output.len() == g.batch * channels * outputs
            && saved.residual.is_none_or(|r| r.len() == g.batch * image),
        "kiln kernels: block buffers do not match the geometry"
    );
    let runs = g.batch.div_ceil(per_task);
    // Pass 1: the routed gradient's sums, for the normalization's backward. With a residual,
    // the routed gradient is also the residual's gradient: kept, so that pass 2 reads it instead
    // of routing the output gradient, the convolution and the residual again.
    let mut partials: Vec<Vec<(f64, f64)>> = Vec::new();
    let first_pass = |kept: Option<&mut [MaybeUninit<f32>]>| {
        partials = saved
            .conv
            .par_chunks(per_task * image)
            .zip(grad_output.par_chunks(per_task * channels * outputs))
            .zip(runs_of(kept, per_task * image, runs))
            .enumerate()
            .map(|(run, ((conv, grad), mut kept))| {
                let mut sums = vec![(0.0, 0.0); channels];
                let mut dz = buffers::take(image);
                let added = run_of(saved.residual, per_task * image, run);
                let images = conv
                    .chunks_exact(image)
                    .zip(grad.chunks_exact(channels * outputs))
                    .enumerate();
                for (n, (y, grad)) in images {
                    let residual = run_of(added, image, n);
                    route(g, &stats, y, residual, grad, &mut dz, Some(&mut sums));
                    if let Some(kept) = kept.as_deref_mut() {
                        let slots = &mut kept[n * image..(n + 1) * image];
                        slots
                            .iter_mut()
                            .zip(&dz)
                            .for_each(|(slot, &v)| _ = slot.write(v));
                    }
                }
                buffers::give(dz);
                sums
            })
            .collect();
    };
    // SAFETY: the runs of images cover the batch (the lengths were asserted above), and every
    // image writes its whole slice of the residual's gradient.
    let residual =
        unsafe { buffers::written_if(saved.residual.map(|_| g.batch * image), first_pass) };
    let totals = sum_runs(&partials, channels);
    let beta = totals.iter().map(|t| t.0 as f32).collect();
    let gamma = totals.iter().map(|t| t.1 as f32).collect();
    // Synchronized, the input gradient needs the sums over every replica's shard (γ's and β's
    // gradients stay this shard's: the trainer sums the replicas' parameter gradients).
    let totals = match saved.link {
        Some(link) if link.norm() == ReplicaNorm::Synchronized => link.sum_pairs(&totals),
        _ => totals,
    };

    // 2. Per image: dz again (the residual's gradient, when the block added one), the batch
    //    norm's backward into dy (in place), then the convolution's gradients.
    let count = saved.count as f32;
    let coefficients: Vec<[f32; 4]> = (0..channels)
        .map(|c| {
            [
                p.gamma[c] * inv_std[c],
                totals[c].0 as f32 / count,
                totals[c].1 as f32 / count,
                saved.mean[c],
            ]
        })
        .collect();
    let weight_len = channels * g.patch_len();
    // Pass 2, run by run: the batch-norm backward, then the convolution's weight gradient and
    // (when asked for) the input gradient, written in place.
    let method = Method::of(g);
    let input_weights = method.backward_weights(g, p, input_grad);
    let mut parts: Vec<(Vec<f32>, Vec<f64>)> = Vec::new();
    let gradients = |input: Option<&mut [MaybeUninit<f32>]>| {
        parts = saved
            .conv
            .par_chunks(per_task * image)
            .zip(grad_output.par_chunks(per_task * channels * outputs))
            .zip(saved.x.par_chunks(per_task * g.image_len()))
            .zip(runs_of(input, per_task * g.image_len(), runs))
            .enumerate()
            .map(|(run, (((conv, grad), images), mut input))| {
                let mut weight = vec![0.0; method.weight_accumulator_len(g)];
                let mut bias = vec![0.0f64; channels];
                let mut scratch = buffers::take(method.backward_scratch_len(g));
                let group = method.group(g);
                let mut dys = buffers::take(group * image);
                let routed = run_of(residual.as_deref(), per_task * image, run);
                let groups = conv
                    .chunks(group * image)
                    .zip(grad.chunks(group * channels * outputs))
                    .zip(images.chunks(group * g.image_len()))
                    .enumerate();
                for (i, ((ys, grads), images)) in groups {
                    let count = images.len() / g.image_len();
                    let dys = &mut dys[..count * image];
                    let each = ys
                        .chunks_exact(image)
                        .zip(grads.chunks_exact(channels * outputs))
                        .zip(dys.chunks_exact_mut(image))
                        .enumerate();
                    for (b, ((y, grad), dy)) in each {
                        let n = i * group + b;
                        // Routing and normalization in one pass where there is no pool.
                        let routed = match run_of(routed, image, n) {
                            Some(kept) => Routed::Kept(kept),
                            None if !g.pool => Routed::Activation(grad),
                            None => {
                                route(g, &stats, y, None, grad, dy, None);
                                Routed::InPlace
                            }
                        };
                        normalize_backward(g, &stats, &coefficients, y, routed, dy, &mut bias);
                    }
                    let inputs = BackwardInputs {
                        params: p,
                        input_weights: &input_weights,
                        image: images,
                        dy: dys,
                    };
                    let start = i * group * g.image_len();
                    let input = input
                        .as_deref_mut()
                        .map(|run| &mut run[start..][..images.len()]);
                    convolve_backward(g, method, &inputs, &mut weight, input, &mut scratch);
                }
                buffers::give(dys);
                buffers::give(scratch);
                (weight, bias)
            })
            .collect();
    };
    // SAFETY: the runs of images cover the batch (the lengths were asserted above), and
    // `convolve_backward` writes every value of a group's input gradient.
    let input =
        unsafe { buffers::written_if(input_grad.then_some(g.batch * g.image_len()), gradients) };

    let mut weight = vec![0.0; weight_len];
    let mut bias = vec![0.0f64; channels];
    for (w, b) in parts {
        method.add_weight_accumulator(g, &w, &mut weight);
        bias.iter_mut().zip(&b).for_each(|(acc, v)| *acc += v);
    }
    BlockGradients {
        input,
        residual,
        weight,
        bias: bias.into_iter().map(|b| b as f32).collect(),
        gamma,
        beta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A convolution output whose mean (~2,700) is ten thousand times its spread: the batch mean
    /// and variance equal a two-pass f64 reference on the same output. (The earlier one-pass
    /// `E[y²] − E[y]²` from f32 lanes missed the variance here by orders of magnitude.)
    #[test]
    fn batch_statistics_are_exact_for_a_large_mean() {
        let g = BlockGeometry {
            batch: 4,
            in_channels: 3,
            height: 12,
            width: 12,
            out_channels: 6,
            kernel: [3, 3],
            stride: 1,
            padding: 0,
            relu: true,
            pool: false,
        };
        // Inputs 1000 ± 1, weights in [0, 0.2]: every output is ~1000 × Σ w.
        let x: Vec<f32> = (0..g.batch * g.image_len())
            .map(|i| 1000.0 + ((i * 7919 % 2000) as f32 / 1000.0 - 1.0))
            .collect();
        let weight: Vec<f32> = (0..6 * 3 * 9)
            .map(|i| 0.1 + ((i * 37 % 19) as f32 - 9.0) / 90.0)
            .collect();
        let (zeros, ones) = (vec![0.0; 6], vec![1.0; 6]);
        let p = BlockParams {
            weight: &weight,
            bias: &zeros,
            gamma: &ones,
            beta: &zeros,
        };
        let out = forward_train(&g, &x, None, &p, 1e-5, None);
        let positions = g.conv_positions();
        for c in 0..g.out_channels {
            let values: Vec<f64> = (0..g.batch)
                .flat_map(|n| &out.conv[(n * g.out_channels + c) * positions..][..positions])
                .map(|&v| f64::from(v))
                .collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let (got_mean, got_variance) =
                (f64::from(out.conv_mean[c]), f64::from(out.variance[c]));
            assert!(
                (got_mean - mean).abs() <= 1e-6 * mean.abs(),
                "channel {c}: mean {got_mean} vs {mean}"
            );
            assert!(
                (got_variance - variance).abs() <= 1e-4 * variance,
                "channel {c}: variance {got_variance} vs {variance} (mean {mean})"
            );
        }
    }
}
