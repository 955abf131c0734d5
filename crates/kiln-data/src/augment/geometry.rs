//! Geometric transforms of `u8` CHW images: shifts (padded random crops), affine warps, resized
//! crops, and the nearest-neighbour shears, translations and rotations of the automatic
//! policies.

use super::uniform;
use crate::images::ImageShape;
use crate::rng::SplitMix64;

/// torchvision's `RandomResizedCrop.get_params` tries before its central fallback.
const CROP_TRIES: usize = 10;

/// Moves the content by `(dx, dy)` pixels (the crop's offset from centre), zero-filling: the
/// pixel at `(x, y)` becomes the one at `(x + dx, y + dy)`.
pub(super) fn shift(image: &mut [u8], shape: ImageShape, dx: isize, dy: isize) {
    let (h, w) = (shape.height as isize, shape.width as isize);
    let plane = (h * w) as usize;
    for channel in image.chunks_exact_mut(plane.max(1)) {
        let source = channel.to_vec();
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x + dx, y + dy);
                channel[(y * w + x) as usize] = match (0..w).contains(&sx) && (0..h).contains(&sy) {
                    true => source[(sy * w + sx) as usize],
                    false => 0,
                };
            }
        }
    }
}

/// Rotates by `angle` radians and scales by `scale` about the centre, then translates by `t`
/// pixels; bilinear sampling, zeros outside.
pub(super) fn affine(image: &mut [u8], shape: ImageShape, angle: f32, scale: f32, t: (f32, f32)) {
    let (h, w) = (shape.height, shape.width);
    let plane = h * w;
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (sin, cos) = angle.sin_cos();
    for channel in image.chunks_exact_mut(plane.max(1)) {
        let source = channel.to_vec();
        let at = |x: isize, y: isize| -> f32 {
            match x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                true => f32::from(source[y as usize * w + x as usize]),
                false => 0.0,
            }
        };
        for y in 0..h {
            for x in 0..w {
                // Inverse map: output pixel → source position.
                let (ox, oy) = (x as f32 - cx - t.0, y as f32 - cy - t.1);
                let sx = (cos * ox + sin * oy) / scale + cx;
                let sy = (-sin * ox + cos * oy) / scale + cy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + at(x0 + 1, y0) * fx * (1.0 - fy)
                    + at(x0, y0 + 1) * (1.0 - fx) * fy
                    + at(x0 + 1, y0 + 1) * fx * fy;
                channel[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// A rectangle of an image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl Window {
    /// The whole of an image of `shape`.
    fn whole(shape: ImageShape) -> Self {
        Self {
            top: 0,
            left: 0,
            height: shape.height,
            width: shape.width,
        }
    }
}

/// `RandomResizedCrop(size, scale, ratio)` back to the image's own size: the window of
/// [`resized_crop_window`], stretched over the whole image bilinearly.
pub(super) fn random_resized_crop(
    image: &mut [u8],
    shape: ImageShape,
    scale: [f32; 2],
    ratio: [f32; 2],
    rng: &mut SplitMix64,
) {
    let window = resized_crop_window(shape, scale, ratio, rng);
    resize_window(image, shape, window);
}

/// `RandomResizedCrop.get_params`: up to ten tries of an area `H·W·uniform(scale)` and an
/// aspect ratio (width / height) `exp(uniform(ln ratio))`, sides rounded (ties to even, as
/// Python's `round`), the first that fits placed uniformly; else the central crop, clamped to
/// the ratio range. Sides are at least 1 (where torchvision would fail on an extreme ratio).
pub(super) fn resized_crop_window(
    shape: ImageShape,
    scale: [f32; 2],
    ratio: [f32; 2],
    rng: &mut SplitMix64,
) -> Window {
    let (height, width) = (shape.height, shape.width);
    if height == 0 || width == 0 {
        return Window::whole(shape);
    }
    let area = (height * width) as f64;
    let log_ratio = [ratio[0].ln(), ratio[1].ln()];
    for _ in 0..CROP_TRIES {
        let target_area = area * f64::from(uniform(rng, scale[0], scale[1]));
        let aspect = f64::from(uniform(rng, log_ratio[0], log_ratio[1]).exp());
        let w = round_side((target_area * aspect).sqrt());
        let h = round_side((target_area / aspect).sqrt());
        if (1..=width).contains(&w) && (1..=height).contains(&h) {
            let top = rng.below(height - h + 1);
            let left = rng.below(width - w + 1);
            return Window {
                top,
                left,
                height: h,
                width: w,
            };
        }
    }
    central_crop_window(shape, ratio)
}

/// `RandomResizedCrop.get_params`'s fallback: the whole image, narrowed (or flattened) to the
/// nearest aspect ratio in `ratio` when its own is outside, centred.
fn central_crop_window(shape: ImageShape, ratio: [f32; 2]) -> Window {
    let (height, width) = (shape.height, shape.width);
    let own = width as f64 / height as f64;
    let (lo, hi) = (
        f64::from(ratio[0].min(ratio[1])),
        f64::from(ratio[0].max(ratio[1])),
    );
    let (h, w) = if own < lo {
        (round_side(width as f64 / lo).clamp(1, height), width)
    } else if own > hi {
        (height, round_side(height as f64 * hi).clamp(1, width))
    } else {
        (height, width)
    };
    Window {
        top: (height - h) / 2,
        left: (width - w) / 2,
        height: h,
        width: w,
    }
}

/// A side length rounded as Python's `int(round(x))` (ties to even); 0 for nonsense.
fn round_side(x: f64) -> usize {
    match x.is_finite() && x > 0.0 {
        true => x.round_ties_even() as usize,
        false => 0,
    }
}

/// `resized_crop(img, window, size)` to the image's own size: the window stretched over the
/// whole image by torchvision's bilinear `resize` (half-pixel centres, `align_corners=False`,
/// edge pixels repeated), rounded ties to even. The window is never larger than the image, so
/// this is always an enlargement, where `antialias=True` changes nothing; the whole image is
/// left as it is (torchvision returns it unresized).
pub(super) fn resize_window(image: &mut [u8], shape: ImageShape, window: Window) {
    let (h, w) = (shape.height, shape.width);
    if window == Window::whole(shape) || window.height == 0 || window.width == 0 {
        return;
    }
    let plane = h * w;
    let source = image.to_vec();
    for (channel, original) in image
        .chunks_exact_mut(plane.max(1))
        .zip(source.chunks_exact(plane.max(1)))
    {
        for y in 0..h {
            let (y0, y1, fy) = bilinear_taps(y, window.height, h);
            let (row0, row1) = ((window.top + y0) * w, (window.top + y1) * w);
            for x in 0..w {
                let (x0, x1, fx) = bilinear_taps(x, window.width, w);
                let (x0, x1) = (window.left + x0, window.left + x1);
                let at = |i: usize| f32::from(original[i]);
                let upper = (1.0 - fx) * at(row0 + x0) + fx * at(row0 + x1);
                let lower = (1.0 - fx) * at(row1 + x0) + fx * at(row1 + x1);
                let value = (1.0 - fy) * upper + fy * lower;
                channel[y * w + x] = value.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Where output pixel `out` of `dst_len` samples a source of `src_len` pixels (bilinear,
/// `align_corners=False`): its two neighbouring source pixels and the second's weight. The
/// position is clamped at the first pixel's centre, and the second neighbour at the last pixel.
fn bilinear_taps(out: usize, src_len: usize, dst_len: usize) -> (usize, usize, f32) {
    let scale = src_len as f32 / dst_len as f32;
    let position = ((out as f32 + 0.5) * scale - 0.5).max(0.0);
    let first = (position as usize).min(src_len - 1);
    let second = (first + 1).min(src_len - 1);
    (first, second, position - first as f32)
}

/// `F.affine(img, shear=[degrees(atan(m)), 0], center=[0, 0])`, the policies' `ShearX`: row
/// `y` slides by `−m·(y + ½)` pixels (the shear is about the top-left corner); nearest
/// sampling, zeros outside.
pub(super) fn shear_x(image: &mut [u8], shape: ImageShape, m: f32) {
    let shear = [f64::from(m).atan().to_degrees(), 0.0];
    let corner = top_left_corner(shape);
    warp_nearest(
        image,
        shape,
        inverse_affine_matrix(corner, 0.0, [0.0; 2], 1.0, shear),
    );
}

/// `F.affine(img, shear=[0, degrees(atan(m))], center=[0, 0])`, the policies' `ShearY`: column
/// `x` slides by `−m·(x + ½)` pixels; nearest sampling, zeros outside.
pub(super) fn shear_y(image: &mut [u8], shape: ImageShape, m: f32) {
    let shear = [0.0, f64::from(m).atan().to_degrees()];
    let corner = top_left_corner(shape);
    warp_nearest(
        image,
        shape,
        inverse_affine_matrix(corner, 0.0, [0.0; 2], 1.0, shear),
    );
}

/// The top-left corner in torchvision's tensor coordinates (origin at the image centre), the
/// `center=[0, 0]` of the shears.
fn top_left_corner(shape: ImageShape) -> [f64; 2] {
    [-0.5 * shape.width as f64, -0.5 * shape.height as f64]
}

/// `F.affine(img, translate=[dx, dy])`, the policies' `TranslateX`/`TranslateY`: the content
/// moves `dx` pixels right and `dy` down, zeros where it leaves. With whole pixels nearest
/// sampling is exact, so this is a shift.
pub(super) fn translate(image: &mut [u8], shape: ImageShape, dx: isize, dy: isize) {
    shift(image, shape, -dx, -dy);
}

/// `F.rotate(img, degrees)`: counter-clockwise (as displayed, rows down) about the image
/// centre; nearest sampling, zeros outside.
pub(super) fn rotate(image: &mut [u8], shape: ImageShape, degrees: f32) {
    let matrix = inverse_affine_matrix([0.0; 2], -f64::from(degrees), [0.0; 2], 1.0, [0.0; 2]);
    warp_nearest(image, shape, matrix);
}

/// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)` (angles
/// in degrees): the 2×3 matrix taking an output position to its source, both relative to the
/// image centre.
fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let (rot, sx, sy) = (
        angle.to_radians(),
        shear[0].to_radians(),
        shear[1].to_radians(),
    );
    let ([cx, cy], [tx, ty]) = (center, translate);
    // Rotation-shear without scale, [[a, b], [c, d]] (determinant 1).
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|v| v / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx;
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy;
    m
}

/// Resamples `image` through the inverse affine `matrix` (output → source, in torchvision's
/// coordinates centred on the image) as `_gen_affine_grid` and `grid_sample`'s nearest mode do:
/// each output pixel centre mapped to a source position, rounded to the nearest pixel (ties to
/// even), zero where that is outside.
fn warp_nearest(image: &mut [u8], shape: ImageShape, matrix: [f64; 6]) {
    let (h, w) = (shape.height, shape.width);
    let plane = h * w;
    let columns = GridAxis::new([matrix[0], matrix[1], matrix[2]], w);
    let rows = GridAxis::new([matrix[3], matrix[4], matrix[5]], h);
    let (half_w, half_h) = (columns.half_size, rows.half_size);
    let source = image.to_vec();
    for (channel, original) in image
        .chunks_exact_mut(plane.max(1))
        .zip(source.chunks_exact(plane.max(1)))
    {
        for y in 0..h {
            let yc = y as f32 + 0.5 - half_h;
            for x in 0..w {
                let xc = x as f32 + 0.5 - half_w;
                let (sx, sy) = (columns.nearest(xc, yc), rows.nearest(xc, yc));
                let inside = (0.0..w as f32).contains(&sx) && (0.0..h as f32).contains(&sy);
                channel[y * w + x] = match inside {
                    true => original[sy as usize * w + sx as usize],
                    false => 0,
                };
            }
        }
    }
}

/// One source axis of torchvision's sampling grid, computed in its `f32` order of operations so
/// that positions that fall (nearly) halfway between pixels round the same way: the matrix row
/// divided by half the size (`_gen_affine_grid`'s normalization to [−1, 1]) and `grid_sample`'s
/// `(g + 1) · size / 2 − ½` back to pixels.
struct GridAxis {
    /// The matrix row over half the size.
    coefficients: [f32; 3],
    /// Half the size along this axis.
    half_size: f32,
}

impl GridAxis {
    /// The axis of matrix `row`, `size` pixels long.
    fn new(row: [f64; 3], size: usize) -> Self {
        let half_size = 0.5 * size as f32;
        Self {
            coefficients: row.map(|v| v as f32 / half_size),
            half_size,
        }
    }

    /// The source pixel (maybe outside the image) of the output position `(x, y)`, relative to
    /// the image centre.
    fn nearest(&self, x: f32, y: f32) -> f32 {
        let [a, b, c] = self.coefficients;
        let normalized = a * x + b * y + c;
        ((normalized + 1.0) * self.half_size - 0.5).round_ties_even()
    }
}
