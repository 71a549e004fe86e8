//! Fast padding and cropping. Equal to the reference bit for bit (copies); differs by:
//! whole rows copied with `copy_from_slice` (memcpy, which streams with the widest vector
//! moves the CPU has) and the border filled with `fill`, rayon over groups of planes.

use rayon::prelude::*;

use super::{Crop2dShape, Pad2dShape};
use crate::simd::blocks_per_task;
use crate::Real;

/// [`super::reference::pad2d`], row by row.
pub fn pad2d<T: Real>(out: &mut [T], x: &[T], value: T, sh: &Pad2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    if oh * ow == 0 {
        return;
    }
    let hw = sh.h * sh.w;
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .with_min_len(blocks_per_task(oh * ow))
        .for_each(|(p, yp)| {
            let xp = &x[p * hw..(p + 1) * hw];
            let (above, rest) = yp.split_at_mut(sh.top * ow);
            above.fill(value);
            let (inner, below) = rest.split_at_mut(sh.h * ow);
            below.fill(value);
            for (i, row) in inner.chunks_exact_mut(ow).enumerate() {
                row[..sh.left].fill(value);
                row[sh.left..sh.left + sh.w].copy_from_slice(&xp[i * sh.w..(i + 1) * sh.w]);
                row[sh.left + sh.w..].fill(value);
            }
        });
}

/// [`super::reference::crop2d`], row by row.
pub fn crop2d<T: Real>(out: &mut [T], x: &[T], sh: &Crop2dShape) {
    let out_hw = sh.out_h * sh.out_w;
    if out_hw == 0 {
        return;
    }
    let hw = sh.h * sh.w;
    out.par_chunks_mut(out_hw)
        .enumerate()
        .with_min_len(blocks_per_task(out_hw))
        .for_each(|(p, yp)| {
            let xp = &x[p * hw..(p + 1) * hw];
            for (i, row) in yp.chunks_exact_mut(sh.out_w).enumerate() {
                let start = (sh.top + i) * sh.w + sh.left;
                row.copy_from_slice(&xp[start..start + sh.out_w]);
            }
        });
}
