//! Convolution → 2×2 max-pool fused per image, so the full-size convolution output never
//! leaves the core's cache (`conv-pool`'s blocks: Conv2d → ReLU → MaxPool2d).
//!
//! Unfused, a batch of 128 images writes the first convolution's 12.8 MB output to memory
//! and reads it back to pool it. Here each image's convolution output (100 KB) goes to a
//! per-thread scratch buffer, is pooled from there, and only the pooled values and the
//! argmax are written.
//!
//! Three routes, whichever computes the unfused convolution on this CPU:
//! - AVX-512's direct kernels (stride 1): backward also fused, the pooled gradient routed
//!   back into a scratch plane per image and fed straight to the weight, bias and input
//!   gradients;
//! - the phase planes (AVX2, NEON, and AVX-512's strided layers): the forward is fused; the
//!   backward routes the pooled gradient into G and runs the convolution's own backward
//!   kernels on it: image by image inside the planes' ∂w when ∂x is not wanted (a first
//!   layer), else into a full-size G first;
//! - Winograd F(2×2, 3×3) (the wide 3×3 layers on AVX2 and on AVX-512 run by 256-bit
//!   units): its 2×2 output tiles are the pooling windows, so the output transform pools
//!   each tile and y is never written at all; the backward's ∂w + ∂b and ∂x each route
//!   their image's G from the pooled gradient into cache, so G is never written either.
//!
//! Either way the values and gradients equal the unfused `conv2d` then `max_pool2d` bit for
//! bit: the same kernels on the same values in the same order (the weight gradient's image
//! groups, the bias gradient's per-image plane sums added in image order). ReLU stays in
//! the caller (pool, then rectify).
//!
//! The seed CNN's block puts batch norm between the convolution and the pool. Its backward
//! ([`backward_batch_norm`]) runs the same routes on G = A·unpool(Gp) + B·y + C, batch
//! norm's input gradient, formed plane by plane in cache by batch norm's own plane function
//! (the per-channel A, B, C from batch norm's sums, taken first): G is never written at
//! full size, where unfused batch norm writes it and the convolution reads it back once
//! per gradient.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::direct;
use super::{planes, Conv2dShape};
#[cfg(target_arch = "x86_64")]
use crate::isa::{isa, Isa};
use crate::max_pool2d::{fast as pool, Pool2dShape};
#[cfg(target_arch = "x86_64")]
use crate::scratch::{with_cols, with_partials};

/// Whether the fused kernels handle `sh` on this CPU: the output is even-sized for 2×2
/// windows, and either the phase planes compute its forward convolution, or the direct
/// kernels apply and the input gradient (if wanted) has the direct tile's eight channels
/// to fill.
pub fn applies(sh: &Conv2dShape, input_grad: bool) -> bool {
    sh.out_h().is_multiple_of(2)
        && sh.out_w().is_multiple_of(2)
        && (planes_route(sh).is_some()
            || winograd_route(sh).is_some()
            || direct_route(sh, input_grad))
}

/// Winograd's width, where it computes the unfused forward convolution of `sh`.
fn winograd_route(sh: &Conv2dShape) -> Option<planes::Width> {
    super::fast::auto_winograd_width(sh, super::fast::Pass::Forward)
}

/// Winograd's widths for ∂w + ∂b and for ∂x, where `Auto` gives it both passes the
/// backward needs (∂x only when `input_grad`).
fn winograd_backward_widths(
    sh: &Conv2dShape,
    input_grad: bool,
) -> Option<(planes::Width, Option<planes::Width>)> {
    use super::fast::{auto_winograd_width, Pass};
    let weight = auto_winograd_width(sh, Pass::Weight)?;
    let input = auto_winograd_width(sh, Pass::Input);
    (!input_grad || input.is_some()).then_some((weight, input))
}

/// The phase planes' width, where they compute the unfused forward convolution of `sh`.
fn planes_route(sh: &Conv2dShape) -> Option<planes::Width> {
    super::fast::planes_forward_width(sh)
}

/// Whether the AVX-512 direct kernels take `sh` (not where `Auto` gives its forward to
/// Winograd, whose output the fused kernels would not reproduce bit for bit).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn direct_route(sh: &Conv2dShape, input_grad: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        isa() == Isa::Avx512
            && direct::applies(sh)
            && (!input_grad || sh.c >= 8)
            && !super::fast::auto_forward_is_winograd(sh)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The pooling of one output plane.
fn plane_pool(sh: &Conv2dShape) -> Pool2dShape {
    Pool2dShape {
        n: 1,
        c: 1,
        h: sh.out_h(),
        w: sh.out_w(),
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
    }
}

/// pooled [N, K, P/2, Q/2] and argmax = max-pool(conv2d(x, w) + b). Caller checked `applies`.
pub fn forward(
    pooled: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    if let Some(width) = planes_route(sh) {
        return forward_planes(width, pooled, argmax, x, w, bias, sh);
    }
    if let Some(width) = winograd_route(sh) {
        return super::winograd::forward_max_pool2d(width, pooled, argmax, x, w, bias, sh);
    }
    #[cfg(target_arch = "x86_64")]
    forward_direct(pooled, argmax, x, w, bias, sh);
}

/// [`forward`] by the phase planes: each image's output pooled from a scratch buffer by
/// max pooling's own plane kernel, at the level `max_pool2d` runs.
fn forward_planes(
    width: planes::Width,
    pooled: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let ps = plane_pool(sh);
    let (plane, pooled_plane) = (sh.out_h() * sh.out_w(), ps.out_h() * ps.out_w());
    let level = crate::simd::usable(crate::isa::isa());
    let per_image = sh.k * pooled_plane;
    let outs = pooled
        .par_chunks_mut(per_image.max(1))
        .zip(argmax.par_chunks_mut(per_image.max(1)));
    planes::forward_each(width, outs, x, w, bias, sh, |(p_n, a_n), y_n| {
        for k in 0..sh.k {
            let range = k * pooled_plane..(k + 1) * pooled_plane;
            let y_k = &y_n[k * plane..(k + 1) * plane];
            pool::forward_plane(level, &mut p_n[range.clone()], &mut a_n[range], y_k, &ps);
        }
    });
}

/// [`forward`] by the AVX-512 direct kernels.
#[cfg(target_arch = "x86_64")]
fn forward_direct(
    pooled: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let grid = direct::Grid::new(sh);
    let ps = plane_pool(sh);
    let (chw, kpq, pooled_plane) = (
        sh.c * sh.h * sh.w,
        sh.k * grid.p * grid.q,
        ps.out_h() * ps.out_w(),
    );
    with_partials(direct::packed_weight_len(sh), |wp| {
        direct::pack_weight(wp, w, sh, false);
        let wp = &*wp;
        pooled
            .par_chunks_mut(sh.k * pooled_plane)
            .zip(argmax.par_chunks_mut(sh.k * pooled_plane))
            .zip(x.par_chunks(chw))
            .for_each(|((p_n, a_n), x_n)| {
                with_cols(sh.c * grid.plane + kpq, |scratch| {
                    let (xp, y_n) = scratch.split_at_mut(sh.c * grid.plane);
                    direct::pad_input(xp, x_n, sh.c, sh, &grid);
                    // SAFETY: `applies` checked AVX-512F; the buffers have the sizes the
                    // direct forward tile needs for one image.
                    unsafe { direct::forward_image(y_n, xp, wp, bias, sh, &grid) };
                    let plane = grid.p * grid.q;
                    for k in 0..sh.k {
                        let (pk, ak) = (
                            &mut p_n[k * pooled_plane..(k + 1) * pooled_plane],
                            &mut a_n[k * pooled_plane..(k + 1) * pooled_plane],
                        );
                        pool::forward_plane(
                            Isa::Avx512,
                            pk,
                            ak,
                            &y_n[k * plane..(k + 1) * plane],
                            &ps,
                        );
                    }
                })
            });
    });
}

/// Gradients of max-pool(conv2d(x, w) + b) from the pooled gradient `g` (already masked by
/// the caller's ReLU) and the forward pass's `argmax`: ∂x (if wanted), ∂w and ∂b.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    d_x: Option<&mut [f32]>,
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    let pool = plane_pool(sh);
    let source = planes::GradImages::Pooled {
        g,
        argmax,
        pool: &pool,
        batch_norm: None,
    };
    backward_from(d_x, d_w, d_b, source, x, w, sh)
}

/// Gradients of the seed CNN's block, max-pool(batch_norm(y)) with y = conv2d(x, w) + b,
/// with respect to x (if wanted), w and b, from the pooled gradient `g` (already masked by
/// the caller's ReLU), the pool's `argmax` and batch norm's coefficients `coef` of each
/// channel (`batch_norm::pool::batch_norm_max_pool2d_backward_coefficients`, which took
/// ∂γ and ∂β): batch norm's input gradient, the convolution's G, is formed image by image
/// where the convolution's backward reads it (in cache) instead of being written at full
/// size and read back. The same bits as batch norm's backward, then the convolution's.
#[allow(clippy::too_many_arguments)]
pub fn backward_batch_norm(
    d_x: Option<&mut [f32]>,
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    y: &[f32],
    coef: &[[f32; 3]],
    x: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    assert!(
        y.len() == sh.output_len() && coef.len() == sh.k && 4 * g.len() == sh.output_len(),
        "conv2d::fused::backward_batch_norm: y {} (want {}), coef {} (want {}), g {} (want {})",
        y.len(),
        sh.output_len(),
        coef.len(),
        sh.k,
        g.len(),
        sh.output_len() / 4
    );
    let pool = plane_pool(sh);
    let source = planes::GradImages::Pooled {
        g,
        argmax,
        pool: &pool,
        batch_norm: Some((y, coef)),
    };
    backward_from(d_x, d_w, d_b, source, x, w, sh)
}

/// [`backward`] with each image's G from `source`, on the route that computes the unfused
/// convolution's backward on this CPU.
#[allow(clippy::too_many_arguments)]
fn backward_from(
    d_x: Option<&mut [f32]>,
    d_w: &mut [f32],
    d_b: &mut [f32],
    source: planes::GradImages<'_>,
    x: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    if planes_route(sh).is_some()
        || winograd_route(sh).is_some()
        || !super::fast::direct_backward_route(sh, d_x.is_some())
    {
        return backward_routed(d_x, d_w, d_b, source, x, w, sh);
    }
    #[cfg(target_arch = "x86_64")]
    backward_direct(d_x, d_w, d_b, source, x, w, sh);
}

/// [`backward`] of the phase planes' and Winograd's routes: the convolution's own fast
/// backward kernels, exactly the unfused ops' calls, on G from `source`, formed image by
/// image into cache where the kernels can read it so (Winograd's, the planes' ∂w), else
/// into a full-size G first.
#[allow(clippy::too_many_arguments)]
fn backward_routed(
    d_x: Option<&mut [f32]>,
    d_w: &mut [f32],
    d_b: &mut [f32],
    source: planes::GradImages<'_>,
    x: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    if let Some(widths) = winograd_backward_widths(sh, d_x.is_some()) {
        super::winograd::backward_weight_bias_from(widths.0, d_w, Some(d_b), source, x, sh);
        if let (Some(d_x), Some(width)) = (d_x, widths.1) {
            super::winograd::backward_input_from(width, d_x, source, w, sh);
        }
        return;
    }
    if d_x.is_none() {
        if let Some(width) = super::fast::planes_weight_width(super::ConvAlgo::Auto, sh) {
            // Only ∂w and ∂b (a first layer).
            return planes::weight_bias_from(width, d_w, Some(d_b), source, x, sh);
        }
    }
    // Else into a full-size G. Every value of G is written (the 2×2 windows tile the
    // even-sized output), so a reused buffer needs no zeroing; a fresh one per call (12.8 MB
    // for `conv-pool`'s first layer) had its pages faulted in and zeroed every step.
    let level = crate::simd::usable(crate::isa::isa());
    let per_image = sh.k * sh.out_h() * sh.out_w();
    crate::scratch::with_unpooled(sh.output_len(), |g_full| {
        g_full
            .par_chunks_mut(per_image.max(1))
            .enumerate()
            .for_each(|(n, g_n)| source.write(n, g_n, level));
        super::fast::conv2d_backward_weight_bias_with(
            super::ConvAlgo::Auto,
            d_w,
            d_b,
            g_full,
            x,
            sh,
        );
        if let Some(d_x) = d_x {
            super::fast::conv2d_backward_input(d_x, g_full, w, sh);
        }
    });
}

/// [`backward`] by the AVX-512 direct kernels.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn backward_direct(
    d_x: Option<&mut [f32]>,
    d_w: &mut [f32],
    d_b: &mut [f32],
    source: planes::GradImages<'_>,
    x: &[f32],
    w: &[f32],
    sh: &Conv2dShape,
) {
    let grid = direct::Grid::new(sh);
    let (chw, plane) = (sh.c * sh.h * sh.w, grid.p * grid.q);
    let taps = sh.c * sh.r * sh.s;
    let kp = direct::kpad16(sh.k);
    let plen = taps * kp;
    let group = direct::DIRECT_GROUP;
    let groups = sh.n.div_ceil(group);
    // The input gradient is the forward tile over G with flipped, transposed weights.
    let ig = direct::input_grad_shape(sh);
    let ig_grid = direct::Grid::new(&ig);
    let want_dx = d_x.is_some();
    let mut wp_flip = Vec::new();
    if want_dx {
        wp_flip = vec![0.0f32; direct::packed_weight_len(&ig)];
        direct::pack_weight(&mut wp_flip, w, sh, true);
    }
    let mut bias_sums = vec![0.0f32; sh.n * sh.k];
    let dx_chunks: Vec<Option<&mut [f32]>> = match d_x {
        Some(dx) => dx.chunks_mut(group * chw).map(Some).collect(),
        None => (0..groups).map(|_| None).collect(),
    };
    let scratch_len = sh.k * plane
        + sh.c * grid.plane
        + plane * kp
        + if want_dx { sh.k * ig_grid.plane } else { 0 };
    with_partials(groups * plen, |partials| {
        partials
            .par_chunks_mut(plen)
            .zip(bias_sums.par_chunks_mut(group * sh.k))
            .zip(dx_chunks.into_par_iter())
            .enumerate()
            .for_each(|(gi, ((part, bsum), mut dx_group))| {
                part.fill(0.0);
                let first = gi * group;
                with_cols(scratch_len, |scratch| {
                    let (g_full, rest) = scratch.split_at_mut(sh.k * plane);
                    let (xp, rest) = rest.split_at_mut(sh.c * grid.plane);
                    let (gt, gpad) = rest.split_at_mut(plane * kp);
                    for (i, n) in (first..(first + group).min(sh.n)).enumerate() {
                        // G of the convolution output: each pooled gradient back to its
                        // winner (and through batch norm's backward, if it came that way).
                        source.write(n, g_full, Isa::Avx512);
                        let sums = &mut bsum[i * sh.k..(i + 1) * sh.k];
                        super::fast::bias_plane_sums(sums, g_full, plane);
                        direct::pad_input(xp, &x[n * chw..(n + 1) * chw], sh.c, sh, &grid);
                        if direct::one_channel_weight(sh) {
                            // SAFETY: `applies` checked AVX-512F; the kernel checks the
                            // lengths of G's planes, xp and the partial.
                            unsafe {
                                direct::weight_image_one_channel(part, g_full, plane, xp, sh, &grid)
                            };
                        } else {
                            direct::transpose_grad(gt, g_full, sh.k, &grid);
                            // SAFETY: `applies` checked AVX-512F; the buffers have the sizes
                            // `weight_image` needs for one image.
                            unsafe { direct::weight_image(part, gt, xp, sh, &grid) };
                        }
                        if let Some(dx) = dx_group.as_deref_mut() {
                            direct::pad_input(gpad, g_full, sh.k, &ig, &ig_grid);
                            // SAFETY: as above, for the input-gradient convolution.
                            unsafe {
                                direct::forward_image(
                                    &mut dx[i * chw..(i + 1) * chw],
                                    gpad,
                                    &wp_flip,
                                    None,
                                    &ig,
                                    &ig_grid,
                                )
                            };
                        }
                    }
                })
            });
        direct::sum_partials_transposed(d_w, partials, plen, sh);
    });
    super::fast::bias_from_plane_sums(d_b, &bias_sums);
}
