//! Winograd's minimal filtering F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray,
//! 2016): 16 multiplies per 2×2 output tile and channel pair instead of direct
//! summation's 36, 2.25× fewer. The direct kernels stay the fallback (every other shape)
//! and the reference (`reference::conv2d_*`, which the tests hold this to).
//!
//! ## The transforms
//! Cut the zero-padded input into overlapping 4×4 patches d, one per 2×2 output tile (tile
//! (ty, tx) reads padded rows 2ty..2ty+4, columns 2tx..2tx+4). With
//!
//! ```text
//!        ⎡1  0 −1  0⎤         ⎡1    0    0 ⎤
//!   Bᵀ = ⎢0  1  1  0⎥    G =  ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1  1  1  0⎤
//!        ⎢0 −1  1  0⎥         ⎢1/2 −1/2  1/2⎥         ⎣0  1 −1 −1⎦
//!        ⎣0  1  0 −1⎦         ⎣0    0    1 ⎦
//! ```
//!
//! the 2×2 output tile of filter g on patch d is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed
//! over input channels, with U = G g Gᵀ (per output and input channel, once per call) and
//! V = Bᵀ d B (per input channel and tile), each of the 16 positions e = (ξ, ν) of the
//! 4×4 transformed tile is a matrix product over the channels,
//!
//!   M\[e\]\[k, t\] = Σ_c U\[e\]\[k, c\] · V\[e\]\[c, t\]        (t: the tiles of an image)
//!
//! and the output is y\[k, tile t\] = Aᵀ M\[·\]\[k, t\] A + b\[k\]. The products run on the
//! phase-plane engine's register tile (`planes`: "taps" are the input channels, the
//! positions are the tiles, lanes run over tiles). Every transform is additions and halvings
//! only, so F(2, 3)'s rounding stays close to direct summation's (F(4, 3)'s would not: its
//! matrices hold ±1/4 … ±1/24 and its f32 error grows past the tests' 1e-5).
//!
//! ## Input gradient
//! A stride-1 convolution's input gradient is the stride-1 convolution of G, padded by
//! 2 − pad, with the weights flipped in space and transposed in channels,
//! w'\[c, k, r, s\] = w\[k, c, 2 − r, 2 − s\]: the same forward on other operands.
//!
//! ## Weight gradient
//! From Y = Aᵀ (U ⊙ V) A: ∂M = A ∂Y Aᵀ per tile (the output tile's gradient, zero past P, Q),
//! ∂U\[e\]\[k, c\] = Σ_n Σ_t ∂M\[e\]\[k, t\] · V\[e\]\[c, t\] (a product over the tiles,
//! on the phase-plane engine's weight tile), and ∂g = Gᵀ ∂U G. The sum over the batch runs
//! over fixed groups of images added in order, as the direct kernels' does.

mod transform;

use rayon::prelude::*;

use super::fast::{bias_from_plane_sums, bias_plane_sums};
use super::planes::{self, GradImages, TapSum, Width};
use super::Conv2dShape;
use crate::scratch::{with_cols, with_partials, with_stage, with_work};
use crate::vector::{Lanes, Scalar1, Scalar4};

/// Whether F(2×2, 3×3) computes `sh`: a 3×3 kernel, stride 1, dilation 1, padding ≤ 2.
pub fn applies(sh: &Conv2dShape) -> bool {
    sh.r == 3
        && sh.s == 3
        && sh.stride == [1, 1]
        && sh.dilation == [1, 1]
        && sh.padding[0] <= 2
        && sh.padding[1] <= 2
        && sh.validate().is_ok()
}

/// The tile grid of one image: TH × TW tiles of 2×2 outputs, stored TW + 1 to a row (the
/// spare one makes every transform one loop over all tiles; see `transform::input`), T =
/// TH·(TW + 1) in all, each plane of them `tp` apart (a whole number of vectors).
#[derive(Clone, Copy, Debug)]
struct Tiles {
    th: usize,
    tw: usize,
    t: usize,
    tp: usize,
}

impl Tiles {
    fn new(sh: &Conv2dShape, lanes: usize) -> Tiles {
        let (th, tw) = (sh.out_h().div_ceil(2), sh.out_w().div_ceil(2));
        let t = th * (tw + 1);
        Tiles {
            th,
            tw,
            t,
            tp: t.div_ceil(lanes) * lanes,
        }
    }
}

/// U\[e\]\[k, c\] = (G w\[k, c\] Gᵀ)\[e\], packed per e for the register tile:
/// \[16\]\[⌈K/MR⌉\]\[C\]\[MR\].
fn transform_weights(w: &[f32], k: usize, c: usize, mr: usize) -> Vec<f32> {
    let tiles = k.div_ceil(mr);
    let per_e = tiles * c * mr;
    let mut u = vec![0.0f32; 16 * per_e];
    for ki in 0..k {
        for ci in 0..c {
            let g: [f32; 9] = std::array::from_fn(|i| w[(ki * c + ci) * 9 + i]);
            let t = transform::filter(&g);
            for (e, &v) in t.iter().enumerate() {
                u[e * per_e + ((ki / mr) * c + ci) * mr + ki % mr] = v;
            }
        }
    }
    u
}

/// Where one image's forward goes: its whole output y_n \[K, P, Q\], or the 2×2 max pooling
/// of it (pooled values and argmax, \[K, P/2, Q/2\] each; P and Q even).
enum Out<'a> {
    Full(&'a mut [f32]),
    MaxPool2d(&'a mut [f32], &'a mut [u32]),
}

/// One image's forward: V from x_n, the 16 products, the output transform.
///
/// # Safety
/// The CPU runs `L`; the buffers have the lengths `forward` gives them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn forward_image<L: Lanes, const MR: usize, const NV: usize>(
    out: Out<'_>,
    x_n: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    tl: &Tiles,
    v: &mut [f32],
    m: &mut [f32],
    scratch: &mut [f32],
) {
    transform::input(v, x_n, sh, tl.th, tl.tw, tl.tp, scratch);
    let kp = sh.k.div_ceil(MR) * MR;
    let per_e_u = kp * sh.c;
    let ts = TapSum {
        taps: (0..sh.c).map(|c| c * tl.tp).collect(),
        k: sh.k,
        rows: 1,
        cols: tl.t,
        pitch: tl.tp,
    };
    for e in 0..16 {
        let src = &v[e * sh.c * tl.tp..(e + 1) * sh.c * tl.tp];
        let ue = &u[e * per_e_u..(e + 1) * per_e_u];
        // M[e] is the register tiles' staging itself (kp rows of tp), so nothing is copied.
        let me = &mut m[e * kp * tl.tp..(e + 1) * kp * tl.tp];
        // SAFETY: forwarded; src holds C rows of tp ≥ nvec·LANES floats, me the staging's
        // kp·tp.
        unsafe { planes::tap_sum_image::<L, MR, NV>(src, ue, None, &ts, me, |_, _| {}) }
    }
    let tiles = (tl.th, tl.tw, tl.tp);
    match out {
        Out::Full(y_n) => {
            let pq = (sh.out_h(), sh.out_w());
            transform::output(y_n, m, bias, (sh.k, kp), pq, tiles, scratch)
        }
        Out::MaxPool2d(pooled, argmax) => {
            let (k, q) = ((sh.k, kp), sh.out_w());
            transform::output_max_pool2d(pooled, argmax, m, bias, k, q, tiles, scratch)
        }
    }
}

/// One image's weight gradient, added into `du` \[16\]\[C\]\[kpad\] (∂Uᵀ per e).
///
/// # Safety
/// As [`forward_image`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_image<L: Lanes, const NT: usize, const KV: usize>(
    du: &mut [f32],
    x_n: &[f32],
    g_n: &[f32],
    sh: &Conv2dShape,
    tl: &Tiles,
    kpad: usize,
    v: &mut [f32],
    dmt: &mut [f32],
    scratch: &mut [f32],
) {
    transform::input(v, x_n, sh, tl.th, tl.tw, tl.tp, scratch);
    // SAFETY: forwarded (the CPU runs `L`).
    unsafe {
        transform::output_grad::<L>(
            dmt,
            g_n,
            (sh.k, sh.out_h(), sh.out_w()),
            (tl.th, tl.tw, tl.t),
            kpad,
            scratch,
        )
    };
    let taps: Vec<usize> = (0..sh.c).map(|c| c * tl.tp).collect();
    let per_e = sh.c * kpad;
    for e in 0..16 {
        let src = &v[e * sh.c * tl.tp..(e + 1) * sh.c * tl.tp];
        let gt = &dmt[e * tl.t * kpad..(e + 1) * tl.t * kpad];
        // SAFETY: forwarded; one "row" of T tiles, the taps are whole rows of V.
        unsafe {
            planes::image::weight::<L, NT, KV>(
                &mut du[e * per_e..(e + 1) * per_e],
                gt,
                src,
                &taps,
                kpad,
                1,
                tl.t,
                tl.tp,
            )
        }
    }
}

/// One SIMD width's `#[target_feature]` instantiations of the per-image steps, at the
/// width's tiles (the constants of `planes`): `$module::{forward_image, weight_image}`.
macro_rules! width_steps {
    ($module:ident, $feature:literal, $lanes:ident, $mr:ident, $nv:ident, $nt:ident, $kv:ident) => {
        mod $module {
            use super::*;
            use crate::vector::$lanes;

            #[target_feature(enable = $feature)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn forward_image(
                out: Out<'_>,
                x_n: &[f32],
                u: &[f32],
                bias: Option<&[f32]>,
                sh: &Conv2dShape,
                tl: &Tiles,
                v: &mut [f32],
                m: &mut [f32],
                scratch: &mut [f32],
            ) {
                // SAFETY: the width's features are enabled here; the rest is the caller's
                // contract.
                unsafe {
                    super::forward_image::<$lanes, { planes::$mr }, { planes::$nv }>(
                        out, x_n, u, bias, sh, tl, v, m, scratch,
                    )
                }
            }

            #[target_feature(enable = $feature)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn weight_image(
                du: &mut [f32],
                x_n: &[f32],
                g_n: &[f32],
                sh: &Conv2dShape,
                tl: &Tiles,
                kpad: usize,
                v: &mut [f32],
                dmt: &mut [f32],
                scratch: &mut [f32],
            ) {
                // SAFETY: as above.
                unsafe {
                    super::weight_image::<$lanes, { planes::$nt }, { planes::$kv }>(
                        du, x_n, g_n, sh, tl, kpad, v, dmt, scratch,
                    )
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
width_steps!(avx2, "avx2,fma", Avx2, AVX2_MR, AVX2_NV, AVX2_NT, AVX2_KV);
#[cfg(target_arch = "x86_64")]
width_steps!(avx512, "avx512f", Avx512, AVX512_MR, AVX512_NV, AVX512_NT, AVX512_KV);
#[cfg(target_arch = "aarch64")]
width_steps!(neon, "neon", Neon, NEON_MR, NEON_NV, NEON_NT, NEON_KV);

/// y = conv2d(x, w) + b for a 3×3 stride-1 convolution, one image per rayon task.
pub fn forward(
    width: Width,
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let none = rayon::iter::repeat_n((), sh.n);
    forward_then(width, out, x, w, bias, sh, none, |_, _| {})
}

/// [`forward`], then `then(o, y_n)` on each image's output just written (while it is in
/// cache; `then` may rewrite it), `outs` yielding one `o` per image.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_then<O: Send>(
    width: Width,
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    outs: impl IndexedParallelIterator<Item = O>,
    then: impl Fn(O, &mut [f32]) + Sync + Send,
) {
    let out_len = sh.k * sh.out_h() * sh.out_w();
    if sh.n == 0 || out_len == 0 {
        return;
    }
    let images = out.par_chunks_mut(out_len).zip(outs);
    let x = GradImages::Full(x);
    forward_images(width, images, x, w, bias, sh, |(y_n, o), image| {
        image(Out::Full(&mut *y_n));
        then(o, y_n)
    })
}

/// pooled \[N, K, P/2, Q/2\] and argmax = 2×2 max-pool (stride 2) of conv2d(x, w) + b, for P
/// and Q even: the output transform pools each tile (`transform::output_max_pool2d`), so y
/// is never written. The values and argmax of [`forward`] then `max_pool2d`, bit for bit.
pub(crate) fn forward_max_pool2d(
    width: Width,
    pooled: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let per_image = sh.k * (sh.out_h() / 2) * (sh.out_w() / 2);
    if sh.n == 0 || per_image == 0 {
        return;
    }
    let images = pooled
        .par_chunks_mut(per_image)
        .zip(argmax.par_chunks_mut(per_image));
    let x = GradImages::Full(x);
    forward_images(width, images, x, w, bias, sh, |(p_n, a_n), image| {
        image(Out::MaxPool2d(p_n, a_n))
    })
}

/// The forward of each image in turn, one per rayon task: `each(item, image)` gets the
/// image's item of `images` and a function that computes the image into the `Out` it is
/// given. The input images come from `x` (the input gradient's are G, which may be routed
/// from a max-pool's gradient image by image: `GradImages`).
#[allow(clippy::too_many_arguments)]
fn forward_images<I: Send>(
    width: Width,
    images: impl IndexedParallelIterator<Item = I>,
    x: GradImages<'_>,
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    each: impl Fn(I, &mut dyn FnMut(Out<'_>)) + Sync + Send,
) {
    let (lanes, mr) = (width.lanes(), width.mr());
    let tl = Tiles::new(sh, lanes);
    let u = transform_weights(w, sh.k, sh.c, mr);
    let in_len = sh.c * sh.h * sh.w;
    let (vlen, mlen) = (16 * sh.c * tl.tp, 16 * sh.k.div_ceil(mr) * mr * tl.tp);
    let slen = transform::input_scratch_len(tl.th, tl.tw).max(transform::output_scratch_len(tl.tp));
    let (xlen, level) = (
        x.scratch_len(in_len),
        crate::simd::usable(crate::isa::isa()),
    );
    images.enumerate().for_each(|(n, item)| {
        each(item, &mut |out| {
            with_cols(vlen + xlen, |v| {
                let (v, x_own) = v.split_at_mut(vlen);
                let x_n = x.image(n, in_len, level, x_own);
                with_work(mlen, |m| {
                    with_stage(slen, |scratch| match width {
                        // SAFETY (each arm): the scalar widths need no CPU feature; the
                        // SIMD ones are only chosen where the CPU has them.
                        Width::Scalar1 => unsafe {
                            forward_image::<Scalar1, 4, 3>(
                                out, x_n, &u, bias, sh, &tl, v, m, scratch,
                            )
                        },
                        Width::Scalar4 => unsafe {
                            forward_image::<Scalar4, 4, 3>(
                                out, x_n, &u, bias, sh, &tl, v, m, scratch,
                            )
                        },
                        #[cfg(target_arch = "x86_64")]
                        Width::Avx2 => unsafe {
                            avx2::forward_image(out, x_n, &u, bias, sh, &tl, v, m, scratch)
                        },
                        #[cfg(target_arch = "x86_64")]
                        Width::Avx512 => unsafe {
                            avx512::forward_image(out, x_n, &u, bias, sh, &tl, v, m, scratch)
                        },
                        #[cfg(target_arch = "aarch64")]
                        Width::Neon => unsafe {
                            neon::forward_image(out, x_n, &u, bias, sh, &tl, v, m, scratch)
                        },
                    })
                })
            })
        })
    });
}

/// ∂x of a 3×3 stride-1 convolution: the forward of G with the flipped, transposed weights
/// and padding 2 − pad (see the module docs).
pub fn backward_input(width: Width, d_x: &mut [f32], g: &[f32], w: &[f32], sh: &Conv2dShape) {
    backward_input_from(width, d_x, GradImages::Full(g), w, sh)
}

/// [`backward_input`] with G from `source`: the same operations, the same bits.
pub(crate) fn backward_input_from(
    width: Width,
    d_x: &mut [f32],
    source: GradImages<'_>,
    w: &[f32],
    sh: &Conv2dShape,
) {
    let ig = Conv2dShape {
        n: sh.n,
        c: sh.k,
        h: sh.out_h(),
        w: sh.out_w(),
        k: sh.c,
        r: 3,
        s: 3,
        stride: [1, 1],
        padding: [2 - sh.padding[0], 2 - sh.padding[1]],
        dilation: [1, 1],
    };
    let mut flipped = vec![0.0f32; sh.weight_len()];
    for k in 0..sh.k {
        for c in 0..sh.c {
            for r in 0..3 {
                for s in 0..3 {
                    flipped[((c * sh.k + k) * 3 + r) * 3 + s] =
                        w[((k * sh.c + c) * 3 + (2 - r)) * 3 + (2 - s)];
                }
            }
        }
    }
    let chw = sh.c * sh.h * sh.w;
    if sh.n == 0 || chw == 0 {
        return;
    }
    let images = d_x.par_chunks_mut(chw);
    forward_images(width, images, source, &flipped, None, &ig, |dx_n, image| {
        image(Out::Full(dx_n))
    })
}

/// Images per partial weight gradient (a fixed grouping: the sum does not depend on the
/// thread count).
pub const GROUP: usize = 8;

/// ∂w of a 3×3 stride-1 convolution: per fixed group of images a partial ∂Uᵀ, the partials
/// added in group order, then ∂g = Gᵀ ∂U G.
pub fn backward_weight(width: Width, d_w: &mut [f32], g: &[f32], x: &[f32], sh: &Conv2dShape) {
    backward_weight_bias(width, d_w, None, g, x, sh)
}

/// [`backward_weight`], and with `d_b` the bias gradient in the same pass over G:
///   ∂b\[k\] = Σ_n Σ_{p,q} G\[n, k, p, q\]
/// each image's plane sums taken where its G is read for ∂M (from cache), by the two steps
/// of `fast::conv2d_backward_bias` itself: the same bits as that separate pass.
pub fn backward_weight_bias(
    width: Width,
    d_w: &mut [f32],
    d_b: Option<&mut [f32]>,
    g: &[f32],
    x: &[f32],
    sh: &Conv2dShape,
) {
    backward_weight_bias_from(width, d_w, d_b, GradImages::Full(g), x, sh)
}

/// [`backward_weight_bias`] with G from `source`: the same operations, the same bits.
pub(crate) fn backward_weight_bias_from(
    width: Width,
    d_w: &mut [f32],
    d_b: Option<&mut [f32]>,
    source: GradImages<'_>,
    x: &[f32],
    sh: &Conv2dShape,
) {
    let lanes = width.lanes();
    let tl = Tiles::new(sh, lanes);
    let kpad = sh.k.div_ceil(lanes) * lanes;
    let plen = 16 * sh.c * kpad;
    let (chw, kpq) = (sh.c * sh.h * sh.w, sh.k * sh.out_h() * sh.out_w());
    let groups = sh.n.div_ceil(GROUP);
    let (p, q) = (sh.out_h(), sh.out_w());
    if groups == 0 || plen == 0 || p * q == 0 {
        d_w.fill(0.0);
        if let Some(d_b) = d_b {
            d_b.fill(0.0);
        }
        return;
    }
    // Each image's K plane sums of G (∂b's first step), taken only when ∂b is wanted.
    let want_bias = d_b.is_some();
    let mut plane_sums = vec![0.0f32; if want_bias { sh.n * sh.k } else { 0 }];
    let mut sum_chunks: Vec<&mut [f32]> = plane_sums.chunks_mut(GROUP * sh.k).collect();
    sum_chunks.resize_with(groups, Default::default);
    let (vlen, dlen) = (16 * sh.c * tl.tp, 16 * tl.t * kpad);
    let (glen, level) = (
        source.scratch_len(kpq),
        crate::simd::usable(crate::isa::isa()),
    );
    let slen = transform::input_scratch_len(tl.th, tl.tw).max(transform::output_grad_scratch_len(
        sh.out_h(),
        sh.out_w(),
        kpad,
    ));
    with_partials(groups * plen, |partials| {
        partials
            .par_chunks_mut(plen)
            .zip(sum_chunks.into_par_iter())
            .enumerate()
            .for_each(|(gi, (part, sums))| {
                part.fill(0.0);
                let (first, last) = (gi * GROUP, ((gi + 1) * GROUP).min(sh.n));
                with_cols(vlen + glen, |v| {
                    let (v, g_own) = v.split_at_mut(vlen);
                    with_work(dlen, |dmt| {
                        with_stage(slen, |scratch| {
                            for n in first..last {
                                let x_n = &x[n * chw..(n + 1) * chw];
                                let g_n = source.image(n, kpq, level, g_own);
                                if want_bias {
                                    let i = (n - first) * sh.k;
                                    bias_plane_sums(&mut sums[i..i + sh.k], g_n, p * q);
                                }
                                match width {
                                    // SAFETY (each arm): as in `forward`.
                                    Width::Scalar1 => unsafe {
                                        weight_image::<Scalar1, 6, 2>(
                                            part, x_n, g_n, sh, &tl, kpad, v, dmt, scratch,
                                        )
                                    },
                                    Width::Scalar4 => unsafe {
                                        weight_image::<Scalar4, 6, 2>(
                                            part, x_n, g_n, sh, &tl, kpad, v, dmt, scratch,
                                        )
                                    },
                                    #[cfg(target_arch = "x86_64")]
                                    Width::Avx2 => unsafe {
                                        avx2::weight_image(
                                            part, x_n, g_n, sh, &tl, kpad, v, dmt, scratch,
                                        )
                                    },
                                    #[cfg(target_arch = "x86_64")]
                                    Width::Avx512 => unsafe {
                                        avx512::weight_image(
                                            part, x_n, g_n, sh, &tl, kpad, v, dmt, scratch,
                                        )
                                    },
                                    #[cfg(target_arch = "aarch64")]
                                    Width::Neon => unsafe {
                                        neon::weight_image(
                                            part, x_n, g_n, sh, &tl, kpad, v, dmt, scratch,
                                        )
                                    },
                                }
                            }
                        })
                    })
                })
            });
        // Σ of the partials in group order, then ∂g[k, c] = Gᵀ ∂U[·][c, k] G.
        let sum = planes::fold_partials(partials, plen);
        for k in 0..sh.k {
            for c in 0..sh.c {
                let du: [f32; 16] = std::array::from_fn(|e| sum[(e * sh.c + c) * kpad + k]);
                let dg = transform::filter_grad(&du);
                d_w[(k * sh.c + c) * 9..(k * sh.c + c + 1) * 9].copy_from_slice(&dg);
            }
        }
    });
    if let Some(d_b) = d_b {
        bias_from_plane_sums(d_b, &plane_sums);
    }
}
