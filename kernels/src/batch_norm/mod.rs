//! Batch normalization over N and the spatial positions, per channel (PyTorch's
//! `F.batch_norm`): 2-D for [N, C, H, W] (hw = H·W) and 1-D for [N, C] (hw = 1).
//!
//! With M = N·hw values per channel c:
//!   μ = (1/M) Σ x            σ² = (1/M) Σ (x − μ)²       (the biased variance)
//!   x̂ = (x − μ) / √(σ² + ε)   y = γ x̂ + β                 (ε = 1e-5 by default)
//! Training also updates the running statistics with momentum m = 0.1:
//!   running_mean ← (1 − m) running_mean + m μ
//!   running_var  ← (1 − m) running_var  + m σ² · M / (M − 1)   (the unbiased variance)
//! Evaluation normalizes with the running statistics instead of the batch's.
//!
//! Backward in training mode, the fused three-term formula (not autograd over the
//! primitive ops), with G = ∂L/∂y and invstd = 1/√(σ² + ε):
//!   ∂β = Σ G      ∂γ = Σ G x̂
//!   ∂x = (γ · invstd / M) · (M G − ∂β − x̂ ∂γ)
//! In evaluation mode μ and σ are constants: ∂x = G γ / √(running_var + ε).

pub mod fast;
pub mod pool;
pub mod reference;
pub mod relu;

use crate::{op_mode, KernelOp, Mode, Real};

/// The sizes of one batch norm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchNormShape {
    /// Images in the batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Values per channel per example: H·W (1 for a 1-D batch norm).
    pub hw: usize,
}

impl BatchNormShape {
    /// Elements of the tensor: N · C · HW.
    pub fn len(&self) -> usize {
        self.n * self.c * self.hw
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per channel, M = N·hw.
    pub fn per_channel(&self) -> usize {
        self.n * self.hw
    }
}

/// The per-channel state batch norm reads and updates.
pub struct BatchNormParams<'a, T> {
    /// γ, the per-channel scale, length C.
    pub weight: &'a [T],
    /// β, the per-channel shift, length C.
    pub bias: &'a [T],
    /// The running mean per channel, updated in training mode.
    pub running_mean: &'a mut [T],
    /// The running (unbiased) variance per channel.
    pub running_var: &'a mut [T],
    /// The running statistics' update weight (PyTorch's `momentum`, 0.1):
    /// running = (1 − momentum) · running + momentum · batch.
    pub momentum: T,
    /// ε added to the variance before the square root (PyTorch's 1e-5).
    pub eps: T,
}

#[track_caller]
fn check(kernel: &str, sh: &BatchNormShape, lens: &[(&str, usize, usize)]) {
    for &(what, got, want) in lens {
        assert!(
            got == want,
            "{kernel}: {what} has {got} elements, expected {want} for {sh:?}"
        );
    }
}

/// The length of a block-statistics argument (`blocks[n·C + c]`, one per \[n, c\] block,
/// taken by the convolution that wrote x) against the shape, checked for `kernel`.
#[track_caller]
pub(crate) fn check_blocks(kernel: &str, blocks: &[(f32, f32)], sh: &BatchNormShape) {
    assert!(
        blocks.len() == sh.n * sh.c,
        "{kernel}: {} block statistics for {} images of {} channels",
        blocks.len(),
        sh.n,
        sh.c
    );
}

/// The checks of a fused training forward: `lens` (its own buffers, x included), the saved
/// statistics and every per-channel parameter of C elements, and more than one value per
/// channel.
#[track_caller]
fn check_train<T>(
    kernel: &str,
    sh: &BatchNormShape,
    lens: &[(&str, usize, usize)],
    saved: (&[T], &[T]),
    p: &BatchNormParams<'_, T>,
) {
    let c = sh.c;
    check(kernel, sh, lens);
    check(
        kernel,
        sh,
        &[
            ("save_mean", saved.0.len(), c),
            ("save_invstd", saved.1.len(), c),
            ("weight", p.weight.len(), c),
            ("bias", p.bias.len(), c),
            ("running_mean", p.running_mean.len(), c),
            ("running_var", p.running_var.len(), c),
        ],
    );
    assert!(
        sh.per_channel() >= 2,
        "{kernel}: training needs more than one value per channel, got {sh:?}"
    );
}

/// Training-mode forward: normalizes with the batch statistics, saves μ and invstd for the
/// backward pass, and updates the running statistics. Needs M ≥ 2 (as PyTorch does).
#[track_caller]
pub fn batch_norm_forward_train<T: Real>(
    out: &mut [T],
    save_mean: &mut [T],
    save_invstd: &mut [T],
    x: &[T],
    p: BatchNormParams<'_, T>,
    sh: &BatchNormShape,
) {
    check(
        "batch_norm_forward_train",
        sh,
        &[
            ("out", out.len(), sh.len()),
            ("x", x.len(), sh.len()),
            ("save_mean", save_mean.len(), sh.c),
            ("save_invstd", save_invstd.len(), sh.c),
            ("weight", p.weight.len(), sh.c),
            ("bias", p.bias.len(), sh.c),
            ("running_mean", p.running_mean.len(), sh.c),
            ("running_var", p.running_var.len(), sh.c),
        ],
    );
    assert!(
        sh.per_channel() >= 2,
        "batch_norm: training needs more than one value per channel, got input [N={}, C={}, hw={}]",
        sh.n,
        sh.c,
        sh.hw
    );
    match op_mode(KernelOp::BatchNorm) {
        Mode::Reference => {
            reference::batch_norm_forward_train(out, save_mean, save_invstd, x, p, sh)
        }
        Mode::Fast => T::batch_norm_forward_train_fast(out, save_mean, save_invstd, x, p, sh),
    }
}

/// Evaluation-mode forward: y = γ (x − running_mean) / √(running_var + ε) + β.
#[track_caller]
pub fn batch_norm_forward_eval<T: Real>(
    out: &mut [T],
    x: &[T],
    p: BatchNormParams<'_, T>,
    sh: &BatchNormShape,
) {
    check(
        "batch_norm_forward_eval",
        sh,
        &[
            ("out", out.len(), sh.len()),
            ("x", x.len(), sh.len()),
            ("weight", p.weight.len(), sh.c),
            ("running_mean", p.running_mean.len(), sh.c),
        ],
    );
    // y = scale·x + shift per channel, the same arithmetic for both versions.
    let (scale, shift) = reference::eval_affine(&p);
    match op_mode(KernelOp::BatchNorm) {
        Mode::Reference => reference::channel_affine(out, x, &scale, &shift, sh),
        Mode::Fast => T::channel_affine_fast(out, x, &scale, &shift, sh),
    }
}

/// Training-mode backward: writes ∂x, ∂γ and ∂β from G and the saved μ and invstd (G is
/// copied into ∂x, then [`batch_norm_backward_in_place`] runs on it).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_backward<T: Real>(
    d_input: &mut [T],
    d_weight: &mut [T],
    d_bias: &mut [T],
    d_out: &[T],
    x: &[T],
    weight: &[T],
    save_mean: &[T],
    save_invstd: &[T],
    sh: &BatchNormShape,
) {
    check(
        "batch_norm_backward",
        sh,
        &[
            ("d_input", d_input.len(), sh.len()),
            ("d_out", d_out.len(), sh.len()),
        ],
    );
    d_input.copy_from_slice(d_out);
    batch_norm_backward_in_place(
        d_input,
        d_weight,
        d_bias,
        x,
        weight,
        save_mean,
        save_invstd,
        sh,
    );
}

/// The training-mode backward with ∂x written over G in `d_out_then_input`: one buffer
/// fewer at the peak of a backward pass.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn batch_norm_backward_in_place<T: Real>(
    d_out_then_input: &mut [T],
    d_weight: &mut [T],
    d_bias: &mut [T],
    x: &[T],
    weight: &[T],
    save_mean: &[T],
    save_invstd: &[T],
    sh: &BatchNormShape,
) {
    check(
        "batch_norm_backward_in_place",
        sh,
        &[
            ("d_out_then_input", d_out_then_input.len(), sh.len()),
            ("x", x.len(), sh.len()),
            ("d_weight", d_weight.len(), sh.c),
            ("d_bias", d_bias.len(), sh.c),
            ("weight", weight.len(), sh.c),
            ("save_mean", save_mean.len(), sh.c),
            ("save_invstd", save_invstd.len(), sh.c),
        ],
    );
    match op_mode(KernelOp::BatchNorm) {
        Mode::Reference => reference::batch_norm_backward_in_place(
            d_out_then_input,
            d_weight,
            d_bias,
            x,
            weight,
            save_mean,
            save_invstd,
            sh,
        ),
        Mode::Fast => T::batch_norm_backward_in_place_fast(
            d_out_then_input,
            d_weight,
            d_bias,
            x,
            weight,
            save_mean,
            save_invstd,
            sh,
        ),
    }
}
