//! The batch-norm formulas of `mod.rs`, one channel at a time.

use super::{BatchNormParams, BatchNormShape};
use crate::Real;

/// The `hw` values of channel `c` in example `n`.
#[inline]
pub(crate) fn block(n: usize, c: usize, sh: &BatchNormShape) -> std::ops::Range<usize> {
    let start = (n * sh.c + c) * sh.hw;
    start..start + sh.hw
}

/// Per channel: μ, then the biased σ² about it (two passes: no cancellation). A channel
/// sums up to N·H·W = 100,352 values at batch 128: the sums run in f64, so their rounding
/// stays far below f32's whatever the length (a plain f32 sum drifts by ~1e-5 relative
/// there, as much as the fast kernels' whole tolerance).
pub fn channel_stats<T: Real>(x: &[T], c: usize, sh: &BatchNormShape) -> (T, T) {
    let m = sh.per_channel() as f64;
    let mut s = 0.0f64;
    for n in 0..sh.n {
        for &v in &x[block(n, c, sh)] {
            s += v.to_f64();
        }
    }
    let mean = s / m;
    let mut ss = 0.0f64;
    for n in 0..sh.n {
        for &v in &x[block(n, c, sh)] {
            let d = v.to_f64() - mean;
            ss += d * d;
        }
    }
    (T::from_f64(mean), T::from_f64(ss / m))
}

/// Updates the running statistics of channel `c` with the batch's μ and biased σ².
pub(crate) fn update_running<T: Real>(
    p: &mut BatchNormParams<'_, T>,
    c: usize,
    mean: T,
    var: T,
    m: usize,
) {
    let unbiased = var * T::from_f64(m as f64 / (m as f64 - 1.0));
    p.running_mean[c] = (T::ONE - p.momentum) * p.running_mean[c] + p.momentum * mean;
    p.running_var[c] = (T::ONE - p.momentum) * p.running_var[c] + p.momentum * unbiased;
}

/// y = γ (x − μ) invstd + β with the batch's μ and σ²; saves μ and invstd; updates the running stats.
pub fn batch_norm_forward_train<T: Real>(
    out: &mut [T],
    save_mean: &mut [T],
    save_invstd: &mut [T],
    x: &[T],
    mut p: BatchNormParams<'_, T>,
    sh: &BatchNormShape,
) {
    for c in 0..sh.c {
        let (mean, var) = channel_stats(x, c, sh);
        let invstd = T::ONE / (var + p.eps).sqrt();
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        for n in 0..sh.n {
            for i in block(n, c, sh) {
                out[i] = p.weight[c] * ((x[i] - mean) * invstd) + p.bias[c];
            }
        }
        update_running(&mut p, c, mean, var, sh.per_channel());
    }
}

/// The per-channel (scale, shift) of evaluation mode: scale = γ / √(running_var + ε),
/// shift = β − running_mean · scale.
pub fn eval_affine<T: Real>(p: &BatchNormParams<'_, T>) -> (Vec<T>, Vec<T>) {
    let scale: Vec<T> = (0..p.weight.len())
        .map(|c| p.weight[c] / (p.running_var[c] + p.eps).sqrt())
        .collect();
    let shift = (0..p.weight.len())
        .map(|c| p.bias[c] - p.running_mean[c] * scale[c])
        .collect();
    (scale, shift)
}

/// y = scale\[c\] · x + shift\[c\]
pub fn channel_affine<T: Real>(
    out: &mut [T],
    x: &[T],
    scale: &[T],
    shift: &[T],
    sh: &BatchNormShape,
) {
    for n in 0..sh.n {
        for c in 0..sh.c {
            for i in block(n, c, sh) {
                out[i] = scale[c] * x[i] + shift[c];
            }
        }
    }
}

/// ∂β = Σ G, ∂γ = Σ G x̂, ∂x = (γ invstd / M)(M G − ∂β − x̂ ∂γ): G copied into ∂x, then
/// the in-place loop below.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Real>(
    d_x: &mut [T],
    d_w: &mut [T],
    d_b: &mut [T],
    g: &[T],
    x: &[T],
    w: &[T],
    mean: &[T],
    invstd: &[T],
    sh: &BatchNormShape,
) {
    d_x.copy_from_slice(g);
    batch_norm_backward_in_place(d_x, d_w, d_b, x, w, mean, invstd, sh);
}

/// The backward pass with ∂x written over G in `g_dx`: the sums come first, then each
/// element is replaced, ∂x_i = (γ invstd / M)(M G_i − ∂β − x̂_i ∂γ).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_in_place<T: Real>(
    g_dx: &mut [T],
    d_w: &mut [T],
    d_b: &mut [T],
    x: &[T],
    w: &[T],
    mean: &[T],
    invstd: &[T],
    sh: &BatchNormShape,
) {
    let m = T::from_f64(sh.per_channel() as f64);
    for c in 0..sh.c {
        // The two channel sums in f64, as in `channel_stats`.
        let (mut sum_g64, mut sum_gx64) = (0.0f64, 0.0f64);
        for n in 0..sh.n {
            for i in block(n, c, sh) {
                sum_g64 += g_dx[i].to_f64();
                sum_gx64 += (g_dx[i] * ((x[i] - mean[c]) * invstd[c])).to_f64();
            }
        }
        let (sum_g, sum_gx) = (T::from_f64(sum_g64), T::from_f64(sum_gx64));
        d_b[c] = sum_g;
        d_w[c] = sum_gx;
        let k = w[c] * invstd[c] / m;
        for n in 0..sh.n {
            for i in block(n, c, sh) {
                let xhat = (x[i] - mean[c]) * invstd[c];
                g_dx[i] = k * (m * g_dx[i] - sum_g - xhat * sum_gx);
            }
        }
    }
}
