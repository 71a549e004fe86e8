//! The fast gemm: matrixmultiply's packing micro-kernels, rows of C split across rayon.
//!
//! Equals `reference::gemm` up to rounding; differs by: blocked, packed, SIMD accumulation
//! (matrixmultiply picks AVX2+FMA or its fallback at run time), and for products of at least
//! [`PAR_FLOPS`] multiply-adds whose C is row-major, C's rows cut into one block per rayon
//! thread (a multiple of 16 rows each), every block an independent matrixmultiply call.
//! matrixmultiply's block sizes (kc, mc, nc) are constants of its kernel, so an element of C
//! gets the same sequence of operations whichever block it is in: the bits do not depend on
//! the thread count. Products with few outputs and a long reduction (k ≥ 2·[`K_CHUNK`]) are
//! instead split over k in fixed chunks, computed in parallel and added in chunk order: a
//! split chosen by the shape alone, so again the same bits on any number of threads.

use rayon::prelude::*;

use super::{GemmArgs, MatMut, MatRef};

/// Below about a million multiply-adds (≈ 20 µs on one core) a product stays on one thread:
/// a rayon hand-off and a second packing of B would eat the gain.
pub const PAR_FLOPS: usize = 1 << 20;

/// Row blocks are multiples of this, so no block ends in a half-empty micro-kernel tile
/// (matrixmultiply's f32 tiles are at most 16 rows tall).
const ROW_QUANTUM: usize = 16;

/// Products whose reduction is this much longer than a chunk, with few outputs, sum over
/// k in fixed chunks of [`K_CHUNK`] in parallel (the `conv` model's 25088-long linear layer:
/// row blocks would each pack all of B). The split depends on the shape alone, never on the
/// thread count, and the partial products are added in chunk order.
pub const K_CHUNK: usize = 2048;

/// At most this many outputs for the k-split (the partial sums are m·n each).
const K_SPLIT_MAX_OUTPUTS: usize = 1 << 16;

/// Fast strided gemm for either element type (see the module docs).
fn gemm_par<T: MmElem + crate::Real>(args: GemmArgs<'_, T>) {
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
    if !mm_threads && m * n * k >= PAR_FLOPS && k >= 2 * K_CHUNK && m * n <= K_SPLIT_MAX_OUTPUTS {
        return k_split(c, alpha, a, b, beta);
    }
    if mm_threads || m * n * k < PAR_FLOPS || threads == 1 || !row_major_c || m < 2 * ROW_QUANTUM {
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
            let a_blk = MatRef {
                data: &a.data[row0 * a.rs..],
                rows,
                ..a
            };
            one_block(c_blk, rs, 1, rows, n, alpha, a_blk, b, beta);
        });
}

/// C = α Σ_chunks A[:, chunk] B[chunk, :] + β C, one partial product per chunk of k.
fn k_split<T: MmElem + crate::Real>(
    c: MatMut<'_, T>,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
) {
    let (m, k, n) = (c.rows, a.cols, c.cols);
    let chunks = k.div_ceil(K_CHUNK);
    let mut partials = vec![T::ZERO; chunks * m * n];
    partials
        .par_chunks_mut(m * n)
        .enumerate()
        .for_each(|(ci, part)| {
            let k0 = ci * K_CHUNK;
            let kk = K_CHUNK.min(k - k0);
            let a_sub = MatRef {
                data: &a.data[k0 * a.cs..],
                cols: kk,
                ..a
            };
            let b_sub = MatRef {
                data: &b.data[k0 * b.rs..],
                rows: kk,
                ..b
            };
            one_block(part, n, 1, m, n, T::ONE, a_sub, b_sub, T::ZERO);
        });
    for i in 0..m {
        for j in 0..n {
            let mut s = T::ZERO;
            for part in partials.chunks_exact(m * n) {
                s += part[i * n + j];
            }
            let cij = &mut c.data[i * c.rs + j * c.cs];
            *cij = if beta == T::ZERO {
                alpha * s
            } else {
                alpha * s + beta * *cij
            };
        }
    }
}

/// Fast strided sgemm (see the module docs).
pub fn sgemm(args: GemmArgs<'_, f32>) {
    gemm_par(args)
}

/// Fast strided dgemm (see the module docs).
pub fn dgemm(args: GemmArgs<'_, f64>) {
    gemm_par(args)
}

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
