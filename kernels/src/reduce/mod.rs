//! Reductions: `sum` of a slice, and `mean_rows`, the mean of each row (the mean over the
//! trailing axes, global average pooling) with its gradient `mean_rows_backward`.
//!
//! The fast sum cuts the slice into [`crate::CHUNK`]-long pieces at fixed offsets, sums each
//! piece with SIMD accumulators, and adds the partial sums in piece order. The pieces are the
//! same whether one thread or eight do the work, so the result is bitwise independent of the
//! thread count. It is not bitwise equal to the reference's left-to-right sum (floating-point
//! addition is not associative), only close to it: tests compare with a relative tolerance.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// `Σᵢ x[i]`; 0 for an empty slice.
pub fn sum<T: Real>(x: &[T]) -> T {
    match op_mode(KernelOp::Reduce) {
        Mode::Reference => reference::sum(x),
        Mode::Fast => T::sum_fast(x),
    }
}

/// yᵣ = (1/n) Σⱼ x\[r, j\] for each of the `y.len()` rows of `x`.
#[track_caller]
pub fn mean_rows<T: Real>(y: &mut [T], x: &[T]) {
    assert!(
        (y.is_empty() && x.is_empty()) || (!y.is_empty() && x.len().is_multiple_of(y.len())),
        "mean_rows: {} elements are not {} equal rows",
        x.len(),
        y.len()
    );
    match op_mode(KernelOp::Reduce) {
        Mode::Reference => reference::mean_rows(y, x),
        Mode::Fast => fast::mean_rows(y, x),
    }
}

/// d_x\[r, j\] = g\[r\] / n (overwrites `d_x`).
#[track_caller]
pub fn mean_rows_backward<T: Real>(d_x: &mut [T], g: &[T]) {
    assert!(
        (g.is_empty() && d_x.is_empty()) || (!g.is_empty() && d_x.len().is_multiple_of(g.len())),
        "mean_rows_backward: {} elements are not {} equal rows",
        d_x.len(),
        g.len()
    );
    match op_mode(KernelOp::Reduce) {
        Mode::Reference => reference::mean_rows_backward(d_x, g),
        Mode::Fast => fast::mean_rows_backward(d_x, g),
    }
}
