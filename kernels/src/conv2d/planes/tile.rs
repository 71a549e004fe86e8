//! The register tiles of the phase-plane convolution, generic over the vector width.

use crate::vector::Lanes;

/// MR output channels × NV vectors of grid positions v0.. of a tap-list sum, into the
/// staging rows `stage[i·sp + f]`:
///   stage\[i, f\] = b\[i\] + Σ_t w\[t·ws + i\] · src\[taps\[t\] + f\]
/// The weights of tap t are `ws` ≥ MR floats apart: a tile of fewer channels than the
/// packing's (the last tile of a layer whose channels are not a multiple of it) reads the
/// same packed weights.
///
/// # Safety
/// The CPU runs `L`; `src` is readable at every `taps[t] + (v0 + NV)·LANES − 1`; `w` holds
/// `taps.len()·ws` floats, ws ≥ MR; `b` at least MR; `stage` holds MR·sp floats with
/// (v0 + NV)·LANES ≤ sp.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn forward<L: Lanes, const MR: usize, const NV: usize>(
    stage: &mut [f32],
    sp: usize,
    src: &[f32],
    taps: &[usize],
    w: &[f32],
    ws: usize,
    b: &[f32],
    v0: usize,
) {
    // SAFETY: the caller's contract covers every pointer below.
    unsafe {
        let mut acc = [[L::zero(); NV]; MR];
        for (row, &bi) in acc.iter_mut().zip(b) {
            *row = [L::splat(bi); NV];
        }
        let (xp, wp) = (src.as_ptr().add(v0 * L::LANES), w.as_ptr());
        for (t, &off) in taps.iter().enumerate() {
            let xb = xp.add(off);
            let mut xv = [L::zero(); NV];
            for (v, x) in xv.iter_mut().enumerate() {
                *x = L::load(xb.add(v * L::LANES));
            }
            let wb = wp.add(t * ws);
            for (i, row) in acc.iter_mut().enumerate() {
                let wv = L::splat(*wb.add(i));
                for v in 0..NV {
                    row[v] = L::fma(wv, xv[v], row[v]);
                }
            }
        }
        let out = stage.as_mut_ptr();
        for (i, row) in acc.iter().enumerate() {
            for (v, val) in row.iter().enumerate() {
                L::store(out.add(i * sp + (v0 + v) * L::LANES), *val);
            }
        }
    }
}

/// One register tile of ∂wᵀ: taps t0..t0+NT × channel vectors kv0..kv0+KV over output rows
/// p0..p1, added into `dwt` \[taps\]\[kpad\]:
///   ∂wᵀ\[t, k\] += Σ_{p,q} src\[taps\[t\] + p·pitch + q\] · Gᵀ\[p·Q + q, k\]
///
/// # Safety
/// The CPU runs `L`; `gt` holds P·Q·kpad floats, `dwt` taps·kpad; every read of `src` is a
/// valid position plus a tap; t0 + NT ≤ taps, (kv0 + KV)·LANES ≤ kpad.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn weight<L: Lanes, const NT: usize, const KV: usize>(
    dwt: &mut [f32],
    gt: &[f32],
    src: &[f32],
    taps: &[usize],
    kpad: usize,
    t0: usize,
    kv0: usize,
    p0: usize,
    p1: usize,
    q: usize,
    pitch: usize,
) {
    // SAFETY: the caller's contract covers every pointer below.
    unsafe {
        let base = src.as_ptr();
        let mut tap_ptr = [base; NT];
        for (m, ptr) in tap_ptr.iter_mut().enumerate() {
            *ptr = base.add(taps[t0 + m]);
        }
        let d = dwt.as_mut_ptr();
        let mut acc = [[L::zero(); KV]; NT];
        for (m, row) in acc.iter_mut().enumerate() {
            for (j, a) in row.iter_mut().enumerate() {
                *a = L::load(d.add((t0 + m) * kpad + (kv0 + j) * L::LANES));
            }
        }
        for p in p0..p1 {
            let mut gp = gt.as_ptr().add(p * q * kpad + kv0 * L::LANES);
            let xrow = p * pitch;
            for col in 0..q {
                let mut gv = [L::zero(); KV];
                for (j, v) in gv.iter_mut().enumerate() {
                    *v = L::load(gp.add(j * L::LANES));
                }
                for (m, row) in acc.iter_mut().enumerate() {
                    let xb = L::splat(*tap_ptr[m].add(xrow + col));
                    for j in 0..KV {
                        row[j] = L::fma(xb, gv[j], row[j]);
                    }
                }
                gp = gp.add(kpad);
            }
        }
        for (m, row) in acc.iter().enumerate() {
            for (j, a) in row.iter().enumerate() {
                L::store(d.add((t0 + m) * kpad + (kv0 + j) * L::LANES), *a);
            }
        }
    }
}

/// [`weight`] for a tile of `nt` ≤ NT taps and `kv` ≤ KV vectors (the edges of the tap and
/// channel ranges), by the smaller instantiations.
///
/// # Safety
/// As [`weight`], with 1 ≤ nt ≤ NT ≤ 6 and 1 ≤ kv ≤ KV ≤ 4.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn weight_dyn<L: Lanes, const NT: usize, const KV: usize>(
    dwt: &mut [f32],
    gt: &[f32],
    src: &[f32],
    taps: &[usize],
    kpad: usize,
    t0: usize,
    nt: usize,
    kv0: usize,
    kv: usize,
    p0: usize,
    p1: usize,
    q: usize,
    pitch: usize,
) {
    macro_rules! go {
        ($nt:literal, $kv:literal) => {
            // SAFETY: forwarded.
            unsafe { weight::<L, $nt, $kv>(dwt, gt, src, taps, kpad, t0, kv0, p0, p1, q, pitch) }
        };
    }
    macro_rules! by_kv {
        ($nt:literal) => {
            match kv {
                4 => go!($nt, 4),
                3 => go!($nt, 3),
                2 => go!($nt, 2),
                _ => go!($nt, 1),
            }
        };
    }
    match nt {
        6 => by_kv!(6),
        5 => by_kv!(5),
        4 => by_kv!(4),
        3 => by_kv!(3),
        2 => by_kv!(2),
        _ => by_kv!(1),
    }
}
