//! The backward of ReLU → max-pool 2×2 for one pair of convolution rows: each window's output
//! gradient goes to the window's first maximum (Burn's and PyTorch's choice on ties) if that
//! maximum passed the ReLU; every other position gets 0. Positions compare as the forward
//! computed them, `y · scale + shift`.
//!
//! A scalar version, and an AVX-512 one (16 windows per step, masked loads and stores for a
//! row's tail, so short rows such as mnist-cnn's 5 or 13 windows take one step) picked at run
//! time. LLVM does not vectorize the scalar loop (interleaved pairs, first-maximum selection).

/// One pair of rows: `top`/`bottom` hold at least `2 · grad.len()` convolution outputs; as
/// many values of `dz_top`/`dz_bottom` are written.
pub(crate) struct RowPair<'a> {
    pub top: &'a [f32],
    pub bottom: &'a [f32],
    pub grad: &'a [f32],
    pub dz_top: &'a mut [f32],
    pub dz_bottom: &'a mut [f32],
}

/// The per-channel affine of the batch norm and the ReLU floor (0, or −∞ without ReLU).
#[derive(Clone, Copy)]
pub(crate) struct Affine {
    pub scale: f32,
    pub shift: f32,
    pub floor: f32,
}

/// Routes one row pair with the widest implementation the CPU supports.
pub(crate) fn route_row_pair(rows: RowPair<'_>, a: Affine) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F.
        unsafe { route_row_pair_avx512(rows, a) };
        return;
    }
    route_row_pair_scalar(rows, a);
}

/// The portable version (and the reference the AVX-512 one is tested against).
pub(crate) fn route_row_pair_scalar(rows: RowPair<'_>, a: Affine) {
    let n = rows.grad.len();
    let top = rows.top[..2 * n].as_chunks::<2>().0;
    let bottom = rows.bottom[..2 * n].as_chunks::<2>().0;
    let dz_top = rows.dz_top[..2 * n].as_chunks_mut::<2>().0;
    let dz_bottom = rows.dz_bottom[..2 * n].as_chunks_mut::<2>().0;
    let windows = dz_top
        .iter_mut()
        .zip(dz_bottom.iter_mut())
        .zip(top.iter().zip(bottom))
        .zip(rows.grad);
    for (((dz_top, dz_bottom), (top, bottom)), &grad) in windows {
        let z = [top[0], top[1], bottom[0], bottom[1]].map(|y| y * a.scale + a.shift);
        let max = z[0].max(z[1]).max(z[2].max(z[3]));
        // The gradient not yet given out: it goes to the first maximum.
        let mut rest = if max > a.floor { grad } else { 0.0 };
        let mut take = |z: f32| {
            let (taken, left) = if z == max { (rest, 0.0) } else { (0.0, rest) };
            rest = left;
            taken
        };
        *dz_top = [take(z[0]), take(z[1])];
        *dz_bottom = [take(z[2]), take(z[3])];
    }
}

/// The AVX-512 version: 16 windows (32 values per row) per step, even/odd columns split and
/// merged back with two-source permutes.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn route_row_pair_avx512(rows: RowPair<'_>, a: Affine) {
    use std::arch::x86_64::*;

    let n = rows.grad.len();
    // Bounds for every pointer below: each row slice holds at least 2n values.
    let (top, bottom) = (&rows.top[..2 * n], &rows.bottom[..2 * n]);
    let dz_top = &mut rows.dz_top[..2 * n];
    let dz_bottom = &mut rows.dz_bottom[..2 * n];

    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let (scale, shift) = (_mm512_set1_ps(a.scale), _mm512_set1_ps(a.shift));
    let floor = _mm512_set1_ps(a.floor);

    let mut w = 0;
    while w < n {
        let count = (n - w).min(16);
        let lanes = |k: usize| -> __mmask16 { ((1u32 << k) - 1) as __mmask16 };
        let (first, second) = (
            lanes((2 * count).min(16)),
            lanes((2 * count).saturating_sub(16)),
        );
        // SAFETY: lanes outside the masks are neither read nor written; the masked lanes
        // address values 2w .. 2w + 2·count ≤ 2n of the row slices and w .. w + count ≤ n of
        // `grad`.
        unsafe {
            let load = |row: &[f32]| {
                let p = row.as_ptr().add(2 * w);
                (
                    _mm512_maskz_loadu_ps(first, p),
                    // `wrapping_add`: with an empty `second` mask, 16 past `p` may lie past
                    // the end of the row, where `add` would be undefined behaviour even unread.
                    _mm512_maskz_loadu_ps(second, p.wrapping_add(16)),
                )
            };
            let (t0, t1) = load(top);
            let (b0, b1) = load(bottom);
            let affine = |y| _mm512_add_ps(_mm512_mul_ps(y, scale), shift);
            let z0 = affine(_mm512_permutex2var_ps(t0, even, t1));
            let z1 = affine(_mm512_permutex2var_ps(t0, odd, t1));
            let z2 = affine(_mm512_permutex2var_ps(b0, even, b1));
            let z3 = affine(_mm512_permutex2var_ps(b0, odd, b1));
            let max = _mm512_max_ps(_mm512_max_ps(z0, z1), _mm512_max_ps(z2, z3));
            let passed = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(max, floor);
            let grad = _mm512_maskz_loadu_ps(passed & lanes(count), rows.grad.as_ptr().add(w));
            let is_max = |z| _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(z, max);
            let pick0 = is_max(z0);
            let pick1 = is_max(z1) & !pick0;
            let pick2 = is_max(z2) & !(pick0 | pick1);
            let pick3 = !(pick0 | pick1 | pick2);
            let d0 = _mm512_maskz_mov_ps(pick0, grad);
            let d1 = _mm512_maskz_mov_ps(pick1, grad);
            let d2 = _mm512_maskz_mov_ps(pick2, grad);
            let d3 = _mm512_maskz_mov_ps(pick3, grad);
            let store = |row: &mut [f32], even_lanes, odd_lanes| {
                let p = row.as_mut_ptr().add(2 * w);
                _mm512_mask_storeu_ps(p, first, _mm512_permutex2var_ps(even_lanes, low, odd_lanes));
                _mm512_mask_storeu_ps(
                    p.wrapping_add(16),
                    second,
                    _mm512_permutex2var_ps(even_lanes, high, odd_lanes),
                );
            };
            store(dz_top, d0, d1);
            store(dz_bottom, d2, d3);
        }
        w += count;
    }
}
