//! Fast `f32` max pooling. Equals `reference::max_pool2d_*` bit for bit (a maximum and a
//! copy involve no rounding); differs by: rayon over groups of N·C planes, and for the
//! ladder's 2×2 stride-2 unpadded window a row loop with no bounds logic, branch-free
//! AVX-512 (16 outputs at a time) where available. Random data makes the reference's
//! comparisons unpredictable: a mispredicted branch per window cost more than the memory
//! traffic before the SIMD body.

use rayon::prelude::*;

use super::{reference, Pool2dShape};
use crate::isa::{isa, Isa};
use crate::simd::{blocks_per_task, dispatch, usable};

/// The ladder's pooling: 2×2 windows, stride 2, no padding.
fn is_2x2(sh: &Pool2dShape) -> bool {
    sh.kernel == [2, 2] && sh.stride == [2, 2] && sh.padding == [0, 0]
}

/// The max of each window and its argmax, fast version.
pub fn max_pool2d_forward(out: &mut [f32], argmax: &mut [u32], x: &[f32], sh: &Pool2dShape) {
    max_pool2d_forward_with(isa(), out, argmax, x, sh)
}

/// [`max_pool2d_forward`] on SIMD level `isa` (or the best usable one below it).
pub fn max_pool2d_forward_with(
    isa: Isa,
    out: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    sh: &Pool2dShape,
) {
    let isa = usable(isa);
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if pq == 0 {
        return;
    }
    let one = Pool2dShape { n: 1, c: 1, ..*sh };
    out.par_chunks_mut(pq)
        .zip(argmax.par_chunks_mut(pq))
        .zip(x.par_chunks(hw))
        .with_min_len(blocks_per_task(hw))
        .for_each(|((y, am), xp)| forward_plane(isa, y, am, xp, &one));
}

/// One plane's pooling (`one` has n = c = 1): the 2×2 row kernel where it applies.
pub(crate) fn forward_plane(
    isa: Isa,
    y: &mut [f32],
    am: &mut [u32],
    xp: &[f32],
    one: &Pool2dShape,
) {
    if !is_2x2(one) {
        return reference::max_pool2d_forward(y, am, xp, one);
    }
    // One call per plane, the row loop inside it: the row body inlines into the SIMD
    // level's loop instead of being called (and re-dispatched) once per 14 outputs.
    dispatch!(isa, pool_plane_2x2(y, am, xp, one.w, one.out_h()));
}

mod scalar {
    /// Every output row of one plane (`oh` rows of `y.len() / oh` outputs).
    pub fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        let ow = y.len() / oh.max(1);
        for p in 0..oh {
            let rows = &xp[2 * p * w..(2 * p + 2) * w];
            let (y_row, am_row) = (&mut y[p * ow..(p + 1) * ow], &mut am[p * ow..(p + 1) * ow]);
            pool_row_2x2(y_row, am_row, rows, w, (2 * p * w) as u32);
        }
    }

    /// One output row of 2×2 stride-2 pooling: `rows` holds input rows 2p and 2p+1 (each
    /// `w` long), `base` is the index of row 2p in the plane.
    pub fn pool_row_2x2(y: &mut [f32], am: &mut [u32], rows: &[f32], w: usize, base: u32) {
        pool_row_2x2_from(y, am, rows, w, base, 0)
    }

    /// As [`pool_row_2x2`] from output column `q0` on (the SIMD bodies' tail).
    pub fn pool_row_2x2_from(
        y: &mut [f32],
        am: &mut [u32],
        rows: &[f32],
        w: usize,
        base: u32,
        q0: usize,
    ) {
        for q in q0..y.len() {
            let j = 2 * q;
            // Window order: (0,0), (0,1), (1,0), (1,1); strictly greater replaces, NaN wins.
            let cand = [
                (rows[j], j),
                (rows[j + 1], j + 1),
                (rows[w + j], w + j),
                (rows[w + j + 1], w + j + 1),
            ];
            let mut best = cand[0];
            for &(v, i) in &cand[1..] {
                if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                    best = (v, i);
                }
            }
            y[q] = best.0;
            am[q] = base + best.1 as u32;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Every output row of one plane; the caller guarantees AVX-512F, `xp.len() ≥ 2 · oh · w`
    /// and `y.len() == am.len() == oh · (w / 2)`. Each row may spill up to 16 lanes into
    /// the next row's outputs, which that row then overwrites: only the plane's last row
    /// needs a masked store that stops at its end.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        let ow = y.len() / oh.max(1);
        for p in 0..oh {
            let rows = &xp[2 * p * w..(2 * p + 2) * w];
            let (y_rest, am_rest) = (&mut y[p * ow..], &mut am[p * ow..]);
            // SAFETY: AVX-512F as this function requires; `rows` is two input rows of `w`
            // and the output slices hold at least `ow` = w / 2 elements.
            unsafe { pool_row_2x2(y_rest, am_rest, rows, w, (2 * p * w) as u32, ow) };
        }
    }

    /// Up to 16 outputs per step: two 16-float loads per input row, split into even and odd
    /// columns with one permute each; the four window positions are compared branch-free
    /// in window order (a mask per lane picks the later value only when strictly greater,
    /// or NaN over a number). Caller guarantees AVX-512F, `rows.len() == 2 * w`,
    /// `ow == w / 2` and `y.len() == am.len() ≥ ow`; lanes past `ow` may be written up to
    /// `y.len()` (see `pool_plane_2x2`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn pool_row_2x2(
        y: &mut [f32],
        am: &mut [u32],
        rows: &[f32],
        w: usize,
        base: u32,
        ow: usize,
    ) {
        let even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd_idx = _mm512_add_epi32(even_idx, _mm512_set1_epi32(1));
        let (r0, r1) = (rows.as_ptr(), rows[w..].as_ptr());
        let mut q0 = 0;
        while q0 < ow {
            // n outputs this step read 2n floats per row: lanes past them are masked off
            // (a masked-off lane is neither read nor written, so it cannot fault).
            let n = (ow - q0).min(16);
            let lo: __mmask16 = if 2 * n >= 16 {
                0xFFFF
            } else {
                ((1u32 << (2 * n)) - 1) as u16
            };
            let hi: __mmask16 = if 2 * n <= 16 {
                0
            } else {
                ((1u32 << (2 * n - 16)) - 1) as u16
            };
            // Stores may spill past this row's n outputs, up to the end of `y`.
            let lanes = (y.len() - q0).min(16);
            let out_mask: __mmask16 = if lanes == 16 {
                0xFFFF
            } else {
                ((1u32 << lanes) - 1) as u16
            };
            let j = 2 * q0;
            // SAFETY: the unmasked lanes read floats j..j + 2n of each row, and
            // j + 2n = 2(q0 + n) ≤ 2·ow ≤ w, the row's length.
            // (The second half is only addressed when some of its lanes are live: a pointer
            // past the end of the buffer may not even be formed.)
            let (a0, a1, b0, b1) = unsafe {
                let zero = _mm512_setzero_ps();
                (
                    _mm512_maskz_loadu_ps(lo, r0.add(j)),
                    if hi != 0 {
                        _mm512_maskz_loadu_ps(hi, r0.add(j + 16))
                    } else {
                        zero
                    },
                    _mm512_maskz_loadu_ps(lo, r1.add(j)),
                    if hi != 0 {
                        _mm512_maskz_loadu_ps(hi, r1.add(j + 16))
                    } else {
                        zero
                    },
                )
            };
            let cand = [
                _mm512_permutex2var_ps(a0, even_idx, a1),
                _mm512_permutex2var_ps(a0, odd_idx, a1),
                _mm512_permutex2var_ps(b0, even_idx, b1),
                _mm512_permutex2var_ps(b0, odd_idx, b1),
            ];
            let idx0 = _mm512_add_epi32(_mm512_set1_epi32((base as usize + j) as i32), even_idx);
            let offs = [0, 1, w as i32, w as i32 + 1];
            let mut best = cand[0];
            let mut best_i = idx0;
            for k in 1..4 {
                let v = cand[k];
                let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best);
                let v_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                let best_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(best, best);
                let take = gt | (v_nan & !best_nan);
                best = _mm512_mask_mov_ps(best, take, v);
                best_i = _mm512_mask_mov_epi32(
                    best_i,
                    take,
                    _mm512_add_epi32(idx0, _mm512_set1_epi32(offs[k])),
                );
            }
            // SAFETY: the unmasked lanes write q0..q0 + lanes ≤ y.len() = am.len().
            unsafe {
                _mm512_mask_storeu_ps(y.as_mut_ptr().add(q0), out_mask, best);
                _mm512_mask_storeu_epi32(am.as_mut_ptr().add(q0) as *mut i32, out_mask, best_i);
            }
            q0 += n;
        }
    }

    /// Every row of one plane's backward: `dx` is the plane (h × w, h and w even), `g` and
    /// `am` its outputs. One call per plane, so the row body inlines into this loop.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `dx.len() == 4 · g.len()`, `g.len() == am.len()` a multiple
    /// of `w / 2`, and every argmax lies in its window.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn unpool_plane_2x2(dx: &mut [f32], g: &[f32], am: &[u32], w: usize) {
        let ow = w / 2;
        for (p, (g_row, am_row)) in g.chunks_exact(ow).zip(am.chunks_exact(ow)).enumerate() {
            let rows = &mut dx[2 * p * w..(2 * p + 2) * w];
            // SAFETY: as this function's contract, row by row.
            unsafe { unpool_row_2x2(rows, g_row, am_row, w, (2 * p * w) as u32) };
        }
    }

    /// Backward of one output row of 2×2 stride-2 windows that tile the plane: writes both
    /// input rows in full (the winner of each window gets G, its three neighbours 0), so no
    /// zero-fill pass is needed. Up to 16 windows a step: four lane masks pick G for each
    /// window position, and two permutes interleave them into the even and odd columns.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `rows.len() == 2 * w`, `g.len() == am.len() == w / 2`, and
    /// every argmax lies in its window (as the forward pass wrote it).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn unpool_row_2x2(rows: &mut [f32], g: &[f32], am: &[u32], w: usize, base: u32) {
        let ow = g.len();
        let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi_idx =
            _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let (top, bottom) = rows.split_at_mut(w);
        let mut q0 = 0;
        while q0 < ow {
            let n = (ow - q0).min(16);
            let in_mask: __mmask16 = if n == 16 {
                0xFFFF
            } else {
                ((1u32 << n) - 1) as u16
            };
            let lo: __mmask16 = if 2 * n >= 16 {
                0xFFFF
            } else {
                ((1u32 << (2 * n)) - 1) as u16
            };
            let hi: __mmask16 = if 2 * n <= 16 {
                0
            } else {
                ((1u32 << (2 * n - 16)) - 1) as u16
            };
            // SAFETY: the unmasked lanes read outputs q0..q0 + n ≤ ow of g and am.
            let (gv, iv) = unsafe {
                (
                    _mm512_maskz_loadu_ps(in_mask, g.as_ptr().add(q0)),
                    _mm512_maskz_loadu_epi32(in_mask, am.as_ptr().add(q0) as *const i32),
                )
            };
            // d = offset of the winner from its window's top-left pixel.
            let corner =
                _mm512_add_epi32(_mm512_set1_epi32((base as usize + 2 * q0) as i32), lane2);
            let d = _mm512_sub_epi32(iv, corner);
            let pick =
                |k: i32| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(d, _mm512_set1_epi32(k)), gv);
            let (s0, s1, s2, s3) = (pick(0), pick(1), pick(w as i32), pick(w as i32 + 1));
            let j = 2 * q0;
            // SAFETY: the unmasked lanes write columns j..j + 2n ≤ 2·ow = w of each row.
            unsafe {
                _mm512_mask_storeu_ps(
                    top.as_mut_ptr().add(j),
                    lo,
                    _mm512_permutex2var_ps(s0, lo_idx, s1),
                );
                _mm512_mask_storeu_ps(
                    bottom.as_mut_ptr().add(j),
                    lo,
                    _mm512_permutex2var_ps(s2, lo_idx, s3),
                );
                // Columns j + 16.. only when some are live (no pointer past the row's end).
                if hi != 0 {
                    _mm512_mask_storeu_ps(
                        top.as_mut_ptr().add(j + 16),
                        hi,
                        _mm512_permutex2var_ps(s0, hi_idx, s1),
                    );
                    _mm512_mask_storeu_ps(
                        bottom.as_mut_ptr().add(j + 16),
                        hi,
                        _mm512_permutex2var_ps(s2, hi_idx, s3),
                    );
                }
            }
            q0 += n;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::scalar;

    /// The AVX2 level keeps the scalar row loop: 8-lane even/odd splits cost as many
    /// shuffles as they save on rows of 7 or 14 outputs.
    ///
    /// # Safety
    /// None beyond the scalar loop's; `unsafe` only to match the dispatch signature.
    pub unsafe fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        scalar::pool_plane_2x2(y, am, xp, w, oh)
    }
}

/// Scatters G to each window's argmax, fast version.
pub fn max_pool2d_backward(d_x: &mut [f32], g: &[f32], argmax: &[u32], sh: &Pool2dShape) {
    max_pool2d_backward_with(isa(), d_x, g, argmax, sh)
}

/// [`max_pool2d_backward`] on SIMD level `isa` (or the best usable one below it).
pub fn max_pool2d_backward_with(
    isa: Isa,
    d_x: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    sh: &Pool2dShape,
) {
    let isa = usable(isa);
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if hw == 0 {
        return;
    }
    d_x.par_chunks_mut(hw)
        .zip(g.par_chunks(pq.max(1)))
        .zip(argmax.par_chunks(pq.max(1)))
        .with_min_len(blocks_per_task(hw))
        .for_each(|((dx, g), am)| backward_plane(isa, dx, g, am, sh));
}

/// One plane's gradient routing (`sh` gives the plane's sizes; n and c are ignored).
pub(crate) fn backward_plane(isa: Isa, dx: &mut [f32], g: &[f32], am: &[u32], sh: &Pool2dShape) {
    if isa == Isa::Avx512 && is_2x2(sh) && sh.h.is_multiple_of(2) && sh.w.is_multiple_of(2) {
        // SAFETY: isa is Avx512 only when `usable` found AVX-512F; `dx` is the plane's
        // h × w values and `g`, `am` its (h/2) × (w/2) outputs, as `unpool_plane_2x2` states.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            avx512::unpool_plane_2x2(dx, g, am, sh.w)
        };
        return;
    }
    dx.fill(0.0);
    // Each output adds to its winner; windows that share a winner add up in output order.
    for (&gv, &i) in g.iter().zip(am) {
        dx[i as usize] += gv;
    }
}
