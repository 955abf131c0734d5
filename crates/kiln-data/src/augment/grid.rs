//! A picture of what a pipeline does (`kiln data augment`): a few images of a dataset, each in
//! a row beginning with the image as stored, followed by augmented draws of it.

use std::path::Path;

use crate::batch::Normalization;
use crate::error::DataError;
use crate::images::ImageDataset;
use crate::rng::SplitMix64;

use super::Augmentation;

/// Pixels between the tiles of a grid.
const GAP: usize = 2;

/// An RGB picture, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height × width × 3` bytes.
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// Writes the picture as a PNG file.
    pub fn save_png(&self, path: &Path) -> Result<(), DataError> {
        let (w, h) = (self.width as u32, self.height as u32);
        image::save_buffer(path, &self.pixels, w, h, image::ExtendedColorType::Rgb8).map_err(|e| {
            DataError::Image {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })
    }
}

/// The grid of `rows` images of `data` (spread evenly over it) × (1 + `variants`) columns: the
/// image, then `variants` draws of `augmentation` (seeded by `seed`, the row and the column;
/// normalized steps such as random erasing applied with `norm` and shown un-normalized), each
/// tile scaled up `scale` times (nearest neighbour), on a white background.
pub fn augmentation_grid(
    data: &ImageDataset,
    augmentation: &Augmentation,
    norm: Normalization,
    (rows, variants, scale): (usize, usize, usize),
    seed: u64,
) -> Rgb {
    let shape = data.shape();
    let rows = rows.min(data.len());
    let (tile_h, tile_w) = (shape.height * scale, shape.width * scale);
    let columns = 1 + variants;
    let width = columns * (tile_w + GAP) + GAP;
    let height = rows * (tile_h + GAP) + GAP;
    let mut picture = Rgb {
        width,
        height,
        pixels: vec![255; width * height * 3],
    };
    for row in 0..rows {
        let index = row * data.len() / rows.max(1);
        for column in 0..columns {
            let mut image = data.image(index).to_vec();
            if column > 0 {
                let mut rng = SplitMix64::for_stream(seed, ((row as u64) << 32) | column as u64);
                augmentation.apply(&mut image, shape, &mut rng);
                if augmentation.has_normalized_steps() {
                    image = through_normalized(&image, augmentation, norm, data, &mut rng);
                }
            }
            let origin = (GAP + row * (tile_h + GAP), GAP + column * (tile_w + GAP));
            paint(&mut picture, &image, data, scale, origin);
        }
    }
    picture
}

/// The normalized steps applied to `image`: normalized with `norm`, transformed, brought back to
/// bytes (clamped).
fn through_normalized(
    image: &[u8],
    augmentation: &Augmentation,
    norm: Normalization,
    data: &ImageDataset,
    rng: &mut SplitMix64,
) -> Vec<u8> {
    let shape = data.shape();
    let plane = (shape.height * shape.width).max(1);
    let channel = |i: usize| (i / plane).min(2);
    let mut floats: Vec<f32> = (image.iter().enumerate())
        .map(|(i, &b)| (f32::from(b) / 255.0 - norm.mean[channel(i)]) / norm.std[channel(i)])
        .collect();
    augmentation.apply_normalized(&mut floats, shape, rng);
    (floats.iter().enumerate())
        .map(|(i, &v)| {
            let c = channel(i);
            ((v * norm.std[c] + norm.mean[c]) * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// Draws the CHW `image` (gray or RGB) scaled `scale` times with its top-left corner at
/// `(top, left)`.
fn paint(
    picture: &mut Rgb,
    image: &[u8],
    data: &ImageDataset,
    scale: usize,
    (top, left): (usize, usize),
) {
    let shape = data.shape();
    let plane = shape.height * shape.width;
    for y in 0..shape.height * scale {
        for x in 0..shape.width * scale {
            let at = (y / scale) * shape.width + x / scale;
            let rgb: [u8; 3] = match shape.channels {
                3 => [image[at], image[plane + at], image[2 * plane + at]],
                _ => [image[at]; 3],
            };
            let offset = ((top + y) * picture.width + left + x) * 3;
            picture.pixels[offset..offset + 3].copy_from_slice(&rgb);
        }
    }
}
