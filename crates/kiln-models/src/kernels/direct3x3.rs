//! Direct 3×3, padding 1 convolution — forward, backward-data and backward-weights at stride 1
//! and 2 — without im2col, on one image at a time.
//!
//! Why: with 16–64 channels and 8×8–32×32 maps (the CIFAR ResNets, and most of a ResNet's 3×3
//! layers) im2col + GEMM is memory-bound: the patch matrix is nine times the input, `gemm` packs
//! it again, and the backward's col2im adds it back (in a resnet20 step those passes took over a
//! third of the time). Here the input is copied once into a zero-padded *flat grid* and the nine
//! taps are nine shifted reads of it.
//!
//! # The flat grid
//! A plane of `height × width` values is stored zero-padded, row by row, with rows `wp = width +
//! 1` long — a zero, then the row: the zero that starts a row is also the right padding of the
//! row above — after a row of zeros and before two more, in a slot of `s` values
//! ([`Grid::plane`]). Output position `q = h · wp + w` then reads tap `(i, j)` at `q + i · wp +
//! j` of the padded plane: every tap is a contiguous run, so a tile of positions is a few vector
//! loads per tap whatever the width. Positions with `w = width` (one a row) and the rounding up
//! to [`Grid::positions`] are computed and discarded (3% of the arithmetic at 32 wide, 6% at
//! 16, 25% at 8 once rounded up to whole vectors; with two padding columns a row it was 6%,
//! 12.5% and 25%).
//!
//! At stride 2 the padded image is split into four *phase planes* (even/odd rows × even/odd
//! columns, each with rows `out_w + 1` long): tap `(i, j)` of output `(h, w)` reads phase
//! `(i mod 2, j mod 2)` at `(h + i/2, w + j/2)`, again a contiguous run per tap, so the same
//! kernels run on it with other tap offsets ([`Grid::tap_offsets`]). Its input gradient is not
//! a forward convolution of the output gradient, but each phase of the input is one, with 1, 2
//! or 4 of the taps ([`input_gradient_stride2`]).
//!
//! # Register blocking
//! A tile is `O` output channels × `P` positions, accumulated in registers over every input
//! channel and tap: per tap `P / lanes` loads of the input feed `O · P / lanes` FMAs. The tile
//! sizes are per instruction set ([`Isa`]): AVX-512 has 32 vector registers, AVX2 16; the scalar
//! build (other CPUs) uses small tiles and no fused multiply-add. The input gradient is the same
//! forward, with the weights flipped and transposed ([`flip_transpose`]) over the padded output
//! gradient. The weight gradient puts output channels in the lanes instead (the output gradient
//! transposed to `[position, channel]`, input pixels broadcast): vectorized over positions it
//! would need a horizontal sum per weight per image, which cost more than its arithmetic.

use std::mem::MaybeUninit;

use super::buffers;
use super::simd::multiversion;

/// The instruction sets the kernels are compiled for, widest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F (+VL), 16 floats a vector, 32 registers.
    Avx512,
    /// AVX2 + FMA, 8 floats a vector, 16 registers.
    Avx2,
    /// The baseline build: whatever LLVM makes of the loops, no FMA.
    Scalar,
}

impl Isa {
    /// Every instruction set this CPU can run, widest first (the tests run each).
    pub(crate) fn available() -> Vec<Self> {
        [Self::Avx512, Self::Avx2, Self::Scalar]
            .into_iter()
            .filter(|isa| isa.supported())
            .collect()
    }

    /// Whether this CPU runs code compiled for `self`.
    fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && Self::Avx2.supported()
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            Self::Scalar => true,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest instruction set this CPU runs (detected once).
    pub(crate) fn best() -> Self {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Self::available()[0])
    }
}

/// The flat-grid layout of one image's planes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    /// Input height and width.
    height: usize,
    width: usize,
    /// 1 or 2.
    stride: usize,
    /// Output height and width.
    out_h: usize,
    out_w: usize,
    /// Row length of the output grid and of every padded (phase) plane: `width + 1` at stride
    /// 1, `out_w + 1` at stride 2.
    wp: usize,
    /// Output positions computed per plane: `out_h · wp` rounded up to a multiple of 16.
    positions: usize,
    /// Values per phase plane at stride 2 (room for `positions + wp + 1` reads); the whole
    /// plane at stride 1.
    phase: usize,
    /// Values per padded plane: room for the padded image and for the reads of the last
    /// positions' taps, rounded up to a multiple of 16 (four phases at stride 2).
    plane: usize,
}

impl Grid {
    /// The grid of a 3×3, padding 1 convolution of `height × width` planes at `stride` (1 or
    /// 2; anything else is taken as 2).
    pub(crate) fn new(height: usize, width: usize, stride: usize) -> Self {
        if stride == 1 {
            let wp = width + 1;
            let positions = (height * wp).next_multiple_of(16);
            let plane = (positions + 2 * wp + 2).next_multiple_of(16);
            return Self {
                height,
                width,
                stride,
                out_h: height,
                out_w: width,
                wp,
                positions,
                phase: plane,
                plane,
            };
        }
        let (out_h, out_w) = (height.div_ceil(2), width.div_ceil(2));
        let wp = out_w + 1;
        let positions = (out_h * wp).next_multiple_of(16);
        let phase = (positions + wp + 1).next_multiple_of(16);
        Self {
            height,
            width,
            stride: 2,
            out_h,
            out_w,
            wp,
            positions,
            phase,
            plane: 4 * phase,
        }
    }

    /// The convolution's stride, 1 or 2.
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// Values per plane of the output grid ([`Grid::output_len`] per channel).
    pub(crate) fn positions(&self) -> usize {
        self.positions
    }

    /// Values from one output row to the next in the grid.
    pub(crate) fn row(&self) -> usize {
        self.wp
    }

    /// Whether every tap of every computed position reads inside its channel's padded plane.
    fn reads_fit(&self) -> bool {
        self.positions.is_multiple_of(16)
            && match self.stride {
                1 => self.plane >= self.positions + 2 * self.wp + 2,
                _ => self.phase > self.positions + self.wp && self.plane == 4 * self.phase,
            }
    }

    /// Values of a padded input of `channels` planes ([`Grid::pad`]).
    pub(crate) fn padded_len(&self, channels: usize) -> usize {
        channels * self.plane
    }

    /// Values of a convolution output of `channels` planes on the grid.
    pub(crate) fn output_len(&self, channels: usize) -> usize {
        channels * self.positions
    }

    /// Offset of tap `t = 3i + j` from an output position, in a padded plane, for a grid of
    /// stride `S`. (A constant `S`, not the field, so that at stride 1 the column offsets are
    /// the constants 0, 1, 2 the compiler folds into the kernels' addresses: read from the
    /// field, the stride-1 forward ran at 58% of its speed.)
    #[inline(always)]
    fn tap_offsets<const S: usize>(&self) -> [usize; 9] {
        debug_assert_eq!(S, self.stride);
        std::array::from_fn(|t| {
            let (i, j) = (t / 3, t % 3);
            match S {
                1 => i * self.wp + j,
                _ => ((i % 2) * 2 + j % 2) * self.phase + (i / 2) * self.wp + j / 2,
            }
        })
    }

    /// Writes `dense` (`[channels, height, width]`) into `padded` as zero-padded planes (phase
    /// planes at stride 2); every value of `padded` is written (zeros around and after the
    /// image).
    pub(crate) fn pad(&self, dense: &[f32], padded: &mut [f32]) {
        match self.stride {
            1 => pad(self, dense, padded),
            _ => pad_phases(self, dense, padded),
        }
    }

    /// Copies the valid positions of `grid` (`[channels, positions]`) into `dense`
    /// (`[channels, out_h, out_w]`, its previous contents not needed) and returns it, every
    /// value written.
    pub(crate) fn unpad<'d>(
        &self,
        grid: &[f32],
        dense: &'d mut [MaybeUninit<f32>],
    ) -> &'d mut [f32] {
        let area = self.out_h * self.out_w;
        assert!(
            area > 0
                && dense.len().is_multiple_of(area)
                && grid.len() >= dense.len() / area * self.positions,
            "kiln kernels: unpad buffers do not match the grid"
        );
        unpad(self, grid, dense);
        // SAFETY: `dense` is whole planes of `area` values, `grid` has a plane for each, and
        // `unpad` wrote every row of every plane.
        unsafe { buffers::assume_init(dense) }
    }
}

#[inline(always)]
fn pad_body(g: &Grid, dense: &[f32], padded: &mut [f32]) {
    let area = g.height * g.width;
    for (plane, image) in padded
        .chunks_exact_mut(g.plane)
        .zip(dense.chunks_exact(area))
    {
        let (rows, tail) = plane.split_at_mut((g.height + 2) * g.wp);
        let (top, rest) = rows.split_at_mut(g.wp);
        top.fill(0.0);
        for (row, source) in rest.chunks_exact_mut(g.wp).zip(image.chunks_exact(g.width)) {
            // The left padding of this row, the right padding of the one above.
            row[0] = 0.0;
            copy_short(&mut row[1..], source);
        }
        // The bottom padding row; the tail's first zero is its right padding.
        rest[g.height * g.wp..].fill(0.0);
        tail.fill(0.0);
    }
}

multiversion!(fn pad(g: &Grid, dense: &[f32], padded: &mut [f32]) => pad_body);

/// The stride-2 [`Grid::pad`]: phase `(a, b)` of a channel holds padded pixel `(2r + a, 2s +
/// b)` at `r · wp + s`, zero outside the image. Image row `y` is padded row `y + 1`: its even
/// columns `2i` go to phase `(a, 1)` at `s = i`, its odd columns `2i + 1` to phase `(a, 0)` at
/// `s = i + 1`.
#[inline(always)]
fn pad_phases_body(g: &Grid, dense: &[f32], padded: &mut [f32]) {
    let area = g.height * g.width;
    for (plane, image) in padded
        .chunks_exact_mut(g.plane)
        .zip(dense.chunks_exact(area))
    {
        plane.fill(0.0);
        for (y, source) in image.chunks_exact(g.width).enumerate() {
            let (a, r) = ((y + 1) % 2, y.div_ceil(2));
            let (odd, even) = plane[2 * a * g.phase..(2 * a + 2) * g.phase].split_at_mut(g.phase);
            let (pairs, tail) = source.as_chunks::<2>();
            let start = r * g.wp;
            let even = &mut even[start..start + source.len().div_ceil(2)];
            let odd = &mut odd[start + 1..start + 1 + pairs.len()];
            for ((even, odd), pair) in even.iter_mut().zip(odd.iter_mut()).zip(pairs) {
                *even = pair[0] + 0.0;
                *odd = pair[1] + 0.0;
            }
            if let (Some(last), Some(&x)) = (even.last_mut(), tail.first()) {
                *last = x + 0.0;
            }
        }
    }
}

multiversion!(fn pad_phases(g: &Grid, dense: &[f32], padded: &mut [f32]) => pad_phases_body);

#[inline(always)]
fn unpad_body(g: &Grid, grid: &[f32], dense: &mut [MaybeUninit<f32>]) {
    let area = g.out_h * g.out_w;
    for (plane, image) in grid
        .chunks_exact(g.positions)
        .zip(dense.chunks_exact_mut(area))
    {
        for (row, target) in plane
            .chunks_exact(g.wp)
            .zip(image.chunks_exact_mut(g.out_w))
        {
            // As `copy_short`, into values not yet written.
            for (d, &s) in target.iter_mut().zip(&row[..g.out_w]) {
                d.write(s + 0.0);
            }
        }
    }
}

multiversion!(fn unpad(g: &Grid, grid: &[f32], dense: &mut [MaybeUninit<f32>]) => unpad_body);

/// `dst = src + 0.0` for rows of a few dozen values, inline. `copy_from_slice` (and any plain
/// copy loop, which LLVM turns back into one) calls `memcpy`, whose call and dispatch cost as
/// much as such a row: 9% of a resnet20 step. Adding +0.0 changes no value but the sign of a
/// zero, which no convolution sees, and keeps the loop arithmetic, so it stays a vector loop.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s + 0.0;
    }
}

/// `weight` (`[out, in, 3, 3]`) transposed and flipped, `[in, out, 3, 3]`: the weights whose
/// forward convolution of the output gradient is the input gradient.
pub(crate) fn flip_transpose(weight: &[f32], out_channels: usize, in_channels: usize) -> Vec<f32> {
    let mut flipped = vec![0.0; weight.len()];
    for k in 0..out_channels {
        for c in 0..in_channels {
            for t in 0..9 {
                flipped[(c * out_channels + k) * 9 + 8 - t] = weight[(k * in_channels + c) * 9 + t];
            }
        }
    }
    flipped
}

/// The taps of the stride-2 input gradient's phases: the input's rows of parity `a` gather, at
/// phase row `m`, weight row `i` from output row `m + di` for each `(di, i)` of
/// `PHASE_TAPS[a]` (input row `y` is read by output row `h` through weight row `i` where `2h +
/// i − 1 = y`); columns likewise. The four phases have 1, 2, 2 and 4 taps: the nine in all.
const PHASE_TAPS: [&[(usize, usize)]; 2] = [&[(0, 1)], &[(1, 0), (0, 2)]];

/// The phases `(a, b)` in the order of [`phase_weights`], with their tap counts.
const PHASES: [(usize, usize, usize); 4] = [(0, 0, 1), (0, 1, 2), (1, 0, 2), (1, 1, 4)];

/// `weight` (`[out, in, 3, 3]`) regrouped for [`input_gradient_stride2`]: per phase (in
/// [`PHASES`] order) `[in, out, taps]`, the phase's taps in [`PHASE_TAPS`] order.
pub(crate) fn phase_weights(weight: &[f32], out_channels: usize, in_channels: usize) -> Vec<f32> {
    let mut regrouped = Vec::with_capacity(weight.len());
    for (a, b, _) in PHASES {
        for c in 0..in_channels {
            for k in 0..out_channels {
                for &(_, i) in PHASE_TAPS[a] {
                    for &(_, j) in PHASE_TAPS[b] {
                        regrouped.push(weight[(k * in_channels + c) * 9 + 3 * i + j]);
                    }
                }
            }
        }
    }
    regrouped
}

/// The buffers of one stride-2 input gradient, as slices checked against each other.
pub(crate) struct InputGradient<'a> {
    /// A stride-2 grid.
    pub grid: Grid,
    /// The output gradient, `[out_channels, out_h · out_w]`.
    pub grad: &'a [f32],
    pub out_channels: usize,
    /// [`phase_weights`].
    pub weights: &'a [f32],
    pub in_channels: usize,
}

impl Grid {
    /// Scratch values [`input_gradient_stride2`] needs.
    pub(crate) fn input_gradient_scratch_len(
        &self,
        out_channels: usize,
        in_channels: usize,
    ) -> usize {
        out_channels * self.phase + in_channels * self.positions
    }
}

/// The input gradient of a stride-2 convolution into `dx` (`[in_channels, height, width]`,
/// every value written, returned): each phase of the input (even/odd rows × even/odd columns) is
/// a convolution of the output gradient with 1, 2 or 4 of the weights' taps ([`PHASE_TAPS`]),
/// on the same kernels as the forward, then spread into its rows and columns of `dx`.
pub(crate) fn input_gradient_stride2<'d>(
    isa: Isa,
    b: &InputGradient<'_>,
    scratch: &mut [f32],
    dx: &'d mut [MaybeUninit<f32>],
) -> &'d mut [f32] {
    let g = &b.grid;
    let (k, c) = (b.out_channels, b.in_channels);
    assert!(
        g.stride == 2
            && b.grad.len() == k * g.out_h * g.out_w
            && b.weights.len() == 9 * k * c
            && dx.len() == c * g.height * g.width
            && scratch.len() >= g.input_gradient_scratch_len(k, c)
            && g.positions.is_multiple_of(16)
            && g.phase > g.positions + g.wp,
        "kiln kernels: stride-2 input gradient buffers do not match the grid"
    );
    let (padded, out) = scratch.split_at_mut(k * g.phase);
    // The output gradient with rows `wp` long: a zero after each row and zero rows after the
    // last, which the phases reading one row or column further meet at the far edges.
    for (plane, grad) in padded
        .chunks_exact_mut(g.phase)
        .zip(b.grad.chunks_exact(g.out_h * g.out_w))
    {
        let (rows, tail) = plane.split_at_mut(g.out_h * g.wp);
        for (row, source) in rows.chunks_exact_mut(g.wp).zip(grad.chunks_exact(g.out_w)) {
            copy_short(row, source);
            row[g.out_w] = 0.0;
        }
        tail.fill(0.0);
    }
    let mut weights = b.weights;
    for (a, bc, taps) in PHASES {
        let (phase_weights, rest) = weights.split_at(c * k * taps);
        weights = rest;
        let offsets: Vec<usize> = PHASE_TAPS[a]
            .iter()
            .flat_map(|&(di, _)| PHASE_TAPS[bc].iter().map(move |&(dj, _)| di * g.wp + dj))
            .collect();
        let out = &mut out[..c * g.positions];
        let padded = &*padded;
        let (o, w) = (&offsets[..], phase_weights);
        match taps {
            1 => run_taps(isa, || phase_conv::<1>(g, padded, o, w, k, c), out),
            2 => run_taps(isa, || phase_conv::<2>(g, padded, o, w, k, c), out),
            _ => run_taps(isa, || phase_conv::<4>(g, padded, o, w, k, c), out),
        }
        // Phase (a, b) at (m, n) is input pixel (2m + a, 2n + b).
        let (rows, columns) = ((g.height - a).div_ceil(2), (g.width - bc).div_ceil(2));
        for (plane, target) in out
            .chunks_exact(g.positions)
            .zip(dx.chunks_exact_mut(g.height * g.width))
        {
            for (m, row) in plane.chunks_exact(g.wp).take(rows).enumerate() {
                let start = (2 * m + a) * g.width + bc;
                let target = target[start..].iter_mut().step_by(2);
                for (slot, &value) in target.zip(&row[..columns]) {
                    slot.write(value);
                }
            }
        }
    }
    // SAFETY: `dx` is `in_channels` planes of `height × width` (asserted), and every pixel
    // `(y, x)` of each was written by phase `(y mod 2, x mod 2)` at `(y / 2, x / 2)`: its rows
    // `m < ⌈(height − a) / 2⌉` and columns `n < ⌈(width − b) / 2⌉` are those pixels.
    unsafe { buffers::assume_init(dx) }
}

/// One phase of [`input_gradient_stride2`] as a [`TapConv`].
fn phase_conv<'a, const N: usize>(
    g: &Grid,
    padded: &'a [f32],
    offsets: &[usize],
    weight: &'a [f32],
    out_channels: usize,
    in_channels: usize,
) -> TapConv<'a, N> {
    TapConv {
        input: padded,
        plane: g.phase,
        offsets: std::array::from_fn(|t| offsets[t]),
        in_channels: out_channels,
        weight,
        out_channels: in_channels,
        positions: g.positions,
    }
}

/// [`convolve_taps`] on the convolution `conv` builds, with the tile sizes of `isa`. (`conv`
/// runs inside the function compiled for `isa`, where the forward's tap offsets stay constants
/// folded into the addresses; see [`Grid::tap_offsets`].)
#[inline(always)]
fn run_taps<'a, const N: usize>(isa: Isa, conv: impl Fn() -> TapConv<'a, N>, out: &mut [f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the guard detected the features `taps_avx512` is compiled for.
        Isa::Avx512 if isa.supported() => unsafe { taps_avx512(conv, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, for AVX2 and FMA.
        Isa::Avx2 if isa.supported() => unsafe { taps_avx2(conv, out) },
        _ => convolve_taps::<4, 8, 8, false, N>(&conv(), out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn taps_avx512<'a, const N: usize>(conv: impl Fn() -> TapConv<'a, N>, out: &mut [f32]) {
    convolve_taps::<8, 32, 16, true, N>(&conv(), out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn taps_avx2<'a, const N: usize>(conv: impl Fn() -> TapConv<'a, N>, out: &mut [f32]) {
    convolve_taps::<4, 16, 8, true, N>(&conv(), out);
}

/// The buffers of one forward convolution, as slices checked against each other.
pub(crate) struct Forward<'a> {
    pub grid: Grid,
    /// `[in_channels, plane]`, from [`Grid::pad`].
    pub padded: &'a [f32],
    pub in_channels: usize,
    /// `[out_channels, in_channels, 3, 3]`.
    pub weight: &'a [f32],
    pub out_channels: usize,
}

/// `out[k][q] = Σ_c Σ_t weight[k][c][t] · padded[c][q + tap t]`: the convolution on the grid,
/// `out` `[out_channels, positions]`.
pub(crate) fn forward(isa: Isa, f: &Forward<'_>, out: &mut [f32]) {
    let g = &f.grid;
    assert!(
        f.padded.len() >= g.padded_len(f.in_channels)
            && f.weight.len() == f.out_channels * f.in_channels * 9
            && out.len() >= g.output_len(f.out_channels)
            && g.reads_fit(),
        "kiln kernels: direct convolution buffers do not match the grid"
    );
    match g.stride {
        1 => run_taps(isa, || TapConv::forward::<1>(f), out),
        _ => run_taps(isa, || TapConv::forward::<2>(f), out),
    }
}

/// What the kernels compute: `out[k][q] = Σ_c Σ_t weight[k][c][t] · input[c · plane + q +
/// offsets[t]]` for the `positions` (a multiple of 16) — a forward convolution on the grid
/// (`N` = 9 taps), or one phase of a stride-2 input gradient (1, 2 or 4).
struct TapConv<'a, const N: usize> {
    /// `[in_channels, plane]`.
    input: &'a [f32],
    plane: usize,
    offsets: [usize; N],
    in_channels: usize,
    /// `[out_channels, in_channels, N]`.
    weight: &'a [f32],
    out_channels: usize,
    positions: usize,
}

impl<'a> TapConv<'a, 9> {
    /// The forward convolution `f`, on a grid of stride `S` (a constant: see
    /// [`Grid::tap_offsets`]).
    #[inline(always)]
    fn forward<const S: usize>(f: &Forward<'a>) -> Self {
        TapConv {
            input: f.padded,
            plane: f.grid.plane,
            offsets: f.grid.tap_offsets::<S>(),
            in_channels: f.in_channels,
            weight: f.weight,
            out_channels: f.out_channels,
            positions: f.grid.positions,
        }
    }
}

/// Tiles of `O` channels × `P` positions (then `O` × `T` for the positions left, then single
/// channels for the channels left). `T` divides 16, so it divides the positions.
#[inline(always)]
fn convolve_taps<
    const O: usize,
    const P: usize,
    const T: usize,
    const FMA: bool,
    const N: usize,
>(
    c: &TapConv<'_, N>,
    out: &mut [f32],
) {
    let full = c.out_channels / O * O;
    for k in (0..full).step_by(O) {
        convolve_channels::<O, P, T, FMA, N>(c, k, out);
    }
    for k in full..c.out_channels {
        convolve_channels::<1, P, T, FMA, N>(c, k, out);
    }
    debug_assert!(c.positions.is_multiple_of(T));
}

/// Output channels `k..k + O`, every position.
#[inline(always)]
fn convolve_channels<
    const O: usize,
    const P: usize,
    const T: usize,
    const FMA: bool,
    const N: usize,
>(
    c: &TapConv<'_, N>,
    k: usize,
    out: &mut [f32],
) {
    let full = c.positions / P * P;
    for q in (0..full).step_by(P) {
        convolve_tile::<O, P, FMA, N>(c, k, q, out);
    }
    for q in (full..c.positions).step_by(T) {
        convolve_tile::<O, T, FMA, N>(c, k, q, out);
    }
}

/// `a · b + c`, fused where the build has FMA (a libm call otherwise, so not used there).
#[inline(always)]
fn multiply_add<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// One tile: channels `k..k + O`, positions `q..q + P`.
#[inline(always)]
fn convolve_tile<const O: usize, const P: usize, const FMA: bool, const N: usize>(
    conv: &TapConv<'_, N>,
    k: usize,
    q: usize,
    out: &mut [f32],
) {
    let channels = conv.in_channels;
    let mut acc = [[0f32; P]; O];
    let input = conv.input.as_ptr();
    let weight = conv.weight.as_ptr();
    for c in 0..channels {
        for (t, &offset) in conv.offsets.iter().enumerate() {
            // SAFETY: the callers ([`forward`], [`input_gradient_stride2`]) asserted `input`
            // holds `in_channels` planes and that every tap's reads of the positions `<
            // positions` lie in their plane; `q + P ≤ positions`, so the P values read lie in
            // plane `c`. Unaligned reads of f32s are allowed.
            let x: [f32; P] = unsafe {
                input
                    .add(c * conv.plane + q + offset)
                    .cast::<[f32; P]>()
                    .read_unaligned()
            };
            for (o, acc) in acc.iter_mut().enumerate() {
                // SAFETY: the callers asserted `weight` is `[out_channels, in_channels, N]`,
                // and `k + o < out_channels`.
                let w = unsafe { *weight.add(((k + o) * channels + c) * N + t) };
                for (a, &x) in acc.iter_mut().zip(&x) {
                    *a = multiply_add::<FMA>(w, x, *a);
                }
            }
        }
    }
    for (o, acc) in acc.iter().enumerate() {
        let start = (k + o) * conv.positions + q;
        out[start..start + P].copy_from_slice(acc);
    }
}

/// Output channels rounded up to a whole number of vectors: the lanes of a transposed gradient
/// ([`Grid::transpose`]) and of a weight-gradient accumulator.
pub(crate) fn channel_lanes(channels: usize) -> usize {
    channels.next_multiple_of(16)
}

impl Grid {
    /// Values of a transposed gradient of `channels` planes ([`Grid::transpose`]).
    pub(crate) fn transposed_len(&self, channels: usize) -> usize {
        self.out_h * self.out_w * channel_lanes(channels)
    }

    /// Writes `dense` (`[channels, out_h · out_w]`) into `transposed` as `[out_h · out_w,
    /// lanes]`, zero in the lanes past `channels`.
    pub(crate) fn transpose(&self, dense: &[f32], channels: usize, transposed: &mut [f32]) {
        transpose(self.out_h * self.out_w, dense, channels, transposed);
    }
}

/// [`Grid::transpose`] on `area` positions: 16 × 16 blocks transposed in AVX-512 registers
/// where the CPU has them (a scalar gather per value cost a third of the weight gradient's
/// time), the scalar loop for what is left and on other CPUs.
fn transpose(area: usize, dense: &[f32], channels: usize, transposed: &mut [f32]) {
    let lanes = channel_lanes(channels);
    assert!(
        dense.len() >= channels * area && transposed.len() >= area * lanes,
        "kiln kernels: transpose buffers do not match"
    );
    let mut blocked = [0, 0];
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx512.supported() && channels >= 16 {
        // SAFETY: AVX-512F was detected, and the lengths were asserted above.
        blocked = unsafe { transpose_blocks_avx512(area, dense, channels, transposed) };
    }
    transpose_scalar(area, blocked, dense, channels, transposed);
}

/// [`transpose`] one value at a time, but for the first `blocked[1]` channels of the first
/// `blocked[0]` positions (done already), and the zero lanes.
fn transpose_scalar(
    area: usize,
    blocked: [usize; 2],
    dense: &[f32],
    channels: usize,
    transposed: &mut [f32],
) {
    let lanes = channel_lanes(channels);
    let [positions, done] = blocked;
    for (p, row) in transposed[..area * lanes]
        .chunks_exact_mut(lanes)
        .enumerate()
    {
        let first = if p < positions { done } else { 0 };
        let (values, zeros) = row.split_at_mut(channels);
        for (k, value) in values.iter_mut().enumerate().skip(first) {
            *value = dense[k * area + p];
        }
        zeros.fill(0.0);
    }
}

/// Transposes whole 16 × 16 blocks (channels × positions) of [`transpose`] and returns the
/// `[positions, channels]` the blocks covered.
///
/// # Safety
/// The CPU must support AVX-512F; `dense` must hold `channels · area` values and `transposed`
/// `area · channel_lanes(channels)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_blocks_avx512(
    area: usize,
    dense: &[f32],
    channels: usize,
    transposed: &mut [f32],
) -> [usize; 2] {
    use std::arch::x86_64::*;
    let lanes = channel_lanes(channels);
    let (positions, blocked_channels) = (area / 16 * 16, channels / 16 * 16);
    let (src, dst) = (dense.as_ptr(), transposed.as_mut_ptr());
    for k0 in (0..blocked_channels).step_by(16) {
        for p0 in (0..positions).step_by(16) {
            // (Plain loops, not closures: a closure does not inherit this function's target
            // features, and the intrinsics would become calls.)
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, row) in r.iter_mut().enumerate() {
                // SAFETY: row k0 + i < channels, positions p0..p0 + 16 ≤ area: inside `dense`,
                // whose length the caller guarantees.
                *row = unsafe { _mm512_loadu_ps(src.add((k0 + i) * area + p0)) };
            }
            // Pairs, then quads, then 128-bit lanes: the classic 16 × 16 transpose.
            let mut t = [_mm512_setzero_ps(); 16];
            for i in 0..16 {
                let (a, b) = (r[i & !1], r[i | 1]);
                t[i] = if i % 2 == 0 {
                    _mm512_unpacklo_ps(a, b)
                } else {
                    _mm512_unpackhi_ps(a, b)
                };
            }
            // u[4q + j], lane L: column 4L + j of rows 4q..4q + 4.
            let mut u = [_mm512_setzero_ps(); 16];
            for (i, u) in u.iter_mut().enumerate() {
                let (q, j) = (i / 4, i % 4);
                let a = _mm512_castps_pd(t[4 * q + j / 2]);
                let b = _mm512_castps_pd(t[4 * q + j / 2 + 2]);
                *u = _mm512_castpd_ps(if j % 2 == 0 {
                    _mm512_unpacklo_pd(a, b)
                } else {
                    _mm512_unpackhi_pd(a, b)
                });
            }
            // v[8h + 4s + j]: lanes 0, 2 (s = 0) or 1, 3 (s = 1) of quads 2h and 2h + 1.
            let mut v = [_mm512_setzero_ps(); 16];
            for (i, v) in v.iter_mut().enumerate() {
                let (h, s, j) = (i / 8, (i / 4) % 2, i % 4);
                let (a, b) = (u[8 * h + j], u[8 * h + 4 + j]);
                *v = if s == 0 {
                    _mm512_shuffle_f32x4::<0x88>(a, b)
                } else {
                    _mm512_shuffle_f32x4::<0xdd>(a, b)
                };
            }
            for i in 0..16 {
                // Output row i: lanes 0, 2 (i < 8) or 1, 3 (i ≥ 8) of v[i % 8], v[8 + i % 8].
                let (a, b) = (v[i % 8], v[8 + i % 8]);
                let row = if i < 8 {
                    _mm512_shuffle_f32x4::<0x88>(a, b)
                } else {
                    _mm512_shuffle_f32x4::<0xdd>(a, b)
                };
                // SAFETY: position p0 + i < area and lanes k0..k0 + 16 ≤ lanes: inside
                // `transposed`, whose length the caller guarantees.
                unsafe { _mm512_storeu_ps(dst.add((p0 + i) * lanes + k0), row) };
            }
        }
    }
    [positions, blocked_channels]
}

/// The buffers of one weight-gradient accumulation.
pub(crate) struct WeightGradient<'a> {
    pub grid: Grid,
    /// The output gradient, transposed ([`Grid::transpose`]): `[out_h · out_w, lanes]`.
    pub grad: &'a [f32],
    pub out_channels: usize,
    /// The input, `[in_channels, plane]` padded ([`Grid::pad`]).
    pub padded: &'a [f32],
    pub in_channels: usize,
}

/// Values of a weight-gradient accumulator: `[in_channels, 9, lanes]`.
pub(crate) fn accumulator_len(out_channels: usize, in_channels: usize) -> usize {
    in_channels * 9 * channel_lanes(out_channels)
}

/// `acc[c][t][k] += Σ_{h,w} grad[h, w][k] · padded[c][(h, w) + tap t]` over the output
/// positions `(h, w)`: one image's weight
/// gradient, transposed, with output channels in the vector lanes (so no horizontal sums: an
/// accumulator gathers a run of images, then [`add_accumulated`] turns it around once).
pub(crate) fn weight_gradient(isa: Isa, w: &WeightGradient<'_>, acc: &mut [f32]) {
    let g = &w.grid;
    assert!(
        w.grad.len() >= g.transposed_len(w.out_channels)
            && w.padded.len() >= g.padded_len(w.in_channels)
            && acc.len() == accumulator_len(w.out_channels, w.in_channels)
            && g.reads_fit(),
        "kiln kernels: weight-gradient buffers do not match the grid"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the guard detected the features `weight_gradient_avx512` is compiled for.
        Isa::Avx512 if isa.supported() => unsafe { weight_gradient_avx512(w, acc) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, for AVX2 and FMA.
        Isa::Avx2 if isa.supported() => unsafe { weight_gradient_avx2(w, acc) },
        _ => weight_gradient_body::<4, 1, false>(w, acc),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn weight_gradient_avx512(w: &WeightGradient<'_>, acc: &mut [f32]) {
    weight_gradient_body::<16, 2, true>(w, acc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weight_gradient_avx2(w: &WeightGradient<'_>, acc: &mut [f32]) {
    weight_gradient_body::<8, 1, true>(w, acc);
}

/// The weight gradient for the grid's stride.
#[inline(always)]
fn weight_gradient_body<const V: usize, const C: usize, const FMA: bool>(
    w: &WeightGradient<'_>,
    acc: &mut [f32],
) {
    match w.grid.stride {
        1 => weight_gradient_strided::<V, C, FMA, 1>(w, acc),
        _ => weight_gradient_strided::<V, C, FMA, 2>(w, acc),
    }
}

/// Tiles of `V` output channels (one vector) × `C` input channels × the nine taps.
#[inline(always)]
fn weight_gradient_strided<const V: usize, const C: usize, const FMA: bool, const S: usize>(
    w: &WeightGradient<'_>,
    acc: &mut [f32],
) {
    let full = w.in_channels / C * C;
    for k in (0..channel_lanes(w.out_channels)).step_by(V) {
        for c in (0..full).step_by(C) {
            weight_gradient_tile::<V, C, FMA, S>(w, k, c, acc);
        }
        for c in full..w.in_channels {
            weight_gradient_tile::<V, 1, FMA, S>(w, k, c, acc);
        }
    }
}

/// Lanes `k..k + V` of the gradient of the weights from input channels `c..c + C`.
#[inline(always)]
fn weight_gradient_tile<const V: usize, const C: usize, const FMA: bool, const S: usize>(
    w: &WeightGradient<'_>,
    k: usize,
    c: usize,
    acc: &mut [f32],
) {
    let g = &w.grid;
    let lanes = channel_lanes(w.out_channels);
    let taps = g.tap_offsets::<S>();
    let mut sums = [[[0f32; V]; 9]; C];
    let (grad, input) = (w.grad.as_ptr(), w.padded.as_ptr());
    for h in 0..g.out_h {
        for x in 0..g.out_w {
            // SAFETY: `weight_gradient` asserted `grad` holds `out_h · out_w` rows of `lanes`
            // values, and `k + V ≤ lanes` (lanes is a multiple of 16, V divides 16).
            let d: [f32; V] = unsafe {
                grad.add((h * g.out_w + x) * lanes + k)
                    .cast::<[f32; V]>()
                    .read_unaligned()
            };
            for (i, sums) in sums.iter_mut().enumerate() {
                let pixel = (c + i) * g.plane + h * g.wp + x;
                for (sum, &offset) in sums.iter_mut().zip(&taps) {
                    // SAFETY: `c + i < in_channels` planes were asserted present; `h·wp + x <
                    // positions` (a computed output position), whose taps `reads_fit` asserted
                    // lie in the plane.
                    let value = unsafe { *input.add(pixel + offset) };
                    for (s, &d) in sum.iter_mut().zip(&d) {
                        *s = multiply_add::<FMA>(value, d, *s);
                    }
                }
            }
        }
    }
    for (i, sums) in sums.iter().enumerate() {
        for (t, sum) in sums.iter().enumerate() {
            let start = ((c + i) * 9 + t) * lanes + k;
            for (a, &s) in acc[start..start + V].iter_mut().zip(sum) {
                *a += s;
            }
        }
    }
}

/// Adds an accumulator ([`weight_gradient`]) to `weight` (`[out_channels, in_channels, 3,
/// 3]`).
pub(crate) fn add_accumulated(
    acc: &[f32],
    out_channels: usize,
    in_channels: usize,
    weight: &mut [f32],
) {
    let lanes = channel_lanes(out_channels);
    for (ct, row) in acc.chunks_exact(lanes).take(in_channels * 9).enumerate() {
        for (k, &value) in row[..out_channels].iter().enumerate() {
            weight[k * in_channels * 9 + ct] += value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-1, 1)`.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let h = (i ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(0x85eb_ca6b);
                ((h >> 8) as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Calls `visit(weight index, output index, input index)` for every product of the
    /// textbook convolution (`[c, h, w]` in, `[k, out_h, out_w]` out, zero padding 1).
    fn for_each_product(
        [c, k, h, w]: [usize; 4],
        stride: usize,
        mut visit: impl FnMut(usize, usize, usize),
    ) {
        let (out_h, out_w) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
        for (o, ci, t) in
            (0..k).flat_map(|o| (0..c).flat_map(move |ci| (0..9).map(move |t| (o, ci, t))))
        {
            for (i, j) in (0..out_h).flat_map(|i| (0..out_w).map(move |j| (i, j))) {
                let si = (i * stride + t / 3).checked_sub(1).filter(|&v| v < h);
                let sj = (j * stride + t % 3).checked_sub(1).filter(|&v| v < w);
                if let (Some(si), Some(sj)) = (si, sj) {
                    visit(
                        (o * c + ci) * 9 + t,
                        (o * out_h + i) * out_w + j,
                        (ci * h + si) * w + sj,
                    );
                }
            }
        }
    }

    fn assert_close(what: &str, got: &[f32], want: &[f64]) {
        let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= 1e-5 * scale,
                "{what}: value {i}: {g} vs {w}"
            );
        }
    }

    const SHAPES: [[usize; 4]; 8] = [
        // [in, out, h, w]: the first layer, odd sizes, channel counts not a multiple of a
        // tile, 1×1 and 1-row images, the CIFAR ResNets' stages.
        [3, 16, 32, 32],
        [5, 7, 9, 11],
        [24, 100, 7, 7],
        [16, 16, 1, 1],
        [2, 3, 1, 13],
        [64, 64, 8, 8],
        [1, 9, 28, 28],
        [16, 32, 32, 32],
    ];

    /// Forward and weight gradient at stride 1 and 2, input gradient at stride 1, against the
    /// f64 textbook convolution, on every instruction set the CPU runs.
    #[test]
    fn every_instruction_set_convolves_as_the_definition() {
        for isa in Isa::available() {
            for (n, &shape) in SHAPES.iter().enumerate() {
                for stride in [1, 2] {
                    check_shape(isa, shape, stride, n as u32);
                }
            }
        }
    }

    fn check_shape(isa: Isa, shape: [usize; 4], stride: usize, n: u32) {
        let [c, k, h, w] = shape;
        let what = format!("{isa:?} [{c}→{k}, {h}×{w}, stride {stride}]");
        let grid = Grid::new(h, w, stride);
        let (out_h, out_w) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
        let x = values(c * h * w, 2 * n);
        let weight = values(k * c * 9, 2 * n + 1);
        // Leftovers of an earlier use: the kernels must not depend on the contents.
        let mut padded = vec![f32::NAN; grid.padded_len(c)];
        grid.pad(&x, &mut padded);
        let mut out = vec![f32::NAN; grid.output_len(k.max(c))];
        let f = Forward {
            grid,
            padded: &padded,
            in_channels: c,
            weight: &weight,
            out_channels: k,
        };
        forward(isa, &f, &mut out);
        let mut y = vec![MaybeUninit::uninit(); k * out_h * out_w];
        let y = grid.unpad(&out, &mut y);
        let mut want_y = vec![0.0f64; k * out_h * out_w];
        for_each_product(shape, stride, |wi, yi, xi| {
            want_y[yi] += f64::from(weight[wi]) * f64::from(x[xi]);
        });
        assert_close(&format!("{what} forward"), y, &want_y);

        let dy = values(k * out_h * out_w, 100 + n);
        // The input gradient, the forward's adjoint: every product of it sent back.
        let mut want_dx = vec![0.0f64; c * h * w];
        for_each_product(shape, stride, |wi, yi, xi| {
            want_dx[xi] += f64::from(dy[yi]) * f64::from(weight[wi]);
        });
        let mut dx = vec![MaybeUninit::uninit(); c * h * w];
        if stride == 1 {
            // The flipped, transposed weights convolving the output gradient.
            let mut dy_padded = vec![f32::NAN; grid.padded_len(k)];
            grid.pad(&dy, &mut dy_padded);
            let flipped = flip_transpose(&weight, k, c);
            let b = Forward {
                grid,
                padded: &dy_padded,
                in_channels: k,
                weight: &flipped,
                out_channels: c,
            };
            forward(isa, &b, &mut out[..grid.output_len(c)]);
            let dx = grid.unpad(&out, &mut dx);
            assert_close(&format!("{what} input gradient"), dx, &want_dx);
        } else {
            // Phase by phase.
            let weights = phase_weights(&weight, k, c);
            let b = InputGradient {
                grid,
                grad: &dy,
                out_channels: k,
                weights: &weights,
                in_channels: c,
            };
            let mut scratch = vec![f32::NAN; grid.input_gradient_scratch_len(k, c)];
            let dx = input_gradient_stride2(isa, &b, &mut scratch, &mut dx);
            assert_close(&format!("{what} input gradient"), dx, &want_dx);
        }

        // The weight gradient, accumulated onto what is there.
        let mut transposed = vec![f32::NAN; grid.transposed_len(k)];
        grid.transpose(&dy, k, &mut transposed);
        let wg = WeightGradient {
            grid,
            grad: &transposed,
            out_channels: k,
            padded: &padded,
            in_channels: c,
        };
        let mut acc = vec![0.5; accumulator_len(k, c)];
        weight_gradient(isa, &wg, &mut acc);
        let mut dw = vec![0.5; k * c * 9];
        add_accumulated(&acc, k, c, &mut dw);
        let mut want_dw = vec![1.0f64; k * c * 9];
        for_each_product(shape, stride, |wi, yi, xi| {
            want_dw[wi] += f64::from(dy[yi]) * f64::from(x[xi]);
        });
        assert_close(&format!("{what} weight gradient"), &dw, &want_dw);
    }

    /// The blocked transpose equals the value-by-value one, for channel counts below, at and
    /// past a block of 16 and areas that are not a multiple of 16.
    #[test]
    fn transposes_match_value_by_value() {
        for (channels, area) in [(3, 20), (16, 64), (24, 49), (64, 64), (100, 50), (32, 1)] {
            let dense = values(channels * area, channels as u32);
            let lanes = channel_lanes(channels);
            let mut fast = vec![f32::NAN; area * lanes];
            transpose(area, &dense, channels, &mut fast);
            let mut slow = vec![f32::NAN; area * lanes];
            transpose_scalar(area, [0, 0], &dense, channels, &mut slow);
            assert_eq!(fast, slow, "{channels} channels × {area} positions");
            for (p, row) in slow.chunks_exact(lanes).enumerate() {
                for (k, &value) in row.iter().enumerate() {
                    let want = if k < channels {
                        dense[k * area + p]
                    } else {
                        0.0
                    };
                    assert_eq!(value, want, "position {p}, lane {k}");
                }
            }
        }
    }

    #[test]
    fn the_best_instruction_set_is_one_this_cpu_runs() {
        assert!(Isa::available().contains(&Isa::best()));
        assert_eq!(Isa::available().last(), Some(&Isa::Scalar));
    }
}
