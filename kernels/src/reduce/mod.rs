//! Reductions: `sum` of a slice.
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
