//! The fast gemm: matrixmultiply's packing micro-kernels, rows of C split across rayon.
//!
//! Equals `reference::gemm` up to rounding; differs by: blocked, packed, SIMD accumulation
//! (matrixmultiply picks AVX2+FMA or its fallback at run time), and for products of at least
//! [`PAR_FLOPS`] multiply-adds whose C is row-major, C's rows cut into one block per rayon
//! thread (a multiple of 16 rows each), every block an independent matrixmultiply call.
//! matrixmultiply's block sizes (kc, mc, nc) are constants of its kernel, so an element of C
//! gets the same sequence of operations whichever block it is in: the bits do not depend on
//! the thread count.

use rayon::prelude::*;

use super::{GemmArgs, MatRef};

/// Below about a million multiply-adds (≈ 20 µs on one core) a product stays on one thread:
/// a rayon hand-off and a second packing of B would eat the gain.
pub const PAR_FLOPS: usize = 1 << 20;

/// Row blocks are multiples of this, so no block ends in a half-empty micro-kernel tile
/// (matrixmultiply's f32 tiles are at most 16 rows tall).
const ROW_QUANTUM: usize = 16;

macro_rules! gemm_impl {
    ($name:ident, $t:ty) => {
        /// Fast strided gemm for this element type (see the module docs).
        pub fn $name(args: GemmArgs<'_, $t>) {
            let GemmArgs {
                c,
                alpha,
                a,
                b,
                beta,
            } = args;
            let (m, k, n) = (c.rows, a.cols, c.cols);
            if m == 0 || n == 0 {
                return;
            }
            let threads = rayon::current_num_threads();
            let row_major_c = c.cs == 1 && c.rs >= n;
            let mm_threads = cfg!(feature = "mm-threading");
            if mm_threads
                || m * n * k < PAR_FLOPS
                || threads == 1
                || !row_major_c
                || m < 2 * ROW_QUANTUM
            {
                one_block(c.data, c.rs, c.cs, m, n, alpha, a, b, beta);
                return;
            }
            let rows_per_block = m.div_ceil(threads).div_ceil(ROW_QUANTUM) * ROW_QUANTUM;
            let rs = c.rs;
            let used = (m - 1) * rs + n;
            c.data[..used]
                .par_chunks_mut(rows_per_block * rs)
                .enumerate()
                .for_each(|(blk, c_blk)| {
                    let row0 = blk * rows_per_block;
                    let rows = rows_per_block.min(m - row0);
                    let a_off = row0 * a.rs;
                    let a_blk = MatRef {
                        data: &a.data[a_off..],
                        rows,
                        ..a
                    };
                    one_block(c_blk, rs, 1, rows, n, alpha, a_blk, b, beta);
                });
        }
    };
}

gemm_impl!(sgemm, f32);

/// `sgemm` on the calling thread only: for callers that already run one task per image on
/// rayon's pool (a nested split would only add hand-offs).
pub fn sgemm_serial(args: GemmArgs<'_, f32>) {
    let GemmArgs {
        c,
        alpha,
        a,
        b,
        beta,
    } = args;
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    one_block(c.data, c.rs, c.cs, c.rows, c.cols, alpha, a, b, beta);
}
gemm_impl!(dgemm, f64);

/// One matrixmultiply call on a block of rows.
#[allow(clippy::too_many_arguments)]
fn one_block<T: MmElem>(
    c: &mut [T],
    rsc: usize,
    csc: usize,
    m: usize,
    n: usize,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
) {
    let k = a.cols;
    // The extents were checked by `gemm::gemm` (and for a row block, `used` bounds it), so
    // every index matrixmultiply forms from these strides stays inside the slices.
    let need_c = (m - 1) * rsc + (n - 1) * csc + 1;
    assert!(c.len() >= need_c, "gemm block: C too short");
    T::mm(m, k, n, alpha, a, b, beta, c, rsc, csc);
}

/// The element types matrixmultiply provides a gemm for.
trait MmElem: Copy {
    #[allow(clippy::too_many_arguments)]
    fn mm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        beta: Self,
        c: &mut [Self],
        rsc: usize,
        csc: usize,
    );
}

macro_rules! mm_elem {
    ($t:ty, $f:path) => {
        impl MmElem for $t {
            fn mm(
                m: usize,
                k: usize,
                n: usize,
                alpha: $t,
                a: MatRef<'_, $t>,
                b: MatRef<'_, $t>,
                beta: $t,
                c: &mut [$t],
                rsc: usize,
                csc: usize,
            ) {
                // SAFETY: matrixmultiply reads A and B and writes C only at indices
                // i*rs + j*cs for i < rows, j < cols; `gemm::gemm` asserted that every such
                // index is inside `a.data`, `b.data`, and the caller asserted it for `c`.
                // With k = 0 nothing is read from A or B.
                unsafe {
                    $f(
                        m,
                        k,
                        n,
                        alpha,
                        a.data.as_ptr(),
                        a.rs as isize,
                        a.cs as isize,
                        b.data.as_ptr(),
                        b.rs as isize,
                        b.cs as isize,
                        beta,
                        c.as_mut_ptr(),
                        rsc as isize,
                        csc as isize,
                    )
                }
            }
        }
    };
}

mm_elem!(f32, matrixmultiply::sgemm);
mm_elem!(f64, matrixmultiply::dgemm);
