//! Batch norm followed by ReLU, in training mode: the f32 kernels behind
//! `Tensor::batch_norm_relu`, the conv → BN → ReLU of residual blocks and VGG stages.
//!
//! ## Forward
//! Phase 1 is batch norm's own: μ and σ² of each channel, a = γ·invstd, b = β − μ·a.
//! Phase 2, for each \[n, c\] block:
//!   y = relu(a·x + b)
//! written once, where the unfused ops write a·x + b, read it back and write the ReLU's
//! output and its one-byte mask.
//!
//! ## Backward
//! The ReLU's mask is not stored: z = a·x + b is recomputed from x (which batch norm's
//! backward reads anyway) by the forward's multiply-add, so \[z > 0\] is the forward's mask
//! bit for bit. With G the gradient of y and G' = G·\[z > 0\], formed in registers:
//!   phase 1: each channel's Σ G' and Σ G' (x − μ);
//!   phase 2: ∂x = A·G' + B·x + C per block (the coefficients of `fast`).
//! The full-size traffic is G and x read twice and ∂x written once: batch norm's own
//! backward, where the unfused ReLU also reads its mask and writes G'.
//!
//! ## Bit for bit
//! The SIMD bodies (`fast`'s `affine_relu`, `masked_sums`, `masked_affine2`) run the
//! operations of the unfused fast path (batch norm's `affine`, `sum`, `dot_dev`,
//! `affine2_in_place`) on the same lanes, tails and accumulators, with the elementwise
//! ReLU's selects in between; the blocks are summed in the same order. Values and gradients
//! equal the unfused `batch_norm` → `relu` (fast versions) exactly, on every ISA and thread
//! count (`kernels/tests/batch_norm_relu.rs`).

use rayon::prelude::*;

use super::fast::{
    block_affine, block_affine_relu, block_masked_affine2, coefficients, masked_gradient_sums,
};
use super::{BatchNormParams, BatchNormShape};
use crate::isa::{isa, Isa};
use crate::simd::{blocks_per_task, usable};

/// Training-mode batch norm (batch statistics; μ and invstd saved; running statistics
/// updated), then ReLU: writes relu(batch_norm(x)).
#[track_caller]
pub fn batch_norm_relu_forward_train(
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    batch_norm_relu_forward_train_with(isa(), out, save_mean, save_invstd, x, p, sh)
}

/// [`batch_norm_relu_forward_train`] on SIMD level `isa` (or the best usable one below it).
#[track_caller]
pub fn batch_norm_relu_forward_train_with(
    isa: Isa,
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    relu_forward_train(isa, out, save_mean, save_invstd, None, x, p, sh)
}

/// [`batch_norm_relu_forward_train`] with x's block statistics already taken by the
/// convolution that wrote it (`blocks[n·C + c]`, see
/// `pool::batch_norm_max_pool2d_forward_train_from_blocks`): x read once; the same bits.
#[track_caller]
pub fn batch_norm_relu_forward_train_from_blocks(
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: &[(f32, f32)],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    super::check_blocks("batch_norm_relu_forward_train_from_blocks", blocks, sh);
    relu_forward_train(isa(), out, save_mean, save_invstd, Some(blocks), x, p, sh)
}

/// The forward of both entries: the statistics from `blocks` if given, else from x.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn relu_forward_train(
    isa: Isa,
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: Option<&[(f32, f32)]>,
    x: &[f32],
    mut p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    const K: &str = "batch_norm_relu_forward_train";
    super::check_train(
        K,
        sh,
        &[("x", x.len(), sh.len()), ("out", out.len(), sh.len())],
        (save_mean, save_invstd),
        &p,
    );
    let isa = usable(isa);
    let (scale, shift) =
        super::fast::train_statistics(isa, save_mean, save_invstd, x, blocks, &mut p, sh);
    if sh.hw == 0 {
        return;
    }
    out.par_chunks_mut(sh.hw)
        .zip(x.par_chunks(sh.hw))
        .with_min_len(blocks_per_task(sh.hw))
        .enumerate()
        .for_each(|(blk, (y, xb))| {
            let c = blk % sh.c;
            block_affine_relu(isa, y, xb, scale[c], shift[c]);
        });
}

/// Training-mode batch norm, plus a shortcut, then ReLU: out = relu(batch_norm(x) + s) and
/// positive = \[out > 0\], the end of a residual block. Per block, z = a·x + b goes into
/// `out` (in L1) and the elementwise kernels' `add_relu_mask` select runs over it there, so
/// the values and the mask are the unfused `batch_norm` → `add_relu` bits; the full-size
/// batch norm output is never written. (Its backward is the unfused ops' rules: the
/// shortcut's gradient is the masked G itself, which must exist at full size anyway.)
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_add_relu_forward_train(
    out: &mut [f32],
    positive: &mut [bool],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    shortcut: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    batch_norm_add_relu_forward_train_with(
        isa(),
        out,
        positive,
        save_mean,
        save_invstd,
        x,
        shortcut,
        p,
        sh,
    )
}

/// [`batch_norm_add_relu_forward_train`] on SIMD level `isa` (or the best usable one below
/// it).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_add_relu_forward_train_with(
    isa: Isa,
    out: &mut [f32],
    positive: &mut [bool],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    shortcut: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    let io = (out, positive);
    add_relu_forward_train(isa, io, save_mean, save_invstd, None, x, shortcut, p, sh)
}

/// [`batch_norm_add_relu_forward_train`] with x's block statistics already taken by the
/// convolution that wrote it (as [`batch_norm_relu_forward_train_from_blocks`]).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_add_relu_forward_train_from_blocks(
    out: &mut [f32],
    positive: &mut [bool],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: &[(f32, f32)],
    x: &[f32],
    shortcut: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    super::check_blocks("batch_norm_add_relu_forward_train_from_blocks", blocks, sh);
    let (io, blocks) = ((out, positive), Some(blocks));
    add_relu_forward_train(
        isa(),
        io,
        save_mean,
        save_invstd,
        blocks,
        x,
        shortcut,
        p,
        sh,
    )
}

/// The forward of both add-ReLU entries: the statistics from `blocks` if given, else from x.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn add_relu_forward_train(
    isa: Isa,
    (out, positive): (&mut [f32], &mut [bool]),
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    blocks: Option<&[(f32, f32)]>,
    x: &[f32],
    shortcut: &[f32],
    mut p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    const K: &str = "batch_norm_add_relu_forward_train";
    let (full, c) = (sh.len(), sh.c);
    super::check_train(
        K,
        sh,
        &[
            ("x", x.len(), full),
            ("shortcut", shortcut.len(), full),
            ("out", out.len(), full),
            ("positive", positive.len(), full),
        ],
        (save_mean, save_invstd),
        &p,
    );
    let isa = usable(isa);
    let (scale, shift) =
        super::fast::train_statistics(isa, save_mean, save_invstd, x, blocks, &mut p, sh);
    let hw = sh.hw;
    if hw == 0 {
        return;
    }
    out.par_chunks_mut(hw)
        .zip(positive.par_chunks_mut(hw))
        .zip(x.par_chunks(hw).zip(shortcut.par_chunks(hw)))
        .with_min_len(blocks_per_task(hw))
        .enumerate()
        .for_each(|(blk, ((y, pos), (xb, sb)))| {
            let k = blk % c;
            block_affine(isa, y, xb, scale[k], shift[k]);
            add_relu_mask_in_place(y, pos, sb);
        });
}

/// y ← relu(y + s) (NaN kept) and positive = \[y > 0\]: `elementwise::reference::add_relu_mask`
/// with its first operand in place.
fn add_relu_mask_in_place(y: &mut [f32], positive: &mut [bool], s: &[f32]) {
    for ((v, p), &sv) in y.iter_mut().zip(positive).zip(s) {
        let sum = *v + sv;
        let keep = sum > 0.0 || sum.is_nan();
        *v = if keep { sum } else { 0.0 };
        *p = *v > 0.0;
    }
}

/// Training-mode backward from G, the gradient of relu(batch_norm(x)): writes ∂x, ∂γ and
/// ∂β. `w` and `b` are γ and β, `mean` and `invstd` what the forward saved.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_relu_backward(
    d_x: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) {
    batch_norm_relu_backward_with(isa(), d_x, d_w, d_b, g, x, w, b, mean, invstd, sh)
}

/// [`batch_norm_relu_backward`] on SIMD level `isa` (or the best usable one below it).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_relu_backward_with(
    isa: Isa,
    d_x: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) {
    const K: &str = "batch_norm_relu_backward";
    let (full, c) = (sh.len(), sh.c);
    super::check(
        K,
        sh,
        &[
            ("d_x", d_x.len(), full),
            ("g", g.len(), full),
            ("x", x.len(), full),
            ("d_w", d_w.len(), c),
            ("d_b", d_b.len(), c),
            ("w", w.len(), c),
            ("b", b.len(), c),
            ("mean", mean.len(), c),
            ("invstd", invstd.len(), c),
        ],
    );
    let isa = usable(isa);
    let hw = sh.hw;
    if hw == 0 {
        return;
    }
    // The forward's affine map, by the same expressions as `train_statistics`.
    let (scale, shift): (Vec<f32>, Vec<f32>) = (0..c)
        .map(|k| {
            let a = w[k] * invstd[k];
            (a, b[k] - mean[k] * a)
        })
        .unzip();
    // Phase 1: each channel's (Σ G', Σ G' (x − μ)), G' formed in registers.
    let ab = |o: usize| (scale[o % c], shift[o % c]);
    let sums = masked_gradient_sums(isa, g, x, mean, sh, ab);
    let coef = coefficients(&sums, d_w, d_b, w, mean, invstd, sh);
    // Phase 2: ∂x of each block.
    d_x.par_chunks_mut(hw)
        .zip(g.par_chunks(hw).zip(x.par_chunks(hw)))
        .with_min_len(blocks_per_task(hw))
        .enumerate()
        .for_each(|(o, (dx, (gb, xb)))| {
            block_masked_affine2(isa, dx, gb, xb, ab(o), coef[o % c]);
        });
}
