//! Direct convolution for stride 1 and dilation 1, AVX-512: no im2col, no gemm packing.
//!
//! ## The padded-row layout
//! Each input plane is copied once into a zero-padded buffer whose rows are `L` floats
//! apart, L = W + 2·pad rounded up to a multiple of 16. Output positions are numbered on the
//! same grid, f = p·L + j (j < L), so for kernel tap (r, s) output f reads input f + r·L + s:
//! sixteen consecutive outputs of a row read sixteen consecutive inputs, one vector load,
//! for every tap. Lanes with j ≥ Q (past the real output width) compute garbage that is
//! never stored; reads past a row run into the next row or the plane's zeroed slack.
//! (A 14-wide output row fills 14 of 16 lanes: 12.5 % of the arithmetic is thrown away, in
//! exchange for no packing pass at all.)
//!
//! ## Forward: y\[k, f\] = b\[k\] + Σ_{c,r,s} w\[k,c,r,s\] · xp\[c, f + r·L + s\]
//! A register tile holds 8 output channels × NV vectors of 16 positions (24 accumulators
//! for NV = 3); each tap costs NV loads, 8 broadcasts of w and 8·NV FMAs.
//!
//! ## Input gradient
//! With stride 1 the input gradient is itself a stride-1 convolution: of G (K channels,
//! padded by R−1−pad) with the weights flipped in space and transposed in channels,
//! w'\[c,k,r,s\] = w\[k,c,R−1−r,S−1−s\]. The forward tile computes it.
//!
//! ## Weight gradient: ∂wᵀ[(c,r,s), k] = Σ_n Σ_{p,q} xp[n, c, (p+r)·L + q + s] · Gᵀ[n, (p,q), k]
//! Lanes run over the output channels k (Gᵀ is G transposed per image, 16 channels a
//! vector) and each input value is a broadcast: a register tile holds 6 taps × 4 vectors of
//! channels (24 accumulators, 10 loads per 24 FMAs), summed over a block of about 128
//! positions whose Gᵀ rows stay near the core, and is added into the image group's ∂wᵀ in
//! memory.

use std::arch::x86_64::*;

use super::Conv2dShape;

/// Output channels per register tile.
const MR: usize = 8;
/// Images per partial weight gradient (a fixed grouping: the sum does not depend on the
/// thread count).
pub const DIRECT_GROUP: usize = 8;

/// Whether the direct kernels handle this convolution.
/// (Taps wider than 17 columns would read past a plane's 32 floats of slack.)
pub fn applies(sh: &Conv2dShape) -> bool {
    sh.stride == [1, 1]
        && sh.dilation == [1, 1]
        && sh.padding[0] < sh.r
        && sh.padding[1] < sh.s
        && sh.s <= 17
}

/// The stride-1 convolution whose forward pass is this one's input gradient: input G with
/// K channels and P×Q pixels, C output channels, padding R−1−pad (see the module docs).
pub fn input_grad_shape(sh: &Conv2dShape) -> Conv2dShape {
    Conv2dShape {
        n: 1,
        c: sh.k,
        h: sh.out_h(),
        w: sh.out_w(),
        k: sh.c,
        r: sh.r,
        s: sh.s,
        stride: [1, 1],
        padding: [sh.r - 1 - sh.padding[0], sh.s - 1 - sh.padding[1]],
        dilation: [1, 1],
    }
}

/// The padded-row geometry of one convolution.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Row pitch L (a multiple of 16).
    pub l: usize,
    /// Padded input rows H + 2·pad_h.
    pub hp: usize,
    /// Floats per padded plane, with 32 floats of zeroed slack after the last row.
    pub plane: usize,
    /// Output rows P and columns Q.
    pub p: usize,
    /// Output columns.
    pub q: usize,
    /// Output vectors per plane: P·L / 16.
    pub nvec: usize,
}

impl Grid {
    /// The padded-row layout of `sh`.
    pub fn new(sh: &Conv2dShape) -> Grid {
        let l = (sh.w + 2 * sh.padding[1]).div_ceil(16) * 16;
        let hp = sh.h + 2 * sh.padding[0];
        let p = sh.out_h();
        Grid {
            l,
            hp,
            plane: hp * l + 32,
            p,
            q: sh.out_w(),
            nvec: p * l / 16,
        }
    }
}

/// Copies one image x [C, H, W] into the zero-padded layout (`xp` has C·plane floats).
pub fn pad_input(xp: &mut [f32], x: &[f32], c: usize, sh: &Conv2dShape, g: &Grid) {
    xp.fill(0.0);
    for ci in 0..c {
        for i in 0..sh.h {
            let dst = ci * g.plane + (i + sh.padding[0]) * g.l + sh.padding[1];
            let src = (ci * sh.h + i) * sh.w;
            xp[dst..dst + sh.w].copy_from_slice(&x[src..src + sh.w]);
        }
    }
}

/// The floats `pack_weight` writes for `sh` (the convolution the tiles compute).
pub fn packed_weight_len(sh: &Conv2dShape) -> usize {
    sh.c * sh.r * sh.s * sh.k.div_ceil(MR) * MR
}

/// Weights w \[K, C, R, S\] as \[K/8\]\[C·R·S\]\[8\]: a register tile's 8 channels are contiguous
/// per tap and its taps follow each other, one contiguous stream per tile (the whole
/// \[C·R·S\]\[K\] matrix, 72 KB for the 32→64 layer, would not stay in L1 beside the input). With `for_input_grad`, `sh` is the original convolution and the
/// packing is of w'[c, k, r, s] = w[k, c, R−1−r, S−1−s] for `input_grad_shape(sh)`.
/// Returns the padded channel count.
pub fn pack_weight(wp: &mut [f32], w: &[f32], sh: &Conv2dShape, for_input_grad: bool) -> usize {
    let (out_ch, in_ch) = if for_input_grad {
        (sh.c, sh.k)
    } else {
        (sh.k, sh.c)
    };
    let kpad = out_ch.div_ceil(MR) * MR;
    let taps = in_ch * sh.r * sh.s;
    wp[..taps * kpad].fill(0.0);
    for k in 0..sh.k {
        for c in 0..sh.c {
            for r in 0..sh.r {
                for s in 0..sh.s {
                    let v = w[((k * sh.c + c) * sh.r + r) * sh.s + s];
                    let (tap, ch) = if for_input_grad {
                        ((k * sh.r + (sh.r - 1 - r)) * sh.s + (sh.s - 1 - s), c)
                    } else {
                        ((c * sh.r + r) * sh.s + s, k)
                    };
                    wp[((ch / MR) * taps + tap) * MR + ch % MR] = v;
                }
            }
        }
    }
    kpad
}

/// The forward tile: channels k0..k0+8 (of `k_out` real ones) at output vectors
/// v0..v0+NV, written into y [k_out, P, Q].
///
/// # Safety
/// The CPU has AVX-512F; `xp` holds C padded planes of `g.plane` floats; `wp` holds the
/// packed weights of kpad channels with k0 + 8 ≤ kpad; v0 + NV ≤ g.nvec; `y` has k_out·P·Q.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn forward_tile<const NV: usize>(
    y: &mut [f32],
    xp: &[f32],
    wp: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    g: &Grid,
    k0: usize,
    v0: usize,
    k_out: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    if let Some(b) = bias {
        for (i, row) in acc.iter_mut().enumerate() {
            if k0 + i < k_out {
                *row = [_mm512_set1_ps(b[k0 + i]); NV];
            }
        }
    }
    let (xptr, wptr) = (xp.as_ptr(), wp.as_ptr());
    let taps = sh.c * sh.r * sh.s;
    for c in 0..sh.c {
        for r in 0..sh.r {
            for s in 0..sh.s {
                let tap = (c * sh.r + r) * sh.s + s;
                // SAFETY: the input offset is at most (C−1)·plane + (P·L − 16) + (R−1)·L + S−1
                // + 15 < C·plane, since P + R − 1 = H + 2·pad rows and the plane keeps 32
                // floats of slack; the weight offset ((k0/8)·taps + tap)·8 + 7 < taps·kpad.
                unsafe {
                    let xb = xptr.add(c * g.plane + v0 * 16 + r * g.l + s);
                    let mut xv = [_mm512_setzero_ps(); NV];
                    for (v, x) in xv.iter_mut().enumerate() {
                        *x = _mm512_loadu_ps(xb.add(16 * v));
                    }
                    let wb = wptr.add(((k0 / MR) * taps + tap) * MR);
                    for (i, row) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(*wb.add(i));
                        for v in 0..NV {
                            row[v] = _mm512_fmadd_ps(wv, xv[v], row[v]);
                        }
                    }
                }
            }
        }
    }
    let plane_out = g.p * g.q;
    for (i, row) in acc.iter().enumerate() {
        let k = k0 + i;
        if k >= k_out {
            break;
        }
        for (v, val) in row.iter().enumerate() {
            let f = (v0 + v) * 16;
            let (pi, j0) = (f / g.l, f % g.l);
            if j0 >= g.q {
                continue;
            }
            let lanes = (g.q - j0).min(16);
            let mask: __mmask16 = if lanes == 16 {
                0xFFFF
            } else {
                ((1u32 << lanes) - 1) as u16
            };
            // SAFETY: lanes j0..j0 + lanes < Q of row pi < P of channel k < k_out.
            // (A full row piece takes the plain store: masked stores that go to memory
            // run at half speed on Zen 5, see `max_pool2d::fast`. Spelled out rather than
            // `simd::avx512::store16`: with the helper, the compiler laid out this function
            // so that layer 1's forward took 350 µs instead of 230.)
            unsafe {
                let dst = y.as_mut_ptr().add(k * plane_out + pi * g.q + j0);
                if lanes == 16 {
                    _mm512_storeu_ps(dst, *val)
                } else {
                    _mm512_mask_storeu_ps(dst, mask, *val)
                }
            };
        }
    }
}

/// y [k_out, P, Q] = conv(xp, w) + b for one image already in the padded layout.
///
/// # Safety
/// The CPU has AVX-512F and the buffers have the sizes `forward_tile` states.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward_image(
    y: &mut [f32],
    xp: &[f32],
    wp: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    g: &Grid,
) {
    let k_out = sh.k;
    for k0 in (0..k_out).step_by(MR) {
        let mut v0 = 0;
        // SAFETY: forwarded; v0 + NV ≤ nvec in each call.
        unsafe {
            while v0 + 3 <= g.nvec {
                forward_tile::<3>(y, xp, wp, bias, sh, g, k0, v0, k_out);
                v0 += 3;
            }
            match g.nvec - v0 {
                2 => forward_tile::<2>(y, xp, wp, bias, sh, g, k0, v0, k_out),
                1 => forward_tile::<1>(y, xp, wp, bias, sh, g, k0, v0, k_out),
                _ => {}
            }
        }
    }
}

/// Positions per block of the weight-gradient loop (whole output rows, about this many): a
/// block of Gᵀ (at 64 channels, 32 KB) stays near the core while every tap tile streams
/// over it, and each tile loads and stores its 24 accumulators once per block. 128 against
/// 64: the 32 → 64 layer at 14 × 14 4.68–4.84 against 5.01–5.15 ms, 32 → 32 at 28 × 28 9.68
/// against 10.30, 16 → 16 at 28 × 28 2.62 against 2.79 (∂w + ∂b, `cargo bench --bench
/// conv_best_of -- C H K`, Zen 4, 2026-12-08; at 7 × 7 both take the whole image).
const FB: usize = 128;
/// Taps per weight-gradient register tile (× up to 4 vectors of 16 channels = 24 FMAs per
/// position for 10 loads).
const MT: usize = 6;

/// The output channels rounded up to whole vectors of 16.
pub fn kpad16(k: usize) -> usize {
    k.div_ceil(16) * 16
}

/// Gᵀ of one image: gt\[p·Q + q\]\[k\] = G\[k, p, q\], zero for k ≥ K (`gt` has P·Q·kpad16).
/// Full 16×16 blocks are transposed in registers; the edges go element by element.
pub fn transpose_grad(gt: &mut [f32], g_n: &[f32], k: usize, g: &Grid) {
    let (pq, kp) = (g.p * g.q, kpad16(k));
    if kp != k {
        gt[..pq * kp].fill(0.0);
    }
    let simd = crate::isa::Isa::Avx512.is_supported();
    let (full_f, full_k) = if simd {
        (pq / 16 * 16, k / 16 * 16)
    } else {
        (0, 0)
    };
    for f0 in (0..full_f).step_by(16) {
        for k0 in (0..full_k).step_by(16) {
            // SAFETY: checked AVX-512F above; rows k0..k0+16 of G hold floats f0..f0+16
            // (f0 + 16 ≤ P·Q); rows f0..f0+16 of Gᵀ hold floats k0..k0+16 (k0 + 16 ≤ K ≤ kp).
            unsafe {
                transpose16(
                    gt.as_mut_ptr().add(f0 * kp + k0),
                    kp,
                    g_n.as_ptr().add(k0 * pq + f0),
                    pq,
                )
            };
        }
    }
    for ki in 0..k {
        let f_start = if ki < full_k { full_f } else { 0 };
        for f in f_start..pq {
            gt[f * kp + ki] = g_n[ki * pq + f];
        }
    }
}

/// dst[j·dst_stride + i] = src[i·src_stride + j] for i, j < 16: a 16×16 transpose in
/// registers (unpack pairs, then 128-bit lane shuffles).
///
/// # Safety
/// The CPU has AVX-512F; the 16 rows of 16 floats at both addresses are valid.
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(dst: *mut f32, dst_stride: usize, src: *const f32, src_stride: usize) {
    let mut r = [_mm512_setzero_ps(); 16];
    for (i, v) in r.iter_mut().enumerate() {
        // SAFETY: row i of the source block.
        *v = unsafe { _mm512_loadu_ps(src.add(i * src_stride)) };
    }
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for i in 0..4 {
        r[4 * i] = _mm512_shuffle_ps::<0x44>(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_shuffle_ps::<0xEE>(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_shuffle_ps::<0x44>(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_shuffle_ps::<0xEE>(t[4 * i + 1], t[4 * i + 3]);
    }
    for i in 0..2 {
        for j in 0..4 {
            t[8 * i + j] = _mm512_shuffle_f32x4::<0x88>(r[8 * i + j], r[8 * i + j + 4]);
            t[8 * i + j + 4] = _mm512_shuffle_f32x4::<0xDD>(r[8 * i + j], r[8 * i + j + 4]);
        }
    }
    for i in 0..8 {
        r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 8]);
        r[i + 8] = _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 8]);
    }
    for (i, v) in r.iter().enumerate() {
        // SAFETY: row i of the destination block.
        unsafe { _mm512_storeu_ps(dst.add(i * dst_stride), *v) };
    }
}

/// One register tile of ∂wᵀ: taps t0..t0+NT × channel vectors kv0..kv0+KV, output rows
/// p0..p1, accumulated into `dwt` [taps][kpad16] (loaded, updated, stored).
///
/// # Safety
/// The CPU has AVX-512F; `gt` holds P·Q·kpad16 floats; `xp` C padded planes; t0 + NT ≤
/// taps; (kv0 + KV)·16 ≤ kpad16; p1 ≤ P.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_tile<const NT: usize, const KV: usize>(
    dwt: &mut [f32],
    gt: &[f32],
    xp: &[f32],
    sh: &Conv2dShape,
    g: &Grid,
    t0: usize,
    kv0: usize,
    p0: usize,
    p1: usize,
) {
    let kp = kpad16(sh.k);
    // The input pointer of each tap at output (0, 0).
    let base = xp.as_ptr();
    let mut tap_ptr = [base; NT];
    for (m, ptr) in tap_ptr.iter_mut().enumerate() {
        let t = t0 + m;
        let (c, rs) = (t / (sh.r * sh.s), t % (sh.r * sh.s));
        let offset = c * g.plane + (rs / sh.s) * g.l + rs % sh.s;
        // SAFETY: the offset of the tap's first read lies inside the padded planes.
        *ptr = unsafe { base.add(offset) };
    }
    let d = dwt.as_mut_ptr();
    let mut acc = [[_mm512_setzero_ps(); KV]; NT];
    for (m, row) in acc.iter_mut().enumerate() {
        for (j, a) in row.iter_mut().enumerate() {
            // SAFETY: (t0 + m)·kp + (kv0 + j)·16 + 15 < taps·kp.
            *a = unsafe { _mm512_loadu_ps(d.add((t0 + m) * kp + (kv0 + j) * 16)) };
        }
    }
    for p in p0..p1 {
        // SAFETY: row p of Gᵀ starts at p·Q·kp; input row p of a tap at p·L.
        let mut gp = unsafe { gt.as_ptr().add(p * g.q * kp + kv0 * 16) };
        let xrow = p * g.l;
        for q in 0..g.q {
            // SAFETY: gp + (KV − 1)·16 + 15 stays inside Gᵀ's row; the input offsets are a
            // valid output position plus a tap, inside the padded image.
            unsafe {
                let mut gv = [_mm512_setzero_ps(); KV];
                for (j, v) in gv.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(gp.add(16 * j));
                }
                for (m, row) in acc.iter_mut().enumerate() {
                    let xb = _mm512_set1_ps(*tap_ptr[m].add(xrow + q));
                    for j in 0..KV {
                        row[j] = _mm512_fmadd_ps(xb, gv[j], row[j]);
                    }
                }
                gp = gp.add(kp);
            }
        }
    }
    for (m, row) in acc.iter().enumerate() {
        for (j, a) in row.iter().enumerate() {
            // SAFETY: as for the loads above.
            unsafe { _mm512_storeu_ps(d.add((t0 + m) * kp + (kv0 + j) * 16), *a) };
        }
    }
}

/// Picks the tile variant for `nt` taps and `kv` channel vectors.
///
/// # Safety
/// As `weight_tile`, with 1 ≤ nt ≤ MT and 1 ≤ kv ≤ 4.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_tile_dyn(
    dwt: &mut [f32],
    gt: &[f32],
    xp: &[f32],
    sh: &Conv2dShape,
    g: &Grid,
    t0: usize,
    nt: usize,
    kv0: usize,
    kv: usize,
    p0: usize,
    p1: usize,
) {
    macro_rules! go {
        ($nt:literal, $kv:literal) => {
            // SAFETY: forwarded.
            unsafe { weight_tile::<$nt, $kv>(dwt, gt, xp, sh, g, t0, kv0, p0, p1) }
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

/// Adds one image's ∂wᵀ into `dwt` [C·R·S][kpad16]: Σ over positions of x̃ ⊗ Gᵀ.
///
/// # Safety
/// The CPU has AVX-512F; `gt` is the image's `transpose_grad`, `xp` its `pad_input`,
/// `dwt` holds taps·kpad16 floats.
#[target_feature(enable = "avx512f")]
pub unsafe fn weight_image(dwt: &mut [f32], gt: &[f32], xp: &[f32], sh: &Conv2dShape, g: &Grid) {
    let taps = sh.c * sh.r * sh.s;
    let kvs = kpad16(sh.k) / 16;
    // Blocks of whole output rows, about FB positions each.
    let rows = (FB / g.q.max(1)).max(1);
    for p0 in (0..g.p).step_by(rows) {
        let p1 = (p0 + rows).min(g.p);
        for t0 in (0..taps).step_by(MT) {
            for kv0 in (0..kvs).step_by(4) {
                let (nt, kv) = (MT.min(taps - t0), 4.min(kvs - kv0));
                // SAFETY: forwarded; the tile's taps, vectors and rows are in range.
                unsafe { weight_tile_dyn(dwt, gt, xp, sh, g, t0, nt, kv0, kv, p0, p1) };
            }
        }
    }
}

/// The weight gradient from the image groups' partial ∂wᵀ (`plen` = taps·kpad16 floats
/// each, in group order): ∂w\[k\]\[tap\] = Σ_g ∂wᵀ_g\[tap\]\[k\], the groups added in order
/// from zero. The additions run a vector at a time down contiguous memory (in parallel over
/// fixed pieces), then the sum is read transposed: the same additions in the same order as
/// the element-by-element loop, so the same bits. That loop, on one thread, read each
/// partial a channel apart: the 32 → 64 layer's ∂w + ∂b at 14 × 14 took 5.59 ms with it and
/// 5.12 with this (`cargo bench --bench conv_best_of -- 32 14 64`, Zen 4).
pub fn sum_partials_transposed(d_w: &mut [f32], partials: &[f32], plen: usize, sh: &Conv2dShape) {
    use rayon::prelude::*;
    // Floats per parallel piece of the sum (16 KB: a few pieces per layer).
    const PIECE: usize = 4096;
    let (taps, kp) = (sh.c * sh.r * sh.s, kpad16(sh.k));
    let mut sum = vec![0.0f32; plen];
    sum.par_chunks_mut(PIECE)
        .enumerate()
        .for_each(|(i, piece)| {
            for part in partials.chunks_exact(plen) {
                let src = &part[i * PIECE..i * PIECE + piece.len()];
                for (d, &v) in piece.iter_mut().zip(src) {
                    *d += v;
                }
            }
        });
    for k in 0..sh.k {
        for t in 0..taps {
            d_w[k * taps + t] = sum[t * kp + k];
        }
    }
}

/// Whether [`weight_image_one_channel`] computes this convolution's weight gradient: one
/// input channel (the stem of every model here: 1 → 16 or 1 → 32 at 28 × 28) and 3 × 3 taps.
pub fn one_channel_weight(sh: &Conv2dShape) -> bool {
    applies(sh) && sh.c == 1 && sh.r == 3 && sh.s == 3
}

/// Output channels per tile of [`weight_image_one_channel`]: 3 × 9 taps = 27 accumulators,
/// with 3 vectors of G and one of x in the 32 registers.
const ONE_CHANNEL_KB: usize = 3;

/// Adds one image's ∂wᵀ into `dwt` \[9\][kpad16] for a one-channel 3 × 3 convolution, from G
/// as it is (channel k's P × Q plane at `g_n[k·stride..]`), no transpose:
///
/// ```text
/// ∂wᵀ[(r, s), k] += Σ_{p,q} G[k, p, q] · xp[(p + r)·L + q + s]
/// ```
///
/// With one input channel the transposed layout of [`weight_image`] leaves most of its tile
/// empty (9 taps of 12, the channels in 2 of 4 vectors, and a transpose of all of G per
/// image). Here the lanes run over the positions of an output row instead (16 columns a
/// vector, the row's last vector masked, so its other lanes add exact zeros), a tile
/// holds 3 channels × 9 taps, and each position costs 3 loads of G and 9 of x for 27 FMAs.
/// Each (tap, channel) is one 16-lane chain over the image's rows, then one horizontal sum
/// (a fixed order) added into `dwt`.
///
/// # Safety
/// The CPU has AVX-512F; `one_channel_weight(sh)`; `xp` is the image's `pad_input`, `g_n`
/// holds K planes of P·Q floats `stride` apart, `dwt` holds 9·kpad16 floats.
#[target_feature(enable = "avx512f")]
pub unsafe fn weight_image_one_channel(
    dwt: &mut [f32],
    g_n: &[f32],
    stride: usize,
    xp: &[f32],
    sh: &Conv2dShape,
    g: &Grid,
) {
    assert!(
        g_n.len() >= (sh.k - 1) * stride + g.p * g.q
            && xp.len() >= g.plane
            && dwt.len() >= 9 * kpad16(sh.k),
        "weight_image_one_channel: buffer lengths"
    );
    let mut k0 = 0;
    while k0 < sh.k {
        let kb = ONE_CHANNEL_KB.min(sh.k - k0);
        // SAFETY: forwarded; the lengths were checked above.
        unsafe {
            match kb {
                3 => one_channel_tile::<3>(dwt, g_n, stride, xp, sh, g, k0),
                2 => one_channel_tile::<2>(dwt, g_n, stride, xp, sh, g, k0),
                _ => one_channel_tile::<1>(dwt, g_n, stride, xp, sh, g, k0),
            }
        }
        k0 += kb;
    }
}

/// Channels k0..k0 + KB of [`weight_image_one_channel`].
///
/// # Safety
/// As [`weight_image_one_channel`], whose checks cover every index below.
#[target_feature(enable = "avx512f")]
unsafe fn one_channel_tile<const KB: usize>(
    dwt: &mut [f32],
    g_n: &[f32],
    stride: usize,
    xp: &[f32],
    sh: &Conv2dShape,
    g: &Grid,
    k0: usize,
) {
    let kp = kpad16(sh.k);
    let mut acc = [[_mm512_setzero_ps(); 9]; KB];
    for p in 0..g.p {
        for j in (0..g.q).step_by(16) {
            let lanes = 16.min(g.q - j);
            let mask: __mmask16 = if lanes == 16 { !0 } else { (1 << lanes) - 1 };
            // SAFETY: the unmasked lanes read G[k0 + b, p, j..j + lanes] (within the checked
            // planes) and xp[(p + r)·L + j + s ..+ lanes], at most (P + 1)·L + Q + 1 <
            // plane; masked lanes are not read.
            unsafe {
                let mut gv = [_mm512_setzero_ps(); KB];
                for (b, v) in gv.iter_mut().enumerate() {
                    let at = g_n.as_ptr().add((k0 + b) * stride + p * g.q + j);
                    *v = _mm512_maskz_loadu_ps(mask, at);
                }
                for r in 0..3 {
                    for s in 0..3 {
                        let at = xp.as_ptr().add((p + r) * g.l + j + s);
                        let xv = _mm512_maskz_loadu_ps(mask, at);
                        for b in 0..KB {
                            acc[b][r * 3 + s] = _mm512_fmadd_ps(gv[b], xv, acc[b][r * 3 + s]);
                        }
                    }
                }
            }
        }
    }
    for (b, taps) in acc.iter().enumerate() {
        for (t, &v) in taps.iter().enumerate() {
            dwt[t * kp + k0 + b] += _mm512_reduce_add_ps(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose16_matches_the_definition() {
        if !crate::isa::Isa::Avx512.is_supported() {
            return; // nothing to run this path on; the scalar fallback is tested elsewhere
        }
        let src: Vec<f32> = (0..16 * 20).map(|i| i as f32).collect();
        let mut dst = vec![0.0f32; 16 * 18];
        // SAFETY: AVX-512F checked above; 16 rows of 20 and of 18 floats.
        unsafe { transpose16(dst.as_mut_ptr(), 18, src.as_ptr(), 20) };
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(dst[j * 18 + i], src[i * 20 + j], "({i}, {j})");
            }
        }
    }
}
