//! Tiles of 2-D maps (filters, feature maps) laid out as one greyscale image.
//!
//! Each tile is normalised on its own to 0–255 (min → black, max → white), so a map with
//! small values is as visible as one with large values; a constant tile is mid-grey.

use super::png::{Color, Image};

/// `maps` holds `count` maps of `h` × `w` values, one after another. They are laid out in
/// rows of `columns` tiles with a `gap`-pixel border, then upscaled by `scale`.
pub fn tile(maps: &[f32], count: usize, h: usize, w: usize, columns: usize, scale: usize) -> Image {
    let gap = 1;
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns);
    let mut img = Image::new(
        columns * (w + gap) + gap,
        rows * (h + gap) + gap,
        Color::Grey,
    );
    // The border is a dark grey so black tile pixels stay visible.
    img.pixels.iter_mut().for_each(|p| *p = 40);
    for k in 0..count {
        let m = &maps[k * h * w..(k + 1) * h * w];
        let (lo, hi) = m
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (r0, c0) = (
            (k / columns) * (h + gap) + gap,
            (k % columns) * (w + gap) + gap,
        );
        for y in 0..h {
            for x in 0..w {
                let v = m[y * w + x];
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                img.pixels[(r0 + y) * img.width + c0 + x] = (t * 255.0).round() as u8;
            }
        }
    }
    img.upscale(scale.max(1))
}
