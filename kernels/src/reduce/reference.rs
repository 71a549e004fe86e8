//! The plain reduction loops.

use crate::Real;

/// s = Σᵢ xᵢ, added left to right.
pub fn sum<T: Real>(x: &[T]) -> T {
    let mut s = T::ZERO;
    for &v in x {
        s += v;
    }
    s
}
