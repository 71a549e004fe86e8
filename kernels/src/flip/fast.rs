//! Fast flip. Equal to the reference bit for bit (a copy); differs by: rows reversed with
//! an iterator the compiler turns into vector loads, lane reversals and stores, and rayon
//! over groups of rows once there is enough work.

use rayon::prelude::*;

use crate::simd::blocks_per_task;
use crate::Real;

/// [`super::reference::flip_w`], row by row.
pub fn flip_w<T: Real>(out: &mut [T], x: &[T], w: usize) {
    if x.is_empty() {
        return;
    }
    let rows_per_task = blocks_per_task(w);
    out.par_chunks_mut(w * rows_per_task)
        .zip(x.par_chunks(w * rows_per_task))
        .for_each(|(yo, xo)| {
            for (yr, xr) in yo.chunks_exact_mut(w).zip(xo.chunks_exact(w)) {
                for (y, &v) in yr.iter_mut().zip(xr.iter().rev()) {
                    *y = v;
                }
            }
        });
}
