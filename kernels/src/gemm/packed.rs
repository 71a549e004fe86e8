//! The packed gemm: BLIS's loops around one register tile, written once for every SIMD width.
//!
//! C (m×n) = α A (m×k) B (k×n) + β C, on the calling thread, C given as its rows:
//!
//! ```text
//! for jc in 0..n step NC                   a block of NC columns of C
//!   for each kc-block pc of 0..k           (the blocks depend on k and the width alone)
//!     pack B[pc.., jc..] into B̃            kc × NC in panels of NR columns: in L2
//!     for ic in 0..m step MC
//!       pack A[ic.., pc..] into Ã          MC × kc in panels of MR rows: in L2
//!       for jr in 0..NC step NR            one panel of B̃, kc × NR: stays in L1
//!         for ir in 0..MC step MR          one panel of Ã streams past it
//!           C[ic + ir.., jc + jr..] = α Ã B̃ + β' C     (β' = β on the first block, then 1)
//! ```
//!
//! Packing lays each operand out in the order the tile reads it: a panel of Ã as kc rows of
//! MR floats (row p holds A\[i..i + MR, pc + p\]), a panel of B̃ as kc rows of NR floats. Rows
//! past m and columns past n are zeros, which add nothing to the outputs that are kept.
//! Packing also makes any stride of A and B (a transposed view) read the same to the tile.
//!
//! Rounding: an output gets, for each k-block in order, one fused multiply-add chain over
//! the block, then C = α·acc + β'·C. The blocks are cut from k alone, and the tile an output
//! falls in (full, narrower, or an edge) does not change its operations, so its bits do not
//! depend on how a caller splits C across threads.
//!
//! Tiles per width (accumulators = MR × NV vectors; the rest of the registers hold B̃'s NV
//! vectors and Ã's broadcast, which AVX-512 folds into the multiply-add as a memory operand):
//! - AVX-512: 8 × 3 vectors of 16 (24 + 3 of 32 registers). A 6 × 4 tile, whose 64-column
//!   panels cover the ladder's 128-wide products without an edge, ran the `conv` model's
//!   128 × 25088 × 128 forward at 137 against 155 GFLOP/s (`stitch profile --model conv`,
//!   Zen 4, 2026-12-08);
//! - AVX2: 4 × 2 vectors of 8 (8 + 2 + 1 of 16): 4 × 3 needs all 16 registers and the
//!   compiler spilled one accumulator (square 512 on one core 44 → 52–57 GFLOP/s);
//! - NEON: 8 × 3 vectors of 4 (24 + 3 + 2 of 32), BLIS's ARMv8 kernel;
//! - the portable widths: 4 × 3 vectors (tests of the loop logic at any width).

use super::{tile::tile, MatRef};
use crate::conv2d::planes::Width;
#[cfg(target_arch = "aarch64")]
use crate::vector::Neon;
#[cfg(target_arch = "x86_64")]
use crate::vector::{Avx2, Avx512};
use crate::vector::{Lanes, Scalar1, Scalar4};

/// Bytes of one panel of B̃ (kc × NR floats) that should stay in L1 while the panels of Ã
/// stream past it: half of a 48 KB L1 (Intel since Ice Lake; 32 KB on Zen 3, 64–128 KB on
/// Apple's cores), leaving room for C's tile and Ã's panel.
const B_PANEL_BYTES: usize = 32 * 1024;

/// The longest k-block: a panel of B̃ within `B_PANEL_BYTES` (32 KiB), at most 256 (beyond that
/// C's tile is re-read so rarely it no longer matters), and a multiple of 16 so the packing's
/// transposes (16 × 16 at most) have no ragged edge along k.
pub fn kc_max(width: Width) -> usize {
    (B_PANEL_BYTES / (4 * nr(width))).min(256) / 16 * 16
}

/// Rows of C per block of Ã: MC × kc ≤ 192 × 256 floats = 192 KB, in L2. A multiple of every
/// width's MR (4, 6, 8), so blocks never split a tile.
pub const MC: usize = 192;

/// Columns of C per block of B̃: kc × NC ≤ 256 × 768 floats = 768 KB, within a core's L2
/// (1.25–2 MB on current x86 server cores). A multiple of every width's NR (12, 16, 64).
pub const NC: usize = 768;

/// The k-block length of a reduction of length k: as few blocks as [`kc_max`] allows, of
/// about equal length, a multiple of 16 but the last. Depends on k and the width alone.
pub fn k_block(width: Width, k: usize) -> usize {
    let max = kc_max(width);
    let blocks = k.div_ceil(max).max(1);
    (k.div_ceil(blocks).div_ceil(16) * 16).min(max)
}

/// Rows (MR) and column vectors (NV) of a width's tile.
pub fn tile_shape(width: Width) -> (usize, usize) {
    match width {
        Width::Scalar1 | Width::Scalar4 => (4, 3),
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => (4, 2),
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => (8, 3),
        #[cfg(target_arch = "aarch64")]
        Width::Neon => (8, 3),
    }
}

/// Columns of a width's tile (NV vectors).
pub fn nr(width: Width) -> usize {
    tile_shape(width).1 * width.lanes()
}

/// Floats of packing space a product of m rows, n columns and reduction k needs: (Ã, B̃).
pub fn pack_lens(width: Width, m: usize, k: usize, n: usize) -> (usize, usize) {
    let (mr, nr) = (tile_shape(width).0, nr(width));
    let kc = k_block(width, k);
    (
        kc * m.min(MC).div_ceil(mr) * mr,
        kc * n.min(NC).div_ceil(nr) * nr,
    )
}

/// C = α A B + β C at `width`, on this thread, with C given as its m rows (each at least n
/// long) and the caller's packing buffers (at least [`pack_lens`]).
///
/// Panics if a buffer or a row is short. A and B's extents are the caller's to check
/// (`gemm::gemm` does).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed(
    width: Width,
    c: &mut [&mut [f32]],
    n: usize,
    alpha: f32,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    (pack_a, pack_b): (&mut [f32], &mut [f32]),
) {
    let (m, k) = (c.len(), a.cols);
    assert!(
        a.rows == m && b.rows == k && b.cols == n,
        "sgemm_packed: A {}x{}, B {}x{}, C {m}x{n}",
        a.rows,
        a.cols,
        b.rows,
        b.cols
    );
    assert!(
        c.iter().all(|row| row.len() >= n),
        "sgemm_packed: a row of C is short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for row in c.iter_mut() {
            for x in &mut row[..n] {
                *x = if beta == 0.0 { 0.0 } else { beta * *x };
            }
        }
        return;
    }
    let (la, lb) = pack_lens(width, m, k, n);
    assert!(
        pack_a.len() >= la && pack_b.len() >= lb,
        "sgemm_packed: packing space"
    );
    let job = Job {
        c,
        n,
        alpha,
        a,
        b,
        beta,
        kc: k_block(width, k),
    };
    match width {
        // SAFETY (each arm): the lengths were checked above; Scalar widths need no feature.
        Width::Scalar1 => unsafe { engine::<Scalar1, 4, 3>(job, pack_a, pack_b) },
        Width::Scalar4 => unsafe { engine::<Scalar4, 4, 3>(job, pack_a, pack_b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Width::Avx2` is only chosen where AVX2 + FMA are supported.
        Width::Avx2 => unsafe { avx2(job, pack_a, pack_b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Width::Avx512` is only chosen where AVX-512F is supported.
        Width::Avx512 => unsafe { avx512(job, pack_a, pack_b) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `Width::Neon` is only chosen where NEON is supported.
        Width::Neon => unsafe { neon(job, pack_a, pack_b) },
    }
}

/// One product's operands, checked.
struct Job<'a, 'c, 'r> {
    c: &'c mut [&'r mut [f32]],
    n: usize,
    alpha: f32,
    a: MatRef<'a, f32>,
    b: MatRef<'a, f32>,
    beta: f32,
    kc: usize,
}

macro_rules! width_engine {
    ($name:ident, $feature:literal, $lanes:ident, $mr:literal, $nv:literal) => {
        #[target_feature(enable = $feature)]
        unsafe fn $name(job: Job<'_, '_, '_>, pack_a: &mut [f32], pack_b: &mut [f32]) {
            // SAFETY: the width's features are enabled here; the rest is the caller's.
            unsafe { engine::<$lanes, $mr, $nv>(job, pack_a, pack_b) }
        }
    };
}
#[cfg(target_arch = "x86_64")]
width_engine!(avx2, "avx2,fma", Avx2, 4, 2);
#[cfg(target_arch = "x86_64")]
width_engine!(avx512, "avx512f", Avx512, 8, 3);
#[cfg(target_arch = "aarch64")]
width_engine!(neon, "neon", Neon, 8, 3);

/// The loops of the module docs.
///
/// # Safety
/// The CPU runs `L`; the job and the buffers have the lengths `sgemm_packed` checked.
#[inline(always)]
unsafe fn engine<L: Lanes, const MR: usize, const NV: usize>(
    job: Job<'_, '_, '_>,
    pack_a: &mut [f32],
    pack_b: &mut [f32],
) {
    let Job {
        c,
        n,
        alpha,
        a,
        b,
        beta,
        kc: kc_max,
    } = job;
    let (m, k, nr) = (c.len(), a.cols, NV * L::LANES);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for (kb, pc) in (0..k).step_by(kc_max).enumerate() {
            let kc = kc_max.min(k - pc);
            let beta = if kb == 0 { beta } else { 1.0 };
            // SAFETY: the CPU runs L; B̃ holds kc × nc rounded up to nr (`pack_lens`).
            unsafe { pack_b_block::<L>(pack_b, b, pc, kc, jc, nc, nr) };
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                // SAFETY: the CPU runs L; Ã holds kc × mc rounded up to MR (`pack_lens`).
                unsafe { pack_a_block::<L, MR>(pack_a, a, ic, mc, pc, kc) };
                for jr in (0..nc).step_by(nr) {
                    let cols = nr.min(nc - jr);
                    let nv = cols.div_ceil(L::LANES);
                    let bt = pack_b[jr * kc..].as_ptr();
                    for ir in (0..mc).step_by(MR) {
                        let rows = &mut c[ic + ir..ic + ir + MR.min(mc - ir)];
                        let at = pack_a[ir * kc..].as_ptr();
                        let (w, j0, ab) = (nv * L::LANES, jc + jr, (alpha, beta));
                        // SAFETY: this panel of Ã holds kc·MR floats, this panel of B̃ kc·w
                        // (its padded width, nv vectors); each row of C holds n ≥ j0 + cols
                        // floats (checked by `sgemm_packed`).
                        unsafe {
                            match nv {
                                v if v == NV => {
                                    tile::<L, MR, NV>(kc, at, bt, w, rows, j0, cols, ab)
                                }
                                1 => tile::<L, MR, 1>(kc, at, bt, w, rows, j0, cols, ab),
                                2 => tile::<L, MR, 2>(kc, at, bt, w, rows, j0, cols, ab),
                                3 => tile::<L, MR, 3>(kc, at, bt, w, rows, j0, cols, ab),
                                _ => unreachable!("NV ≤ 4"),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Ã: for each panel of MR rows i0.. of A\[ic.., pc..\], kc rows of MR floats, zeros past m:
///   Ã\[i0·kc + p·MR + i\] = A\[ic + i0 + i, p0 + p\]
/// A k-contiguous A (row-major) goes through LANES × LANES transposes in registers, LANES rows
/// at a time (two panels when MR = LANES/2, half a panel when MR = 2·LANES); the rest, and
/// an A whose columns are contiguous, element by element.
///
/// # Safety
/// The CPU runs `L`; `dst` holds kc × mc rounded up to MR, and every element of A read lies
/// in `a.data` (the indexing is checked, but the transposes read through pointers: their
/// blocks are inside the rows the checked slices below reach).
#[inline(always)]
unsafe fn pack_a_block<L: Lanes, const MR: usize>(
    dst: &mut [f32],
    a: MatRef<'_, f32>,
    ic: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    let lanes = L::LANES;
    let group = MR.max(lanes);
    let mut i0 = 0;
    if a.cs == 1 && (MR.is_multiple_of(lanes) || lanes.is_multiple_of(MR)) {
        let pfull = kc / lanes * lanes;
        let mut tmp = [0.0f32; 16 * 16];
        while i0 + group <= mc {
            for sub in (0..group).step_by(lanes) {
                // Rows ic + i0 + sub .. + LANES, columns p0 .. p0 + pfull: checked once.
                let first = (ic + i0 + sub) * a.rs + p0;
                let last = first + (lanes - 1) * a.rs + pfull;
                let src = a.data[first..last.max(first)].as_ptr();
                for pb in (0..pfull).step_by(lanes) {
                    if MR >= lanes {
                        // Rows sub.. of this panel: dst row p (stride MR) ← column p.
                        let panel = (i0 / MR) * MR * kc;
                        let out = &mut dst
                            [panel + pb * MR + sub..panel + (pb + lanes - 1) * MR + sub + lanes];
                        // SAFETY: a LANES × LANES block of rows `first..last` and of `out`.
                        unsafe { L::transpose_block(out.as_mut_ptr(), MR, src.add(pb), a.rs) };
                    } else {
                        // SAFETY: as above, into the LANES × LANES `tmp`.
                        unsafe { L::transpose_block(tmp.as_mut_ptr(), lanes, src.add(pb), a.rs) };
                        for (p, col) in tmp[..lanes * lanes].chunks_exact(lanes).enumerate() {
                            for (h, part) in col.chunks_exact(MR).enumerate() {
                                let panel = (i0 + h * MR) * kc;
                                dst[panel + (pb + p) * MR..][..MR].copy_from_slice(part);
                            }
                        }
                    }
                }
            }
            for i in 0..group {
                let (panel, r) = ((i0 + i) / MR * MR * kc, (i0 + i) % MR);
                let src = &a.data[(ic + i0 + i) * a.rs + p0..][..kc];
                for p in pfull..kc {
                    dst[panel + p * MR + r] = src[p];
                }
            }
            i0 += group;
        }
    }
    for i0 in (i0..mc).step_by(MR) {
        let rows = MR.min(mc - i0);
        let panel = &mut dst[i0 * kc..(i0 + MR) * kc];
        if rows < MR {
            panel.fill(0.0);
        }
        let row0 = ic + i0;
        if a.cs == 1 {
            for i in 0..rows {
                let src = &a.data[(row0 + i) * a.rs + p0..][..kc];
                for (p, &x) in src.iter().enumerate() {
                    panel[p * MR + i] = x;
                }
            }
        } else {
            for (p, out) in panel.chunks_exact_mut(MR).enumerate() {
                let base = (p0 + p) * a.cs + row0 * a.rs;
                if a.rs == 1 && rows == MR {
                    out.copy_from_slice(&a.data[base..base + MR]);
                } else {
                    for (i, o) in out[..rows].iter_mut().enumerate() {
                        *o = a.data[base + i * a.rs];
                    }
                }
            }
        }
    }
}

/// B̃: for each panel of nr columns j0.. of B\[p0.., jc..\], kc rows of its padded width w
/// (nr, or the last panel's columns rounded up to whole vectors), zeros past n:
///   B̃\[j0·kc + p·w + j\] = B\[p0 + p, jc + j0 + j\]
/// Row-major B is copied a vector at a time; a k-contiguous B (a transposed view) goes
/// through LANES × LANES transposes; the rest element by element.
///
/// # Safety
/// The CPU runs `L`; `dst` holds kc × nc rounded up to nr.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn pack_b_block<L: Lanes>(
    dst: &mut [f32],
    b: MatRef<'_, f32>,
    p0: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    nr: usize,
) {
    let lanes = L::LANES;
    if b.cs == 1 {
        // Row-major B: each row of the block read once, left to right, into every panel.
        for p in 0..kc {
            let src = &b.data[(p0 + p) * b.rs + jc..][..nc];
            for j0 in (0..nc).step_by(nr) {
                let cols = nr.min(nc - j0);
                let w = cols.div_ceil(lanes) * lanes;
                let out = &mut dst[j0 * kc + p * w..][..w];
                let full = cols / lanes * lanes;
                for v in (0..full).step_by(lanes) {
                    // SAFETY: `src` holds j0 + cols and `out` w ≥ full floats past these.
                    unsafe { L::store(out[v..].as_mut_ptr(), L::load(src[j0 + v..].as_ptr())) };
                }
                out[full..cols].copy_from_slice(&src[j0 + full..j0 + cols]);
                out[cols..].fill(0.0);
            }
        }
        return;
    }
    for j0 in (0..nc).step_by(nr) {
        let cols = nr.min(nc - j0);
        let w = cols.div_ceil(lanes) * lanes;
        let panel = &mut dst[j0 * kc..j0 * kc + kc * w];
        if cols < w {
            panel.fill(0.0);
        }
        let col0 = jc + j0;
        if b.rs == 1 {
            // Columns of B are contiguous (a transposed view): LANES columns × LANES rows
            // of k at a time.
            let (jfull, pfull) = (cols / lanes * lanes, kc / lanes * lanes);
            for jb in (0..jfull).step_by(lanes) {
                let first = (col0 + jb) * b.cs + p0;
                let last = first + (lanes - 1) * b.cs + pfull;
                let src = b.data[first..last.max(first)].as_ptr();
                for pb in (0..pfull).step_by(lanes) {
                    let out = &mut panel[pb * w + jb..(pb + lanes - 1) * w + jb + lanes];
                    // SAFETY: a LANES × LANES block inside `first..last` and inside `out`.
                    unsafe { L::transpose_block(out.as_mut_ptr(), w, src.add(pb), b.cs) };
                }
            }
            for j in 0..cols {
                let src = &b.data[(col0 + j) * b.cs + p0..][..kc];
                let from = if j < jfull { pfull } else { 0 };
                for p in from..kc {
                    panel[p * w + j] = src[p];
                }
            }
        } else {
            for j in 0..cols {
                let src = &b.data[(col0 + j) * b.cs + p0 * b.rs..];
                for p in 0..kc {
                    panel[p * w + j] = src[p * b.rs];
                }
            }
        }
    }
}
