//! im2col and its adjoint col2im for one image, NCHW.
//!
//! The patch matrix is `[in_channels · kh · kw, conv_h · conv_w]`, row `(c, i, j)` holding input
//! pixel `(c, oh·s − p + i, ow·s − p + j)` (zero outside the image) for every output position
//! `(oh, ow)`. The convolution is then `weight [out, in·kh·kw] · patches`. Rows lie `stride`
//! values apart, so that several images' patch matrices can sit side by side as the column
//! blocks of one wider matrix (`stride` = the images × positions).

use super::geometry::BlockGeometry;

/// Input coordinate of output index `o` for kernel offset `k`, if inside `0..size`.
fn source(o: usize, k: usize, g: &BlockGeometry, size: usize) -> Option<usize> {
    (o * g.stride + k)
        .checked_sub(g.padding)
        .filter(|&i| i < size)
}

/// Writes the patch matrix of `image` (`[in_channels, height, width]`) into `cols`, its rows
/// `stride` values apart.
pub(crate) fn im2col(g: &BlockGeometry, image: &[f32], cols: &mut [f32], stride: usize) {
    let [oh_len, ow_len] = g.conv_size().unwrap_or([0, 0]);
    let [kh, kw] = g.kernel;
    let positions = oh_len * ow_len;
    for row in 0..g.patch_len() {
        let out = &mut cols[row * stride..row * stride + positions];
        let (c, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &image[c * g.height * g.width..(c + 1) * g.height * g.width];
        for (oh, out_row) in out.chunks_exact_mut(ow_len).enumerate() {
            let Some(ih) = source(oh, i, g, g.height) else {
                out_row.fill(0.0);
                continue;
            };
            let input_row = &plane[ih * g.width..(ih + 1) * g.width];
            if g.stride == 1 {
                // Output columns whose source column lies inside the row: ow + j − p ∈ [0, width).
                let first = g.padding.saturating_sub(j).min(ow_len);
                let last = (g.width + g.padding).saturating_sub(j).clamp(first, ow_len);
                out_row[..first].fill(0.0);
                if last > first {
                    // first = padding − j when positive, else 0, so this does not underflow.
                    let start = first + j - g.padding;
                    out_row[first..last].copy_from_slice(&input_row[start..start + last - first]);
                }
                out_row[last..].fill(0.0);
            } else {
                for (ow, value) in out_row.iter_mut().enumerate() {
                    *value = source(ow, j, g, g.width).map_or(0.0, |iw| input_row[iw]);
                }
            }
        }
    }
}

/// Adds the patch-matrix gradient `cols` (rows `stride` values apart) back onto the image
/// gradient `image` (`[in_channels, height, width]`), the adjoint of [`im2col`].
pub(crate) fn col2im(g: &BlockGeometry, cols: &[f32], image: &mut [f32], stride: usize) {
    let [oh_len, ow_len] = g.conv_size().unwrap_or([0, 0]);
    let [kh, kw] = g.kernel;
    let positions = oh_len * ow_len;
    for row in 0..g.patch_len() {
        let grad = &cols[row * stride..row * stride + positions];
        let (c, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &mut image[c * g.height * g.width..(c + 1) * g.height * g.width];
        for (oh, grad_row) in grad.chunks_exact(ow_len).enumerate() {
            let Some(ih) = source(oh, i, g, g.height) else {
                continue;
            };
            let input_row = &mut plane[ih * g.width..(ih + 1) * g.width];
            if g.stride == 1 {
                let first = g.padding.saturating_sub(j).min(ow_len);
                let last = (g.width + g.padding).saturating_sub(j).clamp(first, ow_len);
                if last > first {
                    let start = first + j - g.padding;
                    for (dst, src) in input_row[start..start + last - first]
                        .iter_mut()
                        .zip(&grad_row[first..last])
                    {
                        *dst += src;
                    }
                }
            } else {
                for (ow, value) in grad_row.iter().enumerate() {
                    if let Some(iw) = source(ow, j, g, g.width) {
                        input_row[iw] += value;
                    }
                }
            }
        }
    }
}
