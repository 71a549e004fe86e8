//! Elementwise kernels: `add`, `mul`, `axpy`, `scale`, `relu_forward`, `relu_backward`,
//! the masked ReLU (`relu_mask`) and the masked pair of the fused ReLU ops,
//! `relu_in_place_mask` and `mask_in_place`, and
//! `add_relu_mask`, the fused end of a residual block.
//!
//! All slices of one call have the same length `n`; the functions here check that once and
//! panic with the kernel's name and both lengths otherwise, then run the reference loop or
//! the fast kernel according to [`crate::mode`].
//!
//! ReLU convention (PyTorch's): `relu(x) = max(x, 0)`, NaN stays NaN, and the derivative at
//! exactly 0 is taken as 0, so `d_input = d_out * [x > 0]`.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

#[track_caller]
fn check_len(kernel: &str, what: &str, expected: usize, got: usize) {
    assert!(
        expected == got,
        "{kernel}: {what} has {got} elements, expected {expected} (the output's length)"
    );
}

/// `out[i] = a[i] + b[i]`.
#[track_caller]
pub fn add<T: Real>(out: &mut [T], a: &[T], b: &[T]) {
    check_len("add", "a", out.len(), a.len());
    check_len("add", "b", out.len(), b.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::add(out, a, b),
        Mode::Fast => T::add_fast(out, a, b),
    }
}

/// `out[i] = a[i] * b[i]`.
#[track_caller]
pub fn mul<T: Real>(out: &mut [T], a: &[T], b: &[T]) {
    check_len("mul", "a", out.len(), a.len());
    check_len("mul", "b", out.len(), b.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::mul(out, a, b),
        Mode::Fast => T::mul_fast(out, a, b),
    }
}

/// `y[i] += alpha * x[i]` (BLAS's axpy): how gradients accumulate.
#[track_caller]
pub fn axpy<T: Real>(y: &mut [T], alpha: T, x: &[T]) {
    check_len("axpy", "x", y.len(), x.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::axpy(y, alpha, x),
        Mode::Fast => T::axpy_fast(y, alpha, x),
    }
}

/// `out[i] = alpha * x[i]`.
#[track_caller]
pub fn scale<T: Real>(out: &mut [T], alpha: T, x: &[T]) {
    check_len("scale", "x", out.len(), x.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::scale(out, alpha, x),
        Mode::Fast => T::scale_fast(out, alpha, x),
    }
}

/// `out[i] = max(x[i], 0)`.
#[track_caller]
pub fn relu_forward<T: Real>(out: &mut [T], x: &[T]) {
    check_len("relu_forward", "x", out.len(), x.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::relu_forward(out, x),
        Mode::Fast => T::relu_forward_fast(out, x),
    }
}

/// `d_input[i] = d_out[i] * [x[i] > 0]`, where `x` is ReLU's input.
#[track_caller]
pub fn relu_backward<T: Real>(d_input: &mut [T], d_out: &[T], x: &[T]) {
    check_len("relu_backward", "d_out", d_input.len(), d_out.len());
    check_len("relu_backward", "x", d_input.len(), x.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::relu_backward(d_input, d_out, x),
        Mode::Fast => T::relu_backward_fast(d_input, d_out, x),
    }
}

/// ReLU in place with the sign mask its backward needs (see
/// [`reference::relu_in_place_mask`]).
#[track_caller]
pub fn relu_in_place_mask<T: Real>(y: &mut [T], positive: &mut [bool]) {
    check_len("relu_in_place_mask", "positive", y.len(), positive.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::relu_in_place_mask(y, positive),
        Mode::Fast => fast::relu_in_place_mask(y, positive),
    }
}

/// `y = relu(x)` with its sign mask (see [`reference::relu_mask`]).
#[track_caller]
pub fn relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], x: &[T]) {
    check_len("relu_mask", "positive", y.len(), positive.len());
    check_len("relu_mask", "x", y.len(), x.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::relu_mask(y, positive, x),
        Mode::Fast => fast::relu_mask(y, positive, x),
    }
}

/// Zeroes `g` where `positive` is false (see [`reference::mask_in_place`]).
#[track_caller]
pub fn mask_in_place<T: Real>(g: &mut [T], positive: &[bool]) {
    check_len("mask_in_place", "positive", g.len(), positive.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::mask_in_place(g, positive),
        Mode::Fast => fast::mask_in_place(g, positive),
    }
}

/// `y = relu(a + b)` with its sign mask (see [`reference::add_relu_mask`]).
#[track_caller]
pub fn add_relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], a: &[T], b: &[T]) {
    check_len("add_relu_mask", "positive", y.len(), positive.len());
    check_len("add_relu_mask", "a", y.len(), a.len());
    check_len("add_relu_mask", "b", y.len(), b.len());
    match op_mode(KernelOp::Elementwise) {
        Mode::Reference => reference::add_relu_mask(y, positive, a, b),
        Mode::Fast => fast::add_relu_mask(y, positive, a, b),
    }
}
