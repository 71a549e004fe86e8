//! The textbook triple loop.

use super::GemmArgs;
use crate::Real;

/// C\[i\]\[j\] = α Σₚ A\[i\]\[p\] · B\[p\]\[j\] + β C\[i\]\[j\]   (C is not read when β = 0)
pub fn gemm<T: Real>(args: GemmArgs<'_, T>) {
    let GemmArgs {
        c,
        alpha,
        a,
        b,
        beta,
    } = args;
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut acc = T::ZERO;
            for p in 0..a.cols {
                acc += *a.at(i, p) * *b.at(p, j);
            }
            let cij = &mut c.data[i * c.rs + j * c.cs];
            *cij = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *cij
            };
        }
    }
}
