//! The plain dropout loop: forward and backward are the same map.

use super::{draw, keep_threshold};
use crate::Real;

/// out_i = x_i · [draw(key, i) < threshold] / (1 − p)
pub fn dropout_apply<T: Real>(out: &mut [T], x: &[T], p: f64, key: u64) {
    let t = keep_threshold(p);
    let scale = T::from_f64(1.0 / (1.0 - p));
    for i in 0..out.len() {
        out[i] = if draw(key, i as u32) < t {
            x[i] * scale
        } else {
            T::ZERO
        };
    }
}

/// The same map in place: x_i ← x_i · [draw(key, i) < threshold] / (1 − p) (the backward
/// pass applies it to G's own buffer).
pub fn dropout_apply_in_place<T: Real>(xs: &mut [T], p: f64, key: u64) {
    let t = keep_threshold(p);
    let scale = T::from_f64(1.0 / (1.0 - p));
    for (i, v) in xs.iter_mut().enumerate() {
        *v = if draw(key, i as u32) < t {
            *v * scale
        } else {
            T::ZERO
        };
    }
}
