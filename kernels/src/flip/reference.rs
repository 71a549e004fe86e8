//! The flip loop of `mod.rs`.

use crate::Real;

/// y\[r, j\] = x\[r, W − 1 − j\]
pub fn flip_w<T: Real>(out: &mut [T], x: &[T], w: usize) {
    for r in 0..x.len() / w.max(1) {
        for j in 0..w {
            out[r * w + j] = x[r * w + w - 1 - j];
        }
    }
}
