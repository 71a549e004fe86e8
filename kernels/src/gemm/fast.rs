//! The fast gemm: f32 on stitch's packed engine ([`super::packed`]), f64 on matrixmultiply;
//! C split across rayon for large products.
//!
//! Equals `reference::gemm` up to rounding; differs by: blocked, packed, SIMD accumulation,
//! and for products of at least [`PAR_FLOPS`] multiply-adds, C cut into one block per rayon
//! thread, every block an independent call of the engine on this thread:
//! - f32: C's columns are cut (at whole vectors) when A is the smaller operand, its rows (at
//!   whole tiles) otherwise, so each thread packs only its own share of the larger one. The
//!   engine's k-blocks depend on k alone and an output's operations do not depend on the tile
//!   it falls in, so the bits do not depend on the thread count.
//! - f64 (and [`sgemm_matrixmultiply`], kept as the benchmarks' baseline): C's rows, in
//!   multiples of 16; matrixmultiply's block sizes are constants of its kernel, so the same
//!   holds.
//!
//! Products with few outputs and a long reduction (k ≥ 2·[`K_CHUNK`]) are instead split over
//! k in fixed chunks, computed in parallel and added in chunk order: a split chosen by the
//! shape alone, so again the same bits on any number of threads.
//!
//! A narrow C (a few columns, as in a classifier's 10 outputs) is computed as its transpose,
//! whose few rows fill the register tiles better (`transpose_fills_tiles`); the same bits.

use rayon::prelude::*;

use super::packed::{pack_lens, sgemm_packed, tile_shape};
use super::{GemmArgs, MatMut, MatRef};
use crate::conv2d::planes::Width;
use crate::isa::isa;
use crate::scratch::with_packing;

/// Below 2M multiply-adds (≈ 0.02 ms on one AVX-512 core) a product stays on one thread:
/// waking a sleeping worker costs about as much as it saves. The rule assumes the caller
/// runs on one of the pool's workers (as `stitch`'s commands do), so a split hands half the
/// product to one other thread and computes the rest itself. From outside the pool every
/// split wakes all the workers and puts the caller to sleep, and the `dnn` model's
/// 128×784×128 products were then faster on one thread (its epoch 0.29–0.32 s against 0.42
/// split, Xeon, 2026-12-03); split from a worker, that epoch takes 0.24–0.27 s against
/// 0.31–0.33 on one thread (`stitch train --model dnn --epochs 1 --threads 2`, Zen 4,
/// 2026-12-08, four rounds; the same with the threshold at 1M), and the cnn's classifier
/// (128 × 3136 × 10, 4.0M) forward 0.20 → 0.13–0.14 ms, backward 0.32 → 0.27–0.28
/// (`stitch profile --model cnn --steps 150 --real-data`, threshold 4M → 2M).
pub const PAR_FLOPS: usize = 1 << 21;

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
    add_partials(c, alpha, beta, &partials);
}

/// C = α Σ_chunks partial + β C, the chunks added in order.
fn add_partials<T: crate::Real>(c: MatMut<'_, T>, alpha: T, beta: T, partials: &[T]) {
    let (m, n) = (c.rows, c.cols);
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
    sgemm_at(width(), args)
}

/// The width the packed sgemm runs at: the ISA's, or the portable 4 lanes without one.
pub fn width() -> Width {
    Width::for_isa(isa()).unwrap_or(Width::Scalar4)
}

/// [`sgemm`] at a given width (tests run every width the CPU has).
pub fn sgemm_at(width: Width, args: GemmArgs<'_, f32>) {
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
    if c.cs != 1 || c.rs < n {
        // Only a row-major C is cut into rows; a column-major one is the transposed product
        // Cᵀ = Bᵀ Aᵀ, anything else goes to matrixmultiply.
        if c.rs == 1 && c.cs >= m {
            let ct = MatMut {
                data: c.data,
                rows: n,
                cols: m,
                rs: c.cs,
                cs: 1,
            };
            return sgemm_at(
                width,
                GemmArgs {
                    c: ct,
                    alpha,
                    a: b.t(),
                    b: a.t(),
                    beta,
                },
            );
        }
        return gemm_par(GemmArgs {
            c,
            alpha,
            a,
            b,
            beta,
        });
    }
    if transpose_fills_tiles(width, m, n) {
        return via_transpose(width, c, alpha, a, b, beta);
    }
    let threads = rayon::current_num_threads();
    if m * n * k >= PAR_FLOPS && k >= 2 * K_CHUNK && m * n <= K_SPLIT_MAX_OUTPUTS {
        return k_split_packed(width, c, alpha, a, b, beta);
    }
    let mut rows = rows_of(c.data, c.rs, m, n);
    if m * n * k < PAR_FLOPS || threads == 1 {
        return packed_block(width, &mut rows, n, alpha, a, b, beta);
    }
    let (mr, lanes) = (tile_shape(width).0, width.lanes());
    if m <= n && n >= 2 * lanes {
        // Columns: every job packs all of A (the smaller) and its own columns of B.
        let cut = n.div_ceil(threads).div_ceil(lanes) * lanes;
        let mut jobs: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(cut)).map(|_| Vec::new()).collect();
        for row in rows {
            let mut rest = row;
            for job in jobs.iter_mut() {
                let (head, tail) = rest.split_at_mut(cut.min(rest.len()));
                job.push(head);
                rest = tail;
            }
        }
        jobs.into_par_iter().enumerate().for_each(|(ji, mut job)| {
            let (j0, cols) = (ji * cut, cut.min(n - ji * cut));
            let b_job = MatRef {
                data: &b.data[j0 * b.cs..],
                cols,
                ..b
            };
            packed_block(width, &mut job, cols, alpha, a, b_job, beta);
        });
    } else if m >= 2 * mr {
        // Rows: every job packs all of B (the smaller) and its own rows of A.
        let cut = m.div_ceil(threads).div_ceil(mr) * mr;
        rows.par_chunks_mut(cut).enumerate().for_each(|(ji, job)| {
            let a_job = MatRef {
                data: &a.data[ji * cut * a.rs..],
                rows: job.len(),
                ..a
            };
            packed_block(width, job, n, alpha, a_job, b, beta);
        });
    } else {
        packed_block(width, &mut rows, n, alpha, a, b, beta);
    }
}

/// The share of the register tiles covering an m × n product that holds outputs: tiles are
/// MR rows by NR columns, and the rows and columns past m and n are computed and dropped.
fn tile_use(width: Width, m: usize, n: usize) -> f64 {
    let (mr, nr) = (tile_shape(width).0, width.lanes() * tile_shape(width).1);
    (m as f64 / m.next_multiple_of(mr) as f64) * (n as f64 / n.next_multiple_of(nr) as f64)
}

/// Whether Cᵀ = Bᵀ Aᵀ fills the tiles much better than C = A B: a narrow C, such as the
/// cnn's classifier (128 × 3136 × 10: 10 of an AVX-512 tile's 48 columns, 21 % of its
/// work kept), has its few columns as Cᵀ's rows (10 of 16 rows, 56 %). Depends on the shape
/// and the width alone.
fn transpose_fills_tiles(width: Width, m: usize, n: usize) -> bool {
    tile_use(width, n, m) > 1.5 * tile_use(width, m, n)
}

/// C = α A B + β C computed as Cᵀ = α Bᵀ Aᵀ + β Cᵀ in a row-major buffer, then copied back.
/// Each output gets the same operations in the same order as on the direct route (its
/// products a·b are b·a, exactly; the k-blocks and k-chunks depend on k alone), so the
/// route changes no bits.
fn via_transpose(
    width: Width,
    c: MatMut<'_, f32>,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
) {
    let (m, n, rs) = (c.rows, c.cols, c.rs);
    // Cᵀ (n × m); it holds C's values only where β reads them.
    let mut ct = vec![0.0f32; n * m];
    if beta != 0.0 {
        for (i, row) in c.data.chunks(rs).take(m).enumerate() {
            for (j, &x) in row[..n].iter().enumerate() {
                ct[j * m + i] = x;
            }
        }
    }
    sgemm_at(
        width,
        GemmArgs {
            c: MatMut::row_major(&mut ct, n, m),
            alpha,
            a: b.t(),
            b: a.t(),
            beta,
        },
    );
    for (i, row) in c.data.chunks_mut(rs).take(m).enumerate() {
        for (j, x) in row[..n].iter_mut().enumerate() {
            *x = ct[j * m + i];
        }
    }
}

/// C's first m rows, each cut to its n columns.
fn rows_of(data: &mut [f32], rs: usize, m: usize, n: usize) -> Vec<&mut [f32]> {
    data.chunks_mut(rs)
        .take(m)
        .map(|row| &mut row[..n])
        .collect()
}

/// One call of the packed engine on this thread, with this thread's packing buffers.
fn packed_block(
    width: Width,
    rows: &mut [&mut [f32]],
    n: usize,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
) {
    let (la, lb) = pack_lens(width, rows.len(), a.cols, n);
    with_packing(la, lb, |pa, pb| {
        sgemm_packed(width, rows, n, alpha, a, b, beta, (pa, pb))
    });
}

/// [`k_split`] on the packed engine.
fn k_split_packed(
    width: Width,
    c: MatMut<'_, f32>,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
) {
    let (m, k, n) = (c.rows, a.cols, c.cols);
    let chunks = k.div_ceil(K_CHUNK);
    // This thread's scratch (a fresh 0.5–1 MB allocation per call would fault its pages in
    // every time); the chunks' own tasks only borrow the packing buffers.
    crate::scratch::with_partials(chunks * m * n, |partials| {
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
                let mut rows = rows_of(part, n, m, n);
                packed_block(width, &mut rows, n, 1.0, a_sub, b_sub, 0.0);
            });
        add_partials(c, alpha, beta, partials);
    });
}

/// The fast sgemm before stitch had its own (matrixmultiply's packing micro-kernels, C's rows
/// split across rayon): the benchmarks' baseline.
pub fn sgemm_matrixmultiply(args: GemmArgs<'_, f32>) {
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
    let (m, n) = (c.rows, c.cols);
    if m == 0 || n == 0 {
        return;
    }
    if c.cs != 1 || c.rs < n {
        one_block(c.data, c.rs, c.cs, m, n, alpha, a, b, beta);
        return;
    }
    let mut rows = rows_of(c.data, c.rs, m, n);
    packed_block(width(), &mut rows, n, alpha, a, b, beta);
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
