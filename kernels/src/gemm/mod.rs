//! General matrix product: `C = α A B + β C` (BLAS's gemm).
//!
//! Shapes: A is m×k, B is k×n, C is m×n. Each matrix is a slice plus a row stride and a
//! column stride ([`MatRef`], [`MatMut`]): element (i, j) lives at `data[i * rs + j * cs]`.
//! A transpose is [`MatRef::t`], a swap of the strides: no copy is ever made.
//!
//! When β = 0, C is only written, never read (a C full of NaN gives a clean product), which is
//! BLAS's and matrixmultiply's rule.
//!
//! The fast path for f32 is stitch's own packed engine ([`packed`]: BLIS's loops around one
//! register tile written once over the `Lanes` widths, AVX-512, AVX2, NEON and portable), with C
//! split across rayon for large products, or, for few outputs and a long reduction, k split
//! into fixed chunks added in order (see `fast.rs`); f64 (gradient checks) takes
//! matrixmultiply's dgemm. Either way the result does not depend on the thread count.

pub mod fast;
pub mod packed;
pub mod reference;
mod tile;

use crate::{op_mode, KernelOp, Mode, Real};

/// A read-only strided view of a matrix.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// The elements.
    pub data: &'a [T],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Elements between (i, j) and (i + 1, j).
    pub rs: usize,
    /// Elements between (i, j) and (i, j + 1).
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A contiguous row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose: rows become columns by swapping the strides.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// The element at (i, j).
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> &T {
        &self.data[i * self.rs + j * self.cs]
    }
}

/// A writable strided view of a matrix.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// The elements.
    pub data: &'a mut [T],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row stride in elements.
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl<'a, T> MatMut<'a, T> {
    /// A contiguous row-major `rows × cols` matrix.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
}

/// Everything one gemm call needs, passed to the reference or fast implementation.
#[derive(Debug)]
pub struct GemmArgs<'a, T> {
    /// Channels.
    pub c: MatMut<'a, T>,
    /// Scale of the product.
    pub alpha: T,
    /// The left operand.
    pub a: MatRef<'a, T>,
    /// The right operand.
    pub b: MatRef<'a, T>,
    /// Scale of the existing C (0 overwrites it).
    pub beta: T,
}

/// The number of elements a strided view reaches: its last element's index + 1.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `C = α A B + β C`. Panics with the shapes if they do not chain or a view overruns its
/// slice.
#[track_caller]
pub fn gemm<T: Real>(c: MatMut<'_, T>, alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T) {
    assert!(
        a.rows == c.rows && b.cols == c.cols && a.cols == b.rows,
        "gemm: A is {}x{}, B is {}x{}, C is {}x{}: need A m×k, B k×n, C m×n",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    for (name, len, need) in [
        ("A", a.data.len(), extent(a.rows, a.cols, a.rs, a.cs)),
        ("B", b.data.len(), extent(b.rows, b.cols, b.rs, b.cs)),
        ("C", c.data.len(), extent(c.rows, c.cols, c.rs, c.cs)),
    ] {
        assert!(
            len >= need,
            "gemm: {name} needs {need} elements for its view, has {len}"
        );
    }
    let args = GemmArgs {
        c,
        alpha,
        a,
        b,
        beta,
    };
    match op_mode(KernelOp::Gemm) {
        Mode::Reference => reference::gemm(args),
        Mode::Fast => T::gemm_fast(args),
    }
}
