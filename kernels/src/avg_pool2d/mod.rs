//! 2-D average pooling, NCHW (PyTorch's `F.avg_pool2d` with its defaults
//! `count_include_pad=True`, `ceil_mode=False`).
//!
//! Shapes: x [N, C, H, W] → y [N, C, P, Q], P = ⌊(H + 2·pad − kh) / stride⌋ + 1 (Q likewise),
//! the [`Pool2dShape`] of max pooling.
//! Forward:  y\[n,c,p,q\] = (1 / (kh·kw)) · Σ_{(i,j) in window(p,q) ∩ image} x\[n,c,i,j\]
//!           Padded positions count as zeros: the divisor is always kh·kw (with
//!           `ceil_mode=False` no window reaches beyond the padded input, so PyTorch's
//!           divisor is the same).
//! Backward: ∂x\[n,c,i,j\] = Σ_{(p,q) : (i,j) in window(p,q)} G\[n,c,p,q\] / (kh·kw)

pub mod fast;
pub mod reference;

pub use crate::max_pool2d::Pool2dShape;
use crate::{op_mode, KernelOp, Mode, Real};

#[track_caller]
fn check(kernel: &str, sh: &Pool2dShape, lens: &[(&str, usize, usize)]) {
    if let Err(e) = sh.validate_for("avg_pool2d") {
        panic!("{e} ({kernel})");
    }
    for &(what, got, want) in lens {
        assert!(
            got == want,
            "{kernel}: {what} has {got} elements, expected {want} for {sh:?}"
        );
    }
}

/// y = the mean of each window (padding counted as zeros).
#[track_caller]
pub fn avg_pool2d_forward<T: Real>(out: &mut [T], input: &[T], sh: &Pool2dShape) {
    check(
        "avg_pool2d_forward",
        sh,
        &[
            ("out", out.len(), sh.output_len()),
            ("input", input.len(), sh.input_len()),
        ],
    );
    match op_mode(KernelOp::AvgPool2d) {
        Mode::Reference => reference::avg_pool2d_forward(out, input, sh),
        Mode::Fast => fast::avg_pool2d_forward(out, input, sh),
    }
}

/// ∂x from ∂y (overwrites `d_input`).
#[track_caller]
pub fn avg_pool2d_backward<T: Real>(d_input: &mut [T], d_out: &[T], sh: &Pool2dShape) {
    check(
        "avg_pool2d_backward",
        sh,
        &[
            ("d_input", d_input.len(), sh.input_len()),
            ("d_out", d_out.len(), sh.output_len()),
        ],
    );
    match op_mode(KernelOp::AvgPool2d) {
        Mode::Reference => reference::avg_pool2d_backward(d_input, d_out, sh),
        Mode::Fast => fast::avg_pool2d_backward(d_input, d_out, sh),
    }
}
