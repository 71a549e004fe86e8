//! Flip over the last dimension (W): the horizontal mirror of every row, PyTorch's
//! `torch.flip(x, dims=[-1])`.
//!
//!   y\[·, i, j\] = x\[·, i, W − 1 − j\]     ∂x = flip(G)   (the flip is its own inverse)
//!
//! `rows` = the product of the leading dimensions; one row is W long. A copy: the fast
//! version equals the reference bit for bit.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// y = x with every `w`-long row reversed (overwrites `out`).
#[track_caller]
pub fn flip_w<T: Real>(out: &mut [T], input: &[T], w: usize) {
    assert!(
        out.len() == input.len(),
        "flip_w: out has {} elements, the input {}",
        out.len(),
        input.len()
    );
    assert!(
        (w > 0 && input.len().is_multiple_of(w)) || input.is_empty(),
        "flip_w: {} elements are not whole rows of {w}",
        input.len()
    );
    match op_mode(KernelOp::Layout) {
        Mode::Reference => reference::flip_w(out, input, w),
        Mode::Fast => fast::flip_w(out, input, w),
    }
}
