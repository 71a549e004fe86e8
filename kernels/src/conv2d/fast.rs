//! Fast `f32` convolution: which engine runs, and im2col + matrixmultiply's packed gemm.
//!
//! [`ConvAlgo::Auto`] picks, per call and pass: on AVX-512 the stride-1 direct kernels of
//! `direct.rs` where they measured faster (`use_direct`); on AVX2 Winograd's F(2×2, 3×3)
//! for the forward and ∂x of 3×3 stride-1 layers of ≥ 32 channels at ≥ 14×14
//! (`use_winograd`); else the phase-plane direct
//! engine of `planes/` at the widest vector width the CPU has (AVX-512, AVX2 or NEON), for
//! every kernel larger than 1×1 and, at AVX-512's 16 lanes, for strided 1×1 layers (and
//! for the input gradient when it has at least 8 channels: a tile of 4–8 channels with
//! fewer would be mostly padding); else im2col + gemm, which also takes the other 1×1
//! layers, where it measured as fast or faster (`cargo run --release -p stitch-kernels
//! --example convtime` during development on AVX2: 1×1 stride 2 at batch 128, forward 43
//! vs 33 GFLOP/s).
//!
//! The im2col path equals `reference::conv2d_*` up to rounding; differs by: each image is lowered with
//! [`im2col`] into a per-thread scratch buffer (reused across calls) and multiplied with
//! one gemm call; 1×1 stride-1 unpadded convolutions skip the lowering. The weight gradient
//! is summed over fixed groups of [`IMAGES_PER_PARTIAL`] images (one partial sum per
//! group, computed in parallel) and the partials are added in group order, so the result
//! does not depend on the thread count.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::direct;
use super::im2col::{col2im, im2col};
use super::Conv2dShape;
use crate::batch_norm::fast::image_block_statistics;
use crate::gemm::{fast::sgemm_serial, GemmArgs, MatMut, MatRef};
use crate::isa::isa;
#[cfg(target_arch = "x86_64")]
use crate::isa::Isa;
use crate::scratch::{with_cols, with_partials};

pub use super::ConvAlgo;

/// The phase-plane engine's width for `sh` under `algo`, if it takes the call (see the
/// module docs); `channels_out` is the channel count of the result (K forward, C for ∂x).
fn use_planes(
    algo: ConvAlgo,
    sh: &Conv2dShape,
    channels_out: usize,
) -> Option<super::planes::Width> {
    let width = super::planes::Width::for_isa(isa())?;
    // A 1×1 layer goes to im2col + gemm (at stride 1 a plain matrix product, no lowering),
    // except a strided one at AVX-512's 16 lanes: there the planes build the one phase it
    // reads and measured 13–50% faster (16→32 @ 28×28, stride 2, with the stride-2 row
    // gather of `planes`); at AVX2's 8 lanes im2col measured faster (module docs).
    let pointwise = sh.r == 1 && sh.s == 1;
    if !matches!(algo, ConvAlgo::Auto | ConvAlgo::Direct)
        || (pointwise && (sh.stride == [1, 1] || width.lanes() < 16))
    {
        return None;
    }
    if channels_out < 4 && sh.c * sh.r * sh.s < 8 {
        return None;
    }
    Some(width).filter(|_| super::planes::applies(sh))
}

/// The phase-plane width the forward convolution of `sh` runs at under `Auto`, if the
/// phase planes take it (what `fused` checks to pool the very same output).
pub(crate) fn planes_forward_width(sh: &Conv2dShape) -> Option<super::planes::Width> {
    if use_direct(ConvAlgo::Auto, sh, Pass::Forward) || auto_forward_is_winograd(sh) {
        return None;
    }
    use_planes(ConvAlgo::Auto, sh, sh.k)
}

/// The width Winograd runs at for `pass` of `sh`, if it takes the call: wherever it
/// applies under `Winograd`; under `Auto`, on AVX2 and on AVX-512 run by 256-bit units
/// ([`crate::isa::avx512_on_256_bit_units`], AMD's Zen 4), for all three passes of layers
/// with at least 32 channels in and out and an output of at least 14×14, where F(2×2,
/// 3×3)'s 2.25× fewer multiplies outweigh its transforms; on AVX-512 with full-width units
/// (Intel's), whose direct kernels retire twice the FMAs per cycle, for the weight gradient
/// of those layers only. Measured with `cargo bench --bench conv_best_of` (batch 128, 2
/// threads, the best of 10–20 calls per pass; each figure is the time of what `Auto` runs
/// without Winograd, the direct or phase-plane kernels, over Winograd's, so above 1
/// Winograd wins):
///
/// | CPU | 32→64 @ 14×14 | 32→32 @ 28×28 | 32→32 @ 14×14 | 16→16 @ 28×28 | 64→64 @ 7×7 |
/// |---|---|---|---|---|---|
/// | EPYC Zen 3, AVX2 | 1.25–1.45 | 1.25 | 1.15–1.2 | 0.85–1.18 | 0.65–0.99 |
/// | EPYC Zen 4, AVX2 | 1.35–1.38 | 1.24–1.25 | 1.21–1.32 | 0.92–1.02 | 0.84–0.90 |
/// | EPYC Zen 4, AVX-512 | 1.16–1.31 | 1.24–1.30 | 0.97–1.12 | 0.93–1.03 | 0.73–0.75 |
/// | Xeon, AVX-512, fwd / ∂x | 0.88–0.92 | 0.99–1.02 | 0.75–0.77 | 0.73–0.78 | 0.61–0.62 |
/// | Xeon, AVX-512, ∂w + ∂b | 1.12 | 1.16 | 1.06 | 0.88 | 0.67 |
///
/// (Ranges over forward, ∂x and ∂w + ∂b, and on Zen 3 over several runs on 2026-12-04/05;
/// Zen 4 one run on 2026-12-05, Xeon one on 2026-12-07, quiet machines.) In the models the
/// wide layers' passes gain as the benches say: `stitch profile --model conv-pool` on Zen 3
/// took 644/654 → 545/550 ms of ∂w + ∂b in 40 steps, and on Zen 4 at AVX-512 (`--steps 40
/// --real-data`, three alternated pairs) 19.0/19.0/18.3 → 16.6/19.3/16.2 ms per step. On the
/// Xeon, giving the direct kernels back the forward and ∂x (`--steps 60 --real-data`, three
/// alternated pairs, each binary first in turn) moved conv-pool 15.3/14.3/14.0 →
/// 13.2/13.9/14.1 ms per step (its fused convolution → max-pool applies again) and left cnn
/// (19.3/18.6/19.4 → 19.2/18.3/19.5) and vgg-small (105/108/109 → 109/106/111) within
/// noise. Where it loses or ties (16→16 @ 28×28, 64→64 @ 7×7) `Auto` keeps the direct and
/// phase-plane kernels. On NEON, which emulation cannot time, `Auto` keeps the planes.
fn use_winograd(algo: ConvAlgo, sh: &Conv2dShape, pass: Pass) -> Option<super::planes::Width> {
    if !super::winograd::applies(sh) {
        return None;
    }
    match algo {
        ConvAlgo::Winograd => {
            Some(super::planes::Width::for_isa(isa()).unwrap_or(super::planes::Width::Scalar4))
        }
        #[cfg(target_arch = "x86_64")]
        ConvAlgo::Auto if matches!(isa(), Isa::Avx2 | Isa::Avx512) => {
            let wide = sh.c >= 32 && sh.k >= 32 && sh.out_h() * sh.out_w() >= 14 * 14;
            // Full-width AVX-512 FMA units double the direct kernels' rate but not the
            // transforms': there Winograd keeps only the weight gradient.
            let full_width = isa() == Isa::Avx512 && !crate::isa::avx512_on_256_bit_units();
            let pass_pays = !full_width || pass == Pass::Weight;
            (wide && pass_pays)
                .then(|| super::planes::Width::for_isa(isa()))
                .flatten()
        }
        _ => {
            let _ = pass;
            None
        }
    }
}

/// Whether `Auto` computes the forward convolution of `sh` with Winograd on this CPU (then
/// the fused convolution → max-pool, which pools the phase planes' output, does not apply).
pub fn auto_forward_is_winograd(sh: &Conv2dShape) -> bool {
    auto_winograd_width(sh, Pass::Forward).is_some()
}

/// The width `Auto` runs Winograd at for `pass` of `sh` on this CPU, if it does.
pub(crate) fn auto_winograd_width(sh: &Conv2dShape, pass: Pass) -> Option<super::planes::Width> {
    use_winograd(ConvAlgo::Auto, sh, pass)
}

/// The three passes of a convolution, each of which picks its kernel on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    Forward,
    Input,
    Weight,
}

/// Whether `algo` picks the AVX-512 direct kernels for `pass` of `sh` on this CPU.
///
/// `Direct` takes them wherever they apply. `Auto` takes them where they measured faster
/// than the phase planes at 16 lanes (`cargo bench --bench kernels -- conv_algos`):
/// - forward and ∂x, unless the planes' grid has under 0.8× the direct grid's vectors.
///   The direct grid rounds each row up to 16 lanes, the planes' grid runs the rows on
///   together: at 7×7 that is 7 vectors against 4 and the planes win by 25–50%; at 14×14
///   (14 against 14) and 28×28 (56 against 51) direct wins by about 10%, as it writes
///   its output without the planes' staging rows.
/// - ∂w only for layers of fewer than 4 input channels (the first layer's 9 taps):
///   elsewhere the planes' tile of 6 taps × 64 channels measured 10–70% faster.
fn use_direct(algo: ConvAlgo, sh: &Conv2dShape, pass: Pass) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if !(matches!(algo, ConvAlgo::Auto | ConvAlgo::Direct)
            && isa() == Isa::Avx512
            && direct::applies(sh))
        {
            return false;
        }
        if algo == ConvAlgo::Direct || super::planes::Width::for_isa(isa()).is_none() {
            return true;
        }
        let fewer = |conv: &Conv2dShape| {
            let planes = super::planes::forward_vectors(conv, 16);
            5 * planes < 4 * direct::Grid::new(conv).nvec
        };
        match pass {
            Pass::Forward => !fewer(sh),
            Pass::Input => !fewer(&direct::input_grad_shape(sh)),
            Pass::Weight => sh.c < 4,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (algo, sh, pass);
        false
    }
}

/// Whether the fused convolution → max-pool's backward may run on the direct kernels
/// (`fused::backward_direct`): only where the unfused passes it replaces would too, so
/// the two give the same bits.
pub(crate) fn direct_backward_route(sh: &Conv2dShape, input_grad: bool) -> bool {
    use_direct(ConvAlgo::Auto, sh, Pass::Weight)
        && (!input_grad || use_direct(ConvAlgo::Auto, sh, Pass::Input))
}

/// Images per partial weight-gradient sum: 128 images give 32 partials, enough tasks for
/// any core count here, and the final sum of 32 small matrices costs little.
pub const IMAGES_PER_PARTIAL: usize = 4;

/// Whether the lowering is the identity (1×1 kernel, stride 1, no padding).
fn is_pointwise(sh: &Conv2dShape) -> bool {
    sh.r == 1 && sh.s == 1 && sh.stride == [1, 1] && sh.padding == [0, 0]
}

/// Runs `f(cols)` with the image's column matrix [C·R·S, P·Q].
fn with_lowered(x_n: &[f32], sh: &Conv2dShape, f: impl FnOnce(&[f32])) {
    if is_pointwise(sh) {
        f(x_n)
    } else {
        let len = sh.c * sh.r * sh.s * sh.out_h() * sh.out_w();
        with_cols(len, |cols| {
            im2col(cols, x_n, sh);
            f(cols)
        })
    }
}

fn conv2d_forward_im2col(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let (k, crs, pq) = (sh.k, sh.c * sh.r * sh.s, sh.out_h() * sh.out_w());
    if sh.output_len() == 0 {
        return;
    }
    out.par_chunks_mut(k * pq)
        .zip(x.par_chunks(sh.c * sh.h * sh.w))
        .for_each(|(y_n, x_n)| {
            // y = b (broadcast along each row) then y += w · cols.
            let beta = match bias {
                Some(b) => {
                    for (row, &bk) in y_n.chunks_exact_mut(pq).zip(b) {
                        row.fill(bk);
                    }
                    1.0
                }
                None => 0.0,
            };
            with_lowered(x_n, sh, |cols| {
                sgemm_serial(GemmArgs {
                    c: MatMut::row_major(y_n, k, pq),
                    alpha: 1.0,
                    a: MatRef::row_major(w, k, crs),
                    b: MatRef::row_major(cols, crs, pq),
                    beta,
                })
            });
        });
}

fn conv2d_backward_input_im2col(d_x: &mut [f32], g: &[f32], w: &[f32], sh: &Conv2dShape) {
    let (k, crs, pq) = (sh.k, sh.c * sh.r * sh.s, sh.out_h() * sh.out_w());
    let chw = sh.c * sh.h * sh.w;
    if d_x.is_empty() {
        return;
    }
    d_x.par_chunks_mut(chw)
        .zip(g.par_chunks(k * pq.max(1)))
        .for_each(|(dx_n, g_n)| {
            // ∂cols = wᵀ [CRS, K] · G [K, PQ], then col2im adds each entry back to its pixel.
            if is_pointwise(sh) {
                sgemm_serial(GemmArgs {
                    c: MatMut::row_major(dx_n, crs, pq),
                    alpha: 1.0,
                    a: MatRef::row_major(w, k, crs).t(),
                    b: MatRef::row_major(g_n, k, pq),
                    beta: 0.0,
                });
                return;
            }
            with_cols(crs * pq, |d_cols| {
                sgemm_serial(GemmArgs {
                    c: MatMut::row_major(d_cols, crs, pq),
                    alpha: 1.0,
                    a: MatRef::row_major(w, k, crs).t(),
                    b: MatRef::row_major(g_n, k, pq),
                    beta: 0.0,
                });
                dx_n.fill(0.0);
                col2im(dx_n, d_cols, sh);
            });
        });
}

fn conv2d_backward_weight_im2col(d_w: &mut [f32], g: &[f32], x: &[f32], sh: &Conv2dShape) {
    let (k, crs, pq) = (sh.k, sh.c * sh.r * sh.s, sh.out_h() * sh.out_w());
    let chw = sh.c * sh.h * sh.w;
    let wlen = k * crs;
    let groups = sh.n.div_ceil(IMAGES_PER_PARTIAL);
    if groups == 0 || pq == 0 {
        d_w.fill(0.0);
        return;
    }
    with_partials(groups * wlen, |partials| {
        partials
            .par_chunks_mut(wlen)
            .enumerate()
            .for_each(|(gi, part)| {
                let first = gi * IMAGES_PER_PARTIAL;
                let last = (first + IMAGES_PER_PARTIAL).min(sh.n);
                for n in first..last {
                    let g_n = &g[n * k * pq..(n + 1) * k * pq];
                    // ∂w_group += G_n [K, PQ] · cols_nᵀ [PQ, CRS]
                    with_lowered(&x[n * chw..(n + 1) * chw], sh, |cols| {
                        sgemm_serial(GemmArgs {
                            c: MatMut::row_major(part, k, crs),
                            alpha: 1.0,
                            a: MatRef::row_major(g_n, k, pq),
                            b: MatRef::row_major(cols, crs, pq).t(),
                            beta: if n == first { 0.0 } else { 1.0 },
                        })
                    });
                }
            });
        // The partials in group order: the same additions whatever the thread count.
        d_w.copy_from_slice(&partials[..wlen]);
        for part in partials[wlen..].chunks_exact(wlen) {
            for (d, p) in d_w.iter_mut().zip(part) {
                *d += *p;
            }
        }
    });
}

/// ∂b\[k\] = Σ over images and positions of G\[n, k, p, q\], fast version.
pub fn conv2d_backward_bias(d_b: &mut [f32], g: &[f32], sh: &Conv2dShape) {
    let pq = sh.out_h() * sh.out_w();
    if pq == 0 || sh.k == 0 {
        d_b.fill(0.0);
        return;
    }
    // Each plane's SIMD sum, image by image (G read front to back, in parallel over
    // images), then Σ over images in order for each channel.
    let mut plane_sums = vec![0.0f32; sh.n * sh.k];
    plane_sums
        .par_chunks_mut(sh.k)
        .zip(g.par_chunks(sh.k * pq))
        .for_each(|(sums, g_n)| bias_plane_sums(sums, g_n, pq));
    bias_from_plane_sums(d_b, &plane_sums);
}

/// The first step of ∂b for one image: sums\[k\] = Σ_{p,q} G_n\[k, p, q\], one SIMD sum
/// per plane of `pq` floats. (The phase planes' ∂w takes it too, while G_n is in cache.)
pub(crate) fn bias_plane_sums(sums: &mut [f32], g_n: &[f32], pq: usize) {
    for (s, plane) in sums.iter_mut().zip(g_n.chunks_exact(pq)) {
        *s = crate::reduce::fast::sum(plane);
    }
}

/// The second step: ∂b\[k\] = Σ_n sums\[n, k\], the images in order (so the bits do not
/// depend on the thread count), from the [N, K] plane sums.
pub(crate) fn bias_from_plane_sums(d_b: &mut [f32], plane_sums: &[f32]) {
    let k = d_b.len();
    if k == 0 {
        return;
    }
    for (c, db) in d_b.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for sums_n in plane_sums.chunks_exact(k) {
            acc += sums_n[c];
        }
        *db = acc;
    }
}

/// The convolution forward pass (see the module docs), fast version: direct AVX-512 kernels or im2col + gemm.
pub fn conv2d_forward(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    conv2d_forward_with(ConvAlgo::Auto, out, x, w, bias, sh)
}

/// [`conv2d_forward`] on SIMD level `isa` (or the best usable one below it).
pub fn conv2d_forward_with(
    algo: ConvAlgo,
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    if let Some(width) = use_winograd(algo, sh, Pass::Forward) {
        return super::winograd::forward(width, out, x, w, bias, sh);
    }
    if !use_direct(algo, sh, Pass::Forward) {
        if let Some(width) = use_planes(algo, sh, sh.k) {
            return super::planes::forward(width, out, x, w, bias, sh);
        }
        return conv2d_forward_im2col(out, x, w, bias, sh);
    }
    #[cfg(target_arch = "x86_64")]
    direct_forward(out, x, w, bias, sh, false);
}

/// ReLU of [`conv2d_forward_with`] with ReLU's mask: out = max(conv2d(x, w) + b, 0) and
/// positive = \[out > 0\], the same bits as the convolution followed by
/// `elementwise::fast::relu_in_place_mask`. Each image's output is rectified while it is
/// still in cache (one pass over the full output fewer) on the direct kernels, the phase
/// planes and Winograd; after the convolution in one pass on im2col.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_relu_with(
    algo: ConvAlgo,
    out: &mut [f32],
    positive: &mut [bool],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    assert_eq!(
        positive.len(),
        out.len(),
        "conv2d_forward_relu: mask of {} for an output of {}",
        positive.len(),
        out.len()
    );
    let out_len = sh.output_len() / sh.n.max(1);
    if out_len == 0 {
        return;
    }
    let relu = |mask: &mut [bool], y_n: &mut [f32]| {
        crate::elementwise::reference::relu_in_place_mask(y_n, mask)
    };
    if let Some(width) = use_winograd(algo, sh, Pass::Forward) {
        let masks = positive.par_chunks_mut(out_len);
        return super::winograd::forward_then(width, out, x, w, bias, sh, masks, relu);
    }
    if !use_direct(algo, sh, Pass::Forward) {
        if let Some(width) = use_planes(algo, sh, sh.k) {
            let masks = positive.par_chunks_mut(out_len);
            return super::planes::forward_then(width, out, x, w, bias, sh, masks, relu);
        }
        conv2d_forward_im2col(out, x, w, bias, sh);
        return crate::elementwise::fast::relu_in_place_mask(out, positive);
    }
    #[cfg(target_arch = "x86_64")]
    direct_forward_with(out, Some(positive), x, w, bias, sh, false);
}

/// [`conv2d_forward_with`], and the batch-norm statistics of each output block taken as
/// it is written: `blocks[n·K + k]` = block \[n, k\]'s (mean, Σ (y − mean)²) by
/// [`image_block_statistics`], for a convolution that batch norm follows, which then
/// need not read y from memory for its statistics
/// (`batch_norm::pool::batch_norm_max_pool2d_forward_train_from_blocks`). The phase planes
/// and Winograd take them from each image's output while it is still in cache; the other
/// paths in one pass over y after the convolution. Either way the same function on the same
/// values: the same bits as batch norm's own statistics pass.
pub fn conv2d_forward_with_statistics(
    algo: ConvAlgo,
    out: &mut [f32],
    blocks: &mut [(f32, f32)],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let plane = sh.out_h() * sh.out_w();
    let bn = crate::batch_norm::BatchNormShape {
        n: sh.n,
        c: sh.k,
        hw: plane,
    };
    crate::batch_norm::check_blocks("conv2d_forward_with_statistics", blocks, &bn);
    let outs = blocks.par_chunks_mut(sh.k.max(1));
    let stats =
        |o: &mut [(f32, f32)], y_n: &mut [f32]| image_block_statistics(isa(), o, y_n, plane);
    if sh.k == 0 || plane == 0 {
        return conv2d_forward_with(algo, out, x, w, bias, sh);
    }
    if let Some(width) = use_winograd(algo, sh, Pass::Forward) {
        return super::winograd::forward_then(width, out, x, w, bias, sh, outs, stats);
    }
    if !use_direct(algo, sh, Pass::Forward) {
        if let Some(width) = use_planes(algo, sh, sh.k) {
            return super::planes::forward_then(width, out, x, w, bias, sh, outs, stats);
        }
    }
    conv2d_forward_with(algo, out, x, w, bias, sh);
    outs.zip(out.par_chunks_mut(sh.k * plane))
        .for_each(|(o, y_n)| stats(o, y_n));
}

/// ∂x of the convolution, fast version.
pub fn conv2d_backward_input(d_x: &mut [f32], g: &[f32], w: &[f32], sh: &Conv2dShape) {
    conv2d_backward_input_with(ConvAlgo::Auto, d_x, g, w, sh)
}

/// [`conv2d_backward_input`] on SIMD level `isa` (or the best usable one below it).
pub fn conv2d_backward_input_with(
    algo: ConvAlgo,
    d_x: &mut [f32],
    g: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    // The direct tile computes 8 channels of ∂x at a time: with fewer than 8 input
    // channels most of its arithmetic would be padding, so im2col does better there.
    if let Some(width) = use_winograd(algo, sh, Pass::Input) {
        return super::winograd::backward_input(width, d_x, g, w, sh);
    }
    if sh.c < 8 {
        return conv2d_backward_input_im2col(d_x, g, w, sh);
    }
    if !use_direct(algo, sh, Pass::Input) {
        if let Some(width) = use_planes(algo, sh, sh.c) {
            return super::planes::backward_input(width, d_x, g, w, sh);
        }
        return conv2d_backward_input_im2col(d_x, g, w, sh);
    }
    // ∂x is the stride-1 convolution of G with the flipped, transposed weights.
    #[cfg(target_arch = "x86_64")]
    direct_forward(d_x, g, w, None, sh, true);
}

/// ∂w of the convolution, fast version, summed in a fixed order over groups of images.
pub fn conv2d_backward_weight(d_w: &mut [f32], g: &[f32], x: &[f32], sh: &Conv2dShape) {
    conv2d_backward_weight_with(ConvAlgo::Auto, d_w, g, x, sh)
}

/// [`conv2d_backward_weight`] on SIMD level `isa` (or the best usable one below it).
pub fn conv2d_backward_weight_with(
    algo: ConvAlgo,
    d_w: &mut [f32],
    g: &[f32],
    x: &[f32],
    sh: &Conv2dShape,
) {
    backward_weight_maybe_bias(algo, d_w, None, g, x, sh)
}

/// ∂w and ∂b together, fast version: the same bits as [`conv2d_backward_weight_with`] and
/// [`conv2d_backward_bias`], with G read from memory once on the phase planes and the direct
/// route (each image's plane sums taken while its G is in cache); the other paths make the
/// two calls.
pub fn conv2d_backward_weight_bias_with(
    algo: ConvAlgo,
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    x: &[f32],
    sh: &Conv2dShape,
) {
    backward_weight_maybe_bias(algo, d_w, Some(d_b), g, x, sh)
}

/// The phase planes' width where [`conv2d_backward_weight_bias_with`] computes ∂w of `sh`
/// by them (and ∂b in the same pass).
pub(crate) fn planes_weight_width(
    algo: ConvAlgo,
    sh: &Conv2dShape,
) -> Option<super::planes::Width> {
    if use_winograd(algo, sh, Pass::Weight).is_some() || use_direct(algo, sh, Pass::Weight) {
        return None;
    }
    use_planes(algo, sh, sh.k)
}

/// The one choice of ∂w's path, with ∂b taken in the same pass where the path can (the
/// phase planes) and by [`conv2d_backward_bias`] after it elsewhere.
fn backward_weight_maybe_bias(
    algo: ConvAlgo,
    d_w: &mut [f32],
    d_b: Option<&mut [f32]>,
    g: &[f32],
    x: &[f32],
    sh: &Conv2dShape,
) {
    if let Some(width) = use_winograd(algo, sh, Pass::Weight) {
        return super::winograd::backward_weight_bias(width, d_w, d_b, g, x, sh);
    } else if use_direct(algo, sh, Pass::Weight) {
        #[cfg(target_arch = "x86_64")]
        return direct_weight(d_w, d_b, g, x, sh);
    } else if let Some(width) = use_planes(algo, sh, sh.k) {
        return super::planes::backward_weight_bias(width, d_w, d_b, g, x, sh);
    } else {
        conv2d_backward_weight_im2col(d_w, g, x, sh);
    }
    if let Some(d_b) = d_b {
        conv2d_backward_bias(d_b, g, sh);
    }
}

/// The direct forward tile over every image: of `sh` itself, or with `input_grad` of the
/// convolution whose output is `sh`'s input gradient (input G, output ∂x).
#[cfg(target_arch = "x86_64")]
fn direct_forward(
    out: &mut [f32],
    input: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    input_grad: bool,
) {
    direct_forward_with(out, None, input, w, bias, sh, input_grad)
}

/// [`direct_forward`], each image's output rectified in cache where `positive` is given
/// (ReLU's mask, one flag per output).
#[cfg(target_arch = "x86_64")]
fn direct_forward_with(
    out: &mut [f32],
    positive: Option<&mut [bool]>,
    input: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    input_grad: bool,
) {
    let conv = if input_grad {
        direct::input_grad_shape(sh)
    } else {
        *sh
    };
    let grid = direct::Grid::new(&conv);
    let (in_len, out_len) = (
        conv.c * conv.h * conv.w,
        conv.k * conv.out_h() * conv.out_w(),
    );
    if sh.n == 0 || out_len == 0 {
        return;
    }
    with_partials(direct::packed_weight_len(&conv), |wp| {
        direct::pack_weight(wp, w, sh, input_grad);
        let wp = &*wp;
        let masks = optional_chunks(positive, out_len, out.len() / out_len);
        out.par_chunks_mut(out_len)
            .zip(input.par_chunks(in_len))
            .zip(masks.into_par_iter())
            .for_each(|((y_n, x_n), mask)| {
                with_cols(conv.c * grid.plane, |xp| {
                    direct::pad_input(xp, x_n, conv.c, &conv, &grid);
                    // SAFETY: `use_direct` checked AVX-512F; xp holds C padded planes, wp the
                    // packed weights, y_n the K·P·Q outputs of one image.
                    unsafe { direct::forward_image(y_n, xp, wp, bias, &conv, &grid) };
                });
                if let Some(mask) = mask {
                    crate::elementwise::reference::relu_in_place_mask(y_n, mask);
                }
            });
    });
}

/// The direct weight gradient: one partial ∂wᵀ per fixed group of images (images added in
/// order), groups in parallel, then the partials added in group order and transposed. With
/// `d_b`, each image's plane sums of G are taken beside its ∂w, while G is in cache.
#[cfg(target_arch = "x86_64")]
fn direct_weight(d_w: &mut [f32], d_b: Option<&mut [f32]>, g: &[f32], x: &[f32], sh: &Conv2dShape) {
    let grid = direct::Grid::new(sh);
    let (chw, kpq) = (sh.c * sh.h * sh.w, sh.k * grid.p * grid.q);
    let taps = sh.c * sh.r * sh.s;
    let kp = direct::kpad16(sh.k);
    let plen = taps * kp;
    let (xp_len, gt_len) = (sh.c * grid.plane, grid.p * grid.q * kp);
    let groups = sh.n.div_ceil(direct::DIRECT_GROUP);
    if groups == 0 {
        d_w.fill(0.0);
        if let Some(d_b) = d_b {
            d_b.fill(0.0);
        }
        return;
    }
    let pq = grid.p * grid.q;
    let mut plane_sums = d_b.as_ref().map(|_| vec![0.0f32; sh.n * sh.k]);
    let sum_chunks = optional_chunks(
        plane_sums.as_deref_mut(),
        direct::DIRECT_GROUP * sh.k,
        groups,
    );
    with_partials(groups * plen, |partials| {
        partials
            .par_chunks_mut(plen)
            .zip(sum_chunks.into_par_iter())
            .enumerate()
            .for_each(|(gi, (part, mut sums))| {
                let first = gi * direct::DIRECT_GROUP;
                let last = (first + direct::DIRECT_GROUP).min(sh.n);
                part.fill(0.0);
                with_cols(xp_len + gt_len, |scratch| {
                    let (xp, gt) = scratch.split_at_mut(xp_len);
                    for n in first..last {
                        direct::pad_input(xp, &x[n * chw..(n + 1) * chw], sh.c, sh, &grid);
                        let g_n = &g[n * kpq..(n + 1) * kpq];
                        if let Some(sums) = sums.as_deref_mut() {
                            let i = n - first;
                            bias_plane_sums(&mut sums[i * sh.k..(i + 1) * sh.k], g_n, pq);
                        }
                        if direct::one_channel_weight(sh) {
                            // SAFETY: `use_direct` checked AVX-512F; the kernel checks the
                            // lengths of G's planes, xp and the partial.
                            unsafe {
                                direct::weight_image_one_channel(part, g_n, pq, xp, sh, &grid)
                            };
                            continue;
                        }
                        direct::transpose_grad(gt, g_n, sh.k, &grid);
                        // SAFETY: `use_direct` checked AVX-512F; the buffers have the sizes
                        // `weight_image` needs.
                        unsafe { direct::weight_image(part, gt, xp, sh, &grid) };
                    }
                })
            });
        // Σ of the partials in group order, read transposed: ∂w[k][tap] = Σ_g ∂wᵀ_g[tap][k].
        direct::sum_partials_transposed(d_w, partials, plen, sh);
    });
    if let (Some(d_b), Some(plane_sums)) = (d_b, plane_sums) {
        bias_from_plane_sums(d_b, &plane_sums);
    }
}

/// `count` pieces of `len` of an optional buffer (the last may be shorter), or `count`
/// `None`s without one: a per-image (or per-group) slice for a parallel loop to zip with.
#[cfg(target_arch = "x86_64")]
fn optional_chunks<T>(buffer: Option<&mut [T]>, len: usize, count: usize) -> Vec<Option<&mut [T]>> {
    let mut pieces: Vec<Option<&mut [T]>> = (0..count).map(|_| None).collect();
    if let Some(buffer) = buffer {
        for (piece, chunk) in pieces.iter_mut().zip(buffer.chunks_mut(len.max(1))) {
            *piece = Some(chunk);
        }
    }
    pieces
}
