//! Fast `f32` max pooling. Equals `reference::max_pool2d_*` bit for bit (a maximum and a
//! copy involve no rounding); differs by: rayon over groups of N·C planes, and for the
//! ladder's 2×2 stride-2 unpadded window a row loop with no bounds logic, branch-free
//! SIMD where available (AVX-512: 16 outputs at a time; AVX2: 8 then 4; NEON: 4). Random data makes the reference's
//! comparisons unpredictable: a mispredicted branch per window cost more than the memory
//! traffic before the SIMD body. The SIMD bodies read and write whole vectors past a row's
//! end wherever the plane has room (later rows overwrite what spills), because masked loads
//! and stores that go to memory run at about half the speed of plain ones on this machine
//! kind (Zen 5; one thread streaming over 256 MB, `cargo bench --bench kernels --
//! masked_stream`: loads 31.3 GiB/s plain, 17.1 masked; stores 24.1 and 13.9), whether the
//! mask is full or not. With plain loads and stores the batch-512 28×28 pooling
//! (`cargo bench --bench kernels -- dram/max_pool2d`) went from 15.9–17.3 to 36.7–40.4 GiB/s
//! forward and from 25.4–27.8 to 37.9–39.9 GiB/s backward.

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

    use crate::simd::avx512::{first_lanes, load16, store16};

    /// Every output row of one plane; the caller guarantees AVX-512F, `xp.len() ≥ 2 · oh · w`
    /// and `y.len() == am.len() == oh · (w / 2)`. Each row may spill up to 16 lanes into
    /// the next row's outputs, which that row then overwrites, and read on into the next
    /// rows' inputs: only the plane's end needs a mask.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        let ow = y.len() / oh.max(1);
        for p in 0..oh {
            let rows = &xp[2 * p * w..2 * oh * w];
            let (y_rest, am_rest) = (&mut y[p * ow..], &mut am[p * ow..]);
            // SAFETY: AVX-512F as this function requires; `rows` starts with two input rows
            // of `w` and the output slices hold at least `ow` = w / 2 elements.
            unsafe { pool_row_2x2(y_rest, am_rest, rows, w, (2 * p * w) as u32, ow) };
        }
    }

    /// Up to 16 outputs per step: two 16-float loads per input row, split into even and odd
    /// columns with one permute each; the four window positions are compared branch-free
    /// in window order (a mask per lane picks the later value only when strictly greater,
    /// or NaN over a number). Caller guarantees AVX-512F, `rows.len() ≥ 2 * w` (the output
    /// row's two input rows first: loads may read on into the rows after them),
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
            // n outputs this step need 2n floats per row (a second vector when 2n > 16).
            // Each load takes 16 floats while the plane has them, whatever lies past the
            // 2n (later columns or rows, whose lanes end up in outputs that are overwritten
            // or masked off), so that only the plane's end needs a masked load.
            let n = (ow - q0).min(16);
            let j = 2 * q0;
            let (left0, left1) = (rows.len() - j, rows.len() - w - j);
            // Stores may spill past this row's n outputs, up to the end of `y`.
            let out_mask = first_lanes(y.len() - q0);
            // SAFETY: every load reads lanes below its row's `left`, so inside `rows`; the
            // second vector is only addressed when 2n > 16, and then j + 16 < j + 2n ≤ w ≤
            // left1 (a pointer past the end of the buffer may not even be formed).
            let (a0, a1, b0, b1) = unsafe {
                let zero = _mm512_setzero_ps();
                (
                    load16(r0.add(j), first_lanes(left0)),
                    if 2 * n > 16 {
                        load16(r0.add(j + 16), first_lanes(left0 - 16))
                    } else {
                        zero
                    },
                    load16(r1.add(j), first_lanes(left1)),
                    if 2 * n > 16 {
                        load16(r1.add(j + 16), first_lanes(left1 - 16))
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
            // SAFETY: the lanes on in `out_mask` write q0..q0 + 16, at most to y.len() =
            // am.len().
            unsafe {
                store16(y.as_mut_ptr().add(q0), out_mask, best);
                let am_ptr = am.as_mut_ptr().add(q0) as *mut f32;
                store16(am_ptr, out_mask, _mm512_castsi512_ps(best_i));
            }
            q0 += n;
        }
    }

    /// Every row of one plane's backward: `dx` is the plane (h × w, h and w even), `g` and
    /// `am` its outputs. One call per plane, so the row body inlines into this loop. Rows
    /// read and write whole vectors on into the next row's values where they can, since a
    /// full vector takes the plain load and store: only the plane's end needs a mask.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `dx.len() == 4 · g.len()`, `g.len() == am.len()` a multiple
    /// of `w / 2`, and every argmax lies in its window.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn unpool_plane_2x2(dx: &mut [f32], g: &[f32], am: &[u32], w: usize) {
        let ow = w / 2;
        for p in 0..g.len() / ow.max(1) {
            let rows = &mut dx[2 * p * w..];
            let (g_rest, am_rest) = (&g[p * ow..], &am[p * ow..]);
            // SAFETY: as this function's contract, row by row; the rests hold ≥ ow outputs
            // and ≥ 2w values.
            unsafe { unpool_row_2x2(rows, g_rest, am_rest, w, (2 * p * w) as u32, ow) };
        }
    }

    /// Backward of one output row of 2×2 stride-2 windows that tile the plane: writes both
    /// input rows in full (the winner of each window gets G, its three neighbours 0), so no
    /// zero-fill pass is needed. Up to 16 windows a step: four lane masks pick G for each
    /// window position, and two permutes interleave them into the even and odd columns.
    ///
    /// A row done in one step (ow ≤ 16) stores whole vectors while the plane has room:
    /// what spills past the top row lands in the bottom row, stored next; what spills past
    /// the bottom row lands in rows that later output rows store. A row of several steps
    /// would spill into columns already stored, so it keeps exact masks.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `rows.len() ≥ 2 * w` (the output row's two input rows first,
    /// then the rest of the plane, which later rows overwrite), `ow == w / 2`,
    /// `g.len() == am.len() ≥ ow` (the row's outputs first; lanes past them are read and
    /// ignored), and every argmax among the row's outputs lies in its window (as the
    /// forward pass wrote it).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn unpool_row_2x2(
        rows: &mut [f32],
        g: &[f32],
        am: &[u32],
        w: usize,
        base: u32,
        ow: usize,
    ) {
        let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi_idx =
            _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let spill = ow <= 16;
        let mut q0 = 0;
        while q0 < ow {
            let n = (ow - q0).min(16);
            // Loads may read past this row's n outputs, up to the end of `g`.
            let in_mask = first_lanes(g.len() - q0);
            // SAFETY: the lanes on in `in_mask` read q0..q0 + 16, at most to g.len() =
            // am.len().
            let (gv, iv) = unsafe {
                (
                    load16(g.as_ptr().add(q0), in_mask),
                    _mm512_castps_si512(load16(am.as_ptr().add(q0) as *const f32, in_mask)),
                )
            };
            // d = offset of the winner from its window's top-left pixel.
            let corner =
                _mm512_add_epi32(_mm512_set1_epi32((base as usize + 2 * q0) as i32), lane2);
            let d = _mm512_sub_epi32(iv, corner);
            let pick =
                |k: i32| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(d, _mm512_set1_epi32(k)), gv);
            let (s0, s1, s2, s3) = (pick(0), pick(1), pick(w as i32), pick(w as i32 + 1));
            // Each input row gets its 2n columns from j on: 16 and then 2n − 16, or whole
            // vectors up to the plane's end when the row may spill.
            let j = 2 * q0;
            let (left_top, left_bottom) = (rows.len() - j, rows.len() - w - j);
            let mask = |left: usize, need: usize| first_lanes(if spill { left } else { need });
            let p = rows.as_mut_ptr();
            // SAFETY: every store writes lanes below its `left`, so inside `rows`; the second
            // vector is only addressed when 2n > 16, and then j + 16 < j + 2n ≤ w ≤
            // left_bottom. Top row first, so that its spill is overwritten by the bottom's.
            unsafe {
                store16(
                    p.add(j),
                    mask(left_top, 2 * n),
                    _mm512_permutex2var_ps(s0, lo_idx, s1),
                );
                if 2 * n > 16 {
                    let v = _mm512_permutex2var_ps(s0, hi_idx, s1);
                    store16(p.add(j + 16), mask(left_top - 16, 2 * n - 16), v);
                }
                let v = _mm512_permutex2var_ps(s2, lo_idx, s3);
                store16(p.add(w + j), mask(left_bottom, 2 * n), v);
                if 2 * n > 16 {
                    let v = _mm512_permutex2var_ps(s2, hi_idx, s3);
                    store16(p.add(w + j + 16), mask(left_bottom - 16, 2 * n - 16), v);
                }
            }
            q0 += n;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::scalar;
    use std::arch::x86_64::*;

    /// One step's window maxima from the four window positions `cand` (in window order:
    /// top-left, top-right, bottom-left, bottom-right) with their input indices `idx0 +
    /// offs[k]`: the later value wins only when strictly greater, or NaN over a number,
    /// as the scalar loop decides (so the bits and the argmax are the same).
    /// (A macro, not a closure or a helper function, so that it compiles inside the
    /// `#[target_feature]` function at both widths.)
    macro_rules! best_of_four {
        ($cmp:ident, $and:ident, $or:ident, $blend:ident, $add:ident, $set1:ident,
         $cast_f:ident, $cast_i:ident, $cand:expr, $idx0:expr, $offs:expr) => {{
            let cand = $cand;
            let (mut best, mut best_i) = (cand[0], $idx0);
            for k in 1..4 {
                let v = cand[k];
                let gt = $cmp::<_CMP_GT_OQ>(v, best);
                let nan_over = $and($cmp::<_CMP_UNORD_Q>(v, v), $cmp::<_CMP_ORD_Q>(best, best));
                let take = $or(gt, nan_over);
                best = $blend(best, v, take);
                let i = $add($idx0, $set1($offs[k] as i32));
                best_i = $cast_i($blend($cast_f(best_i), $cast_f(i), take));
            }
            (best, best_i)
        }};
    }

    /// Every output row of one plane, 8 outputs per step and then 4: a row's 16 (or 8)
    /// inputs are split into even and odd columns (the windows' left and right halves) by
    /// `shuffle_ps` (and, for 8 lanes, a 64-bit `permute4x64` that puts the halves back in
    /// order), the four window positions are compared branch-free, and a row's last step
    /// starts at `ow − 8` (rows of 4 to 7 outputs: 4-wide steps, the last at `ow − 4`) so
    /// that it ends at the row's end, recomputing, with the same result, outputs the step
    /// before wrote (a 14-output row takes two 8-wide steps, not 8 + 4 + 4); rows under 4
    /// outputs take the scalar loop.
    ///
    /// # Safety
    /// The caller guarantees AVX2, `xp.len() ≥ 2 · oh · w` and `y.len() == am.len() ==
    /// oh · (w / 2)`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        let ow = y.len() / oh.max(1);
        if ow < 4 {
            return scalar::pool_plane_2x2(y, am, xp, w, oh);
        }
        let offs = [0usize, 1, w, w + 1];
        for p in 0..oh {
            let rows = &xp[2 * p * w..(2 * p + 2) * w];
            let (y_row, am_row) = (&mut y[p * ow..(p + 1) * ow], &mut am[p * ow..(p + 1) * ow]);
            let base = (2 * p * w) as i32;
            let (r, yp, ap) = (rows.as_ptr(), y_row.as_mut_ptr(), am_row.as_mut_ptr());
            let mut q0 = 0;
            // SAFETY: AVX2 as required. A step at q reads columns 2q .. 2q + 16 (8-wide) or
            // 2q + 8 (4-wide) of rows 0 and 1 of `rows`, within 2ow ≤ w because q + 8 ≤ ow
            // (q + 4 ≤ ow), and writes outputs q .. q + 8 (+ 4) ≤ ow.
            unsafe {
                let step8 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
                while ow >= 8 && q0 < ow {
                    // The last step ends at the row's end.
                    let q = q0.min(ow - 8);
                    let j = 2 * q;
                    // 16 inputs → (even columns, odd columns), each in order.
                    macro_rules! split {
                        ($at:expr) => {{
                            let (a, b) = (_mm256_loadu_ps($at), _mm256_loadu_ps($at.add(8)));
                            let ev = _mm256_castps_pd(_mm256_shuffle_ps::<0x88>(a, b));
                            let od = _mm256_castps_pd(_mm256_shuffle_ps::<0xDD>(a, b));
                            (
                                _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(ev)),
                                _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(od)),
                            )
                        }};
                    }
                    let (t, b) = (split!(r.add(j)), split!(r.add(w + j)));
                    let idx0 = _mm256_add_epi32(_mm256_set1_epi32(base + j as i32), step8);
                    let (best, best_i) = best_of_four!(
                        _mm256_cmp_ps,
                        _mm256_and_ps,
                        _mm256_or_ps,
                        _mm256_blendv_ps,
                        _mm256_add_epi32,
                        _mm256_set1_epi32,
                        _mm256_castsi256_ps,
                        _mm256_castps_si256,
                        [t.0, t.1, b.0, b.1],
                        idx0,
                        offs
                    );
                    _mm256_storeu_ps(yp.add(q), best);
                    _mm256_storeu_si256(ap.add(q) as *mut __m256i, best_i);
                    q0 = q + 8;
                }
                let step4 = _mm_setr_epi32(0, 2, 4, 6);
                while q0 < ow {
                    // The last step ends at the row's end.
                    let q = q0.min(ow - 4);
                    let j = 2 * q;
                    macro_rules! split {
                        ($at:expr) => {{
                            let (a, b) = (_mm_loadu_ps($at), _mm_loadu_ps($at.add(4)));
                            (_mm_shuffle_ps::<0x88>(a, b), _mm_shuffle_ps::<0xDD>(a, b))
                        }};
                    }
                    let (t, b) = (split!(r.add(j)), split!(r.add(w + j)));
                    let idx0 = _mm_add_epi32(_mm_set1_epi32(base + j as i32), step4);
                    let (best, best_i) = best_of_four!(
                        _mm_cmp_ps,
                        _mm_and_ps,
                        _mm_or_ps,
                        _mm_blendv_ps,
                        _mm_add_epi32,
                        _mm_set1_epi32,
                        _mm_castsi128_ps,
                        _mm_castps_si128,
                        [t.0, t.1, b.0, b.1],
                        idx0,
                        offs
                    );
                    _mm_storeu_ps(yp.add(q), best);
                    _mm_storeu_si128(ap.add(q) as *mut __m128i, best_i);
                    q0 = q + 4;
                }
            }
        }
    }

    /// Backward of a plane of 2×2 stride-2 windows that tile it (h and w even): writes
    /// every input value (the winner of each window gets G, its three neighbours 0), so no
    /// zero-fill pass is needed. Four windows a step: G and the argmax are each duplicated
    /// into 8 lanes (window q covers columns 2q and 2q + 1), and lane j of the top row takes
    /// G where the winner's offset from its window's corner is j mod 2, of the bottom row
    /// where it is w + j mod 2. Adding +0 afterwards gives what the scalar loop's
    /// `0 + G` gives (−0 becomes +0), so the bits equal the scalar path's. A row's last
    /// step starts at ow − 4, so that it ends at the row's end: it rewrites windows the
    /// step before wrote, with the same values (a window's four values depend on it alone);
    /// rows under 4 windows take the scalar loop.
    ///
    /// # Safety
    /// The CPU has AVX2; `dx.len() == 4 · g.len()`, `g.len() == am.len()` a multiple of
    /// `w / 2`, and every argmax lies in its window (as the forward pass wrote it).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn unpool_plane_2x2(dx: &mut [f32], g: &[f32], am: &[u32], w: usize) {
        let ow = w / 2;
        if ow == 0 {
            return;
        }
        let dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
        let pair = _mm256_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6);
        let parity = _mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1);
        let below = _mm256_add_epi32(parity, _mm256_set1_epi32(w as i32));
        let zero = _mm256_setzero_ps();
        for p in 0..g.len() / ow {
            let (gr, ar) = (&g[p * ow..(p + 1) * ow], &am[p * ow..(p + 1) * ow]);
            let (top, bottom) = dx[2 * p * w..(2 * p + 2) * w].split_at_mut(w);
            let base = 2 * p * w;
            let mut q0 = 0;
            while ow >= 4 && q0 < ow {
                let q = q0.min(ow - 4);
                // SAFETY: q + 4 ≤ ow: outputs q..q + 4 of the row's ow, and columns
                // 2q..2q + 8 ≤ w of each input row.
                unsafe {
                    let gv = _mm256_castps128_ps256(_mm_loadu_ps(gr.as_ptr().add(q)));
                    let iv = _mm256_castsi128_si256(_mm_loadu_si128(
                        ar.as_ptr().add(q) as *const __m128i
                    ));
                    let g8 = _mm256_permutevar8x32_ps(gv, dup);
                    let i8 = _mm256_permutevar8x32_epi32(iv, dup);
                    let corner = _mm256_add_epi32(_mm256_set1_epi32((base + 2 * q) as i32), pair);
                    let d = _mm256_sub_epi32(i8, corner);
                    let pick = |k: __m256i| {
                        let m = _mm256_castsi256_ps(_mm256_cmpeq_epi32(d, k));
                        _mm256_add_ps(_mm256_and_ps(m, g8), zero)
                    };
                    _mm256_storeu_ps(top.as_mut_ptr().add(2 * q), pick(parity));
                    _mm256_storeu_ps(bottom.as_mut_ptr().add(2 * q), pick(below));
                }
                q0 = q + 4;
            }
            for q in q0..ow {
                for v in [&mut top[2 * q..2 * q + 2], &mut bottom[2 * q..2 * q + 2]] {
                    v.fill(0.0);
                }
                let i = ar[q] as usize - base;
                let cell = if i < w {
                    &mut top[i]
                } else {
                    &mut bottom[i - w]
                };
                *cell += gr[q];
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::scalar;
    use std::arch::aarch64::*;

    /// Every output row of one plane, 4 outputs per step: `vld2q_f32` loads 8 floats of a
    /// row already split into its even and odd columns (the windows' left and right
    /// halves), the four window positions are compared branch-free in window order (the
    /// later value wins only when strictly greater, or NaN over a number), and the rest of
    /// a row goes to the scalar loop. Caller guarantees NEON, `xp.len() ≥ 2 · oh · w` and
    /// `y.len() == am.len() == oh · (w / 2)`.
    #[target_feature(enable = "neon")]
    pub unsafe fn pool_plane_2x2(y: &mut [f32], am: &mut [u32], xp: &[f32], w: usize, oh: usize) {
        let ow = y.len() / oh.max(1);
        const STEP: [u32; 4] = [0, 2, 4, 6];
        for p in 0..oh {
            let rows = &xp[2 * p * w..(2 * p + 2) * w];
            let (y_row, am_row) = (&mut y[p * ow..(p + 1) * ow], &mut am[p * ow..(p + 1) * ow]);
            let base = (2 * p * w) as u32;
            let whole = ow / 4 * 4;
            // SAFETY: NEON as required; for q0 + 4 ≤ ow the loads read columns 2q0..2q0 + 8
            // ≤ 2ow ≤ w of each of the two rows, the stores lanes q0..q0 + 4 ≤ ow.
            unsafe {
                let step = vld1q_u32(STEP.as_ptr());
                for q0 in (0..whole).step_by(4) {
                    let j = 2 * q0;
                    let a = vld2q_f32(rows.as_ptr().add(j));
                    let b = vld2q_f32(rows.as_ptr().add(w + j));
                    let cand = [a.0, a.1, b.0, b.1];
                    let idx0 = vaddq_u32(vdupq_n_u32(base + j as u32), step);
                    let offs = [0u32, 1, w as u32, w as u32 + 1];
                    let (mut best, mut best_i) = (cand[0], idx0);
                    for k in 1..4 {
                        let v = cand[k];
                        let gt = vcgtq_f32(v, best);
                        // v is NaN and best is not: v != v, best == best.
                        let nan_over = vbicq_u32(vceqq_f32(best, best), vceqq_f32(v, v));
                        let take = vorrq_u32(gt, nan_over);
                        best = vbslq_f32(take, v, best);
                        best_i = vbslq_u32(take, vaddq_u32(idx0, vdupq_n_u32(offs[k])), best_i);
                    }
                    vst1q_f32(y_row.as_mut_ptr().add(q0), best);
                    vst1q_u32(am_row.as_mut_ptr().add(q0), best_i);
                }
            }
            scalar::pool_row_2x2_from(y_row, am_row, rows, w, base, whole);
        }
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
    if isa == Isa::Avx2 && is_2x2(sh) && sh.h.is_multiple_of(2) && sh.w.is_multiple_of(2) {
        // SAFETY: isa is Avx2 only when `usable` found AVX2 and FMA; the plane tiles into
        // 2×2 windows, as `unpool_plane_2x2` states.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            avx2::unpool_plane_2x2(dx, g, am, sh.w)
        };
        return;
    }
    dx.fill(0.0);
    // Each output adds to its winner; windows that share a winner add up in output order.
    for (&gv, &i) in g.iter().zip(am) {
        dx[i as usize] += gv;
    }
}
