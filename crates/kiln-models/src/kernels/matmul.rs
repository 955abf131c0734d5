//! A safe, bounds-checked front for `gemm`'s single-threaded f32 kernel (the kernels parallelize
//! over images themselves). `gemm` picks its AVX-512, AVX2/FMA or scalar micro-kernel at runtime.

/// A read-only matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
/// A transposed view is the same data with the strides swapped.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this view (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Whether every element the view addresses lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`), `dst` row-major `a.rows × b.cols`.
///
/// The shapes are the kernels' own invariants; a mismatch is a bug in kiln, so it stops here
/// rather than letting `gemm` read or write out of bounds.
pub(crate) fn matmul(dst: &mut [f32], accumulate: bool, a: MatRef<'_>, b: MatRef<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && dst.len() >= m * n && a.in_bounds() && b.in_bounds(),
        "kiln kernels: matmul views out of bounds ({m}×{k} · {}×{n} into {})",
        b.rows,
        dst.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: the assertion above proves every index gemm touches, `i*rs + j*cs` over the
    // declared extents of `dst`, `a` and `b`, lies inside the borrowed slices; `dst` is borrowed
    // mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
