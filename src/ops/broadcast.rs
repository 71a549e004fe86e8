//! Broadcasting helpers shared by the binary ops: apply a function over the broadcast shape,
//! and sum a gradient back down to an input's shape.
//!
//! If y = f(a, b) broadcasts `a` along some dimensions, every element of `a` was used once
//! per repetition, so ∂L/∂a is the sum of ∂L/∂y over the repeated positions.

use crate::tensor::shape::{broadcast_strides, for_each_broadcast, numel};
use crate::Real;

/// `out[i] = f(a[ia], b[ib])` over the broadcast shape `out_shape`.
pub fn map2<T: Real>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out = vec![T::ZERO; numel(out_shape)];
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    for_each_broadcast(out_shape, &sa, &sb, |o, ia, ib| out[o] = f(a[ia], b[ib]));
    out
}

/// Σ of `g` (shape `out_shape`) over the dimensions along which `shape` was broadcast: the
/// gradient of a broadcast input. Reads `g` once and writes only the reduced result; when
/// no broadcasting happened it is a copy (callers pass G on without calling this then).
pub fn sum_to_shape<T: Real>(g: &[T], out_shape: &[usize], shape: &[usize]) -> Vec<T> {
    if numel(out_shape) == numel(shape) {
        return g.to_vec();
    }
    let mut acc = vec![T::ZERO; numel(shape)];
    let s = broadcast_strides(shape, out_shape);
    for_each_broadcast(out_shape, &s, &s, |o, i, _| acc[i] += g[o]);
    acc
}

/// [`sum_to_shape`] of a full-size product the caller owns: handed back as it is when no
/// broadcasting happened.
pub fn sum_owned_to_shape<T: Real>(full: Vec<T>, out_shape: &[usize], shape: &[usize]) -> Vec<T> {
    if numel(out_shape) == numel(shape) {
        full
    } else {
        sum_to_shape(&full, out_shape, shape)
    }
}
