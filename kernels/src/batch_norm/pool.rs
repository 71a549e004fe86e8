//! Batch norm followed by max pooling, in one pass over the normalized values: the f32
//! kernels behind `Tensor::batch_norm_relu_max_pool2d` (the op applies the ReLU to the
//! pooled values, as `max_pool2d_relu` does: max(relu(z)) = relu(max(z))).
//!
//! ## Forward
//! Phase 1 is batch norm's own: μ and σ² of each channel, a = γ·invstd, b = β − μ·a.
//! Phase 2, for each \[n, c\] plane on its own:
//!   z = a·x + b                       (into a plane-sized buffer that stays in L1)
//!   pooled\[o\] = max of z over window o,   argmax\[o\] = the winner's index in the plane
//! The full-size normalized tensor never goes to memory: after the statistics' two passes,
//! x is read once and only the pooled values and their argmax (a quarter each for 2×2
//! windows) are written, where the unfused ops write z and read it back.
//!
//! ## Backward
//! From the pooled gradient Gp (the op has already zeroed it where the ReLU was off) and
//! the argmax, batch norm's incoming gradient is Gp unpooled:
//!   G\[argmax\[o\]\] += Gp\[o\],  zero elsewhere.
//! Phase 1 needs each channel's Σ G and Σ G (x − μ); phase 2 writes ∂x = A·G + B·x + C per
//! plane (the coefficients of `fast`). Both phases build each plane's G in L1 (zero, then
//! scatter) instead of reading a full-size G from memory: the full-size traffic is x read
//! twice and ∂x written once, where the unfused ops also write G and read it twice.
//!
//! When a convolution wrote x, its backward can form ∂x itself, plane by plane in cache as
//! it reads it (`conv2d::fused::backward_batch_norm`): then only phase 1 runs here
//! ([`batch_norm_max_pool2d_backward_coefficients`]), and ∂x is never written at all.
//!
//! ## Bit for bit
//! Each plane goes through the very functions of the unfused fast path (batch norm's
//! `affine`, `sum`, `dot_dev`, `affine2_in_place`; max pooling's plane forward and
//! backward), on the same blocks, summed in the same order: values and gradients equal the
//! unfused `batch_norm` → `max_pool2d` (fast versions) exactly, on every ISA and thread
//! count (`kernels/tests/batch_norm_pool.rs`).

use rayon::prelude::*;

use super::fast::{block_affine, block_affine2_in_place, coefficients, gradient_sums};
use super::{BatchNormParams, BatchNormShape};
use crate::isa::{isa, Isa};
use crate::max_pool2d::fast::{backward_plane, forward_plane};
use crate::max_pool2d::Pool2dShape;
use crate::scratch::with_work;
use crate::simd::{blocks_per_task, usable};

/// Training-mode batch norm (batch statistics; μ and invstd saved; running statistics
/// updated), then max pooling: writes the pooled values and their argmax.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_forward_train(
    pooled: &mut [f32],
    argmax: &mut [u32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    pool: &Pool2dShape,
) {
    batch_norm_max_pool2d_forward_train_with(
        isa(),
        pooled,
        argmax,
        save_mean,
        save_invstd,
        x,
        p,
        pool,
    )
}

/// [`batch_norm_max_pool2d_forward_train`] on SIMD level `isa` (or the best usable one
/// below it).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_forward_train_with(
    isa: Isa,
    pooled: &mut [f32],
    argmax: &mut [u32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    pool: &Pool2dShape,
) {
    forward_train(
        isa,
        pooled,
        argmax,
        save_mean,
        save_invstd,
        None,
        x,
        p,
        pool,
    )
}

/// [`batch_norm_max_pool2d_forward_train`] with x's block statistics already taken:
/// `blocks[n·C + c]` is block \[n, c\]'s (m_b, Σ (x − m_b)²) as
/// [`super::fast::image_block_statistics`] gives it, which the convolution that wrote x
/// computed while each image was in cache (`conv2d::fast::conv2d_forward_with_statistics`).
/// x is then read once, by the normalizing pass; the results are the same bits.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_forward_train_from_blocks(
    pooled: &mut [f32],
    argmax: &mut [u32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: &[(f32, f32)],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    pool: &Pool2dShape,
) {
    let kernel = "batch_norm_max_pool2d_forward_train_from_blocks";
    super::check_blocks(kernel, blocks, &bn_shape(pool));
    let (isa, blocks) = (isa(), Some(blocks));
    forward_train(
        isa,
        pooled,
        argmax,
        save_mean,
        save_invstd,
        blocks,
        x,
        p,
        pool,
    )
}

/// The forward of both entries: the statistics from `blocks` if given, else from x.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn forward_train(
    isa: Isa,
    pooled: &mut [f32],
    argmax: &mut [u32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: Option<&[(f32, f32)]>,
    x: &[f32],
    mut p: BatchNormParams<'_, f32>,
    pool: &Pool2dShape,
) {
    const K: &str = "batch_norm_max_pool2d_forward_train";
    let bn = checked_shape(K, pool);
    let (full, pooled_len) = (bn.len(), pool.output_len());
    super::check_train(
        K,
        &bn,
        &[
            ("x", x.len(), full),
            ("pooled", pooled.len(), pooled_len),
            ("argmax", argmax.len(), pooled_len),
        ],
        (save_mean, save_invstd),
        &p,
    );
    let isa = usable(isa);
    let (scale, shift) =
        super::fast::train_statistics(isa, save_mean, save_invstd, x, blocks, &mut p, &bn);
    affine_max_pool2d(isa, pooled, argmax, x, &scale, &shift, pool);
}

/// z = scale\[c\]·x + shift\[c\] per channel, then max pooling of z: the forward's phase 2
/// (the caller has checked the lengths).
fn affine_max_pool2d(
    isa: Isa,
    pooled: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    pool: &Pool2dShape,
) {
    let bn = bn_shape(pool);
    let (hw, pq) = (bn.hw, pool.out_h() * pool.out_w());
    if pq == 0 || hw == 0 {
        return;
    }
    let one = Pool2dShape {
        n: 1,
        c: 1,
        ..*pool
    };
    pooled
        .par_chunks_mut(pq)
        .zip(argmax.par_chunks_mut(pq))
        .zip(x.par_chunks(hw))
        .with_min_len(blocks_per_task(hw))
        .enumerate()
        .for_each(|(plane, ((y, am), xp))| {
            let c = plane % bn.c;
            with_work(hw, |z| {
                block_affine(isa, z, xp, scale[c], shift[c]);
                forward_plane(isa, y, am, z, &one);
            })
        });
}

/// Training-mode backward from the pooled gradient `g` (ReLU's mask already applied):
/// writes ∂x (full size), ∂γ and ∂β.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_backward(
    d_x: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    pool: &Pool2dShape,
) {
    batch_norm_max_pool2d_backward_with(isa(), d_x, d_w, d_b, g, argmax, x, w, mean, invstd, pool)
}

/// [`batch_norm_max_pool2d_backward`] on SIMD level `isa` (or the best usable one below it).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_backward_with(
    isa: Isa,
    d_x: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    pool: &Pool2dShape,
) {
    const K: &str = "batch_norm_max_pool2d_backward";
    let bn = checked_shape(K, pool);
    super::check(K, &bn, &[("d_x", d_x.len(), bn.len())]);
    let isa = usable(isa);
    let coef = backward_coefficients(K, isa, d_w, d_b, g, argmax, x, w, mean, invstd, pool);
    let (hw, pq) = (bn.hw, pool.out_h() * pool.out_w());
    if hw == 0 {
        return;
    }
    // Phase 2: ∂x of each plane, its G scattered straight into ∂x's block first.
    d_x.par_chunks_mut(hw)
        .zip(x.par_chunks(hw))
        .with_min_len(blocks_per_task(hw))
        .enumerate()
        .for_each(|(o, (dx, xb))| {
            let (gs, am) = (&g[o * pq..(o + 1) * pq], &argmax[o * pq..(o + 1) * pq]);
            input_grad_plane(isa, dx, gs, am, xb, coef[o % bn.c], pool);
        });
}

/// The backward's phase 1 alone: ∂γ and ∂β, and each channel's coefficients (A, B, C) of
/// ∂x = A·G + B·x + C, for a caller that forms ∂x itself, plane by plane, with
/// `input_grad_plane` where it reads it (the convolution's backward:
/// `conv2d::fused::backward_batch_norm`), instead of writing it at full size. Reads x once.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_max_pool2d_backward_coefficients(
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    pool: &Pool2dShape,
) -> Vec<[f32; 3]> {
    const K: &str = "batch_norm_max_pool2d_backward_coefficients";
    let isa = usable(isa());
    backward_coefficients(K, isa, d_w, d_b, g, argmax, x, w, mean, invstd, pool)
}

/// Phase 1, after checking every length but ∂x's against `pool` (errors name `kernel`):
/// each channel's (Σ G, Σ G (x − μ)), each plane's G built in L1 first; then ∂γ, ∂β and
/// the coefficients of ∂x. Planes of no values leave ∂γ and ∂β as they are.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn backward_coefficients(
    kernel: &str,
    isa: Isa,
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    pool: &Pool2dShape,
) -> Vec<[f32; 3]> {
    let bn = checked_shape(kernel, pool);
    let (full, pooled_len, c) = (bn.len(), pool.output_len(), bn.c);
    super::check(
        kernel,
        &bn,
        &[
            ("x", x.len(), full),
            ("g", g.len(), pooled_len),
            ("argmax", argmax.len(), pooled_len),
            ("d_w", d_w.len(), c),
            ("d_b", d_b.len(), c),
            ("w", w.len(), c),
            ("mean", mean.len(), c),
            ("invstd", invstd.len(), c),
        ],
    );
    let (hw, pq) = (bn.hw, pool.out_h() * pool.out_w());
    if hw == 0 {
        return vec![[0.0; 3]; c];
    }
    let sums = gradient_sums(isa, x, mean, &bn, |o, f| {
        with_work(hw, |gp| {
            let (gs, am) = (&g[o * pq..(o + 1) * pq], &argmax[o * pq..(o + 1) * pq]);
            backward_plane(isa, gp, gs, am, pool);
            f(gp)
        })
    });
    coefficients(&sums, d_w, d_b, w, mean, invstd, &bn)
}

/// One plane's ∂x = A·G + B·x + C (the backward's phase 2), G routed from the plane's
/// pooled gradient `g` and `argmax` into `dx` first, at SIMD level `isa` (a usable one).
/// `pool`'s N and C do not matter: only the plane's shape and the windows.
pub(crate) fn input_grad_plane(
    isa: Isa,
    dx: &mut [f32],
    g: &[f32],
    argmax: &[u32],
    x: &[f32],
    coef: [f32; 3],
    pool: &Pool2dShape,
) {
    backward_plane(isa, dx, g, argmax, pool);
    block_affine2_in_place(isa, dx, x, coef);
}

/// Batch norm's view of the pooling's input (N, C and H·W), after checking the pooling.
#[track_caller]
fn checked_shape(kernel: &str, pool: &Pool2dShape) -> BatchNormShape {
    if let Err(e) = pool.validate() {
        panic!("{e} ({kernel})");
    }
    bn_shape(pool)
}

/// Batch norm's view of the pooling's input: N, C and H·W.
fn bn_shape(pool: &Pool2dShape) -> BatchNormShape {
    BatchNormShape {
        n: pool.n,
        c: pool.c,
        hw: pool.h * pool.w,
    }
}
