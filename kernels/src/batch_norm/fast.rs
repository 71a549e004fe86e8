//! Fast `f32` batch norm. Equals `reference::*` up to rounding; differs by: two parallel
//! phases instead of one loop per channel. Phase 1 reduces each channel's statistics.
//! Forward, in one pass over x from memory: each \[n, c\] block's mean m_b and
//! Σ (x − m_b)² (the block's second pass reads it from L1), in parallel over images in
//! memory order; then for each channel the blocks are merged in image order (Chan et al.'s
//! pairwise update, in f64):
//!   δ = m_b − μ,  n' = n + n_b,  μ ← μ + δ·n_b/n',  M2 ← M2 + M2_b + δ²·n·n_b/n'
//! so σ² = M2 / M is as exact as the textbook two passes without reading x twice.
//! Backward: one task per channel, its N blocks' SIMD sums added in order. Either way the
//! bits do not depend on the thread count. Phase 2 applies a per-channel affine map to
//! each [n, c] block, in parallel over blocks:
//!   forward:  y = a x + b,        a = γ invstd,  b = β − μ a
//!   backward: ∂x = A G + B x + C, from expanding (γ invstd / M)(M G − ∂β − x̂ ∂γ) with
//!             x̂ = (x − μ) invstd: A = γ invstd, B = −γ invstd² ∂γ / M,
//!             C = −γ invstd ∂β / M − B μ.

use rayon::prelude::*;

use super::reference::update_running;
use super::{BatchNormParams, BatchNormShape};
use crate::isa::{isa, Isa};
use crate::simd::{blocks_per_task, dispatch, usable};

/// Batch norm in training mode, fast version (two parallel phases, see the module docs).
pub fn batch_norm_forward_train(
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    batch_norm_forward_train_with(isa(), out, save_mean, save_invstd, x, p, sh)
}

/// [`batch_norm_forward_train`] on SIMD level `isa` (or the best usable one below it).
pub fn batch_norm_forward_train_with(
    isa: Isa,
    out: &mut [f32],
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    mut p: BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) {
    let isa = usable(isa);
    let (scale, shift) = train_statistics(isa, save_mean, save_invstd, x, None, &mut p, sh);
    // Phase 2: y = a x + b per block.
    channel_affine_with(isa, out, x, &scale, &shift, sh);
}

/// Phase 1 of the training forward: μ and invstd of each channel (saved), the running
/// statistics updated, and each channel's affine map (a, b) returned as (scale, shift).
/// `blocks`, if given, are x's block statistics already taken (by the convolution that
/// wrote x, while each image was in cache): then x is not read.
pub(super) fn train_statistics(
    isa: Isa,
    save_mean: &mut [f32],
    save_invstd: &mut [f32],
    x: &[f32],
    blocks: Option<&[(f32, f32)]>,
    p: &mut BatchNormParams<'_, f32>,
    sh: &BatchNormShape,
) -> (Vec<f32>, Vec<f32>) {
    let stats = match blocks {
        Some(blocks) => merge_block_statistics(blocks, sh),
        None => channel_statistics(isa, x, sh),
    };
    let mut scale = vec![0.0f32; sh.c];
    let mut shift = vec![0.0f32; sh.c];
    for (c, &(mean, var)) in stats.iter().enumerate() {
        let invstd = 1.0 / (var + p.eps).sqrt();
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        scale[c] = p.weight[c] * invstd;
        shift[c] = p.bias[c] - mean * scale[c];
        update_running(p, c, mean, var, sh.per_channel());
    }
    (scale, shift)
}

/// μ and σ² (biased) of each channel: block statistics in memory order, merged per
/// channel in image order (see the module docs).
fn channel_statistics(isa: Isa, x: &[f32], sh: &BatchNormShape) -> Vec<(f32, f32)> {
    let hw = sh.hw;
    if hw == 0 || sh.n == 0 {
        return vec![(f32::NAN, f32::NAN); sh.c];
    }
    // (m_b, Σ (x − m_b)²) of block [n, c] at n·C + c.
    let mut blocks = vec![(0.0f32, 0.0f32); sh.n * sh.c];
    blocks
        .par_chunks_mut(sh.c)
        .zip(x.par_chunks(sh.c * hw))
        .with_min_len(blocks_per_task(sh.c * hw))
        .for_each(|(out, x_n)| image_block_statistics(isa, out, x_n, hw));
    merge_block_statistics(&blocks, sh)
}

/// Each channel block's statistics of one image x_n \[C, hw\]: `out[c]` = (m_b, Σ (x − m_b)²)
/// of block c, m_b its mean (the second sum reads the block again, from L1). The body of
/// batch norm's statistics pass; a convolution followed by batch norm calls it on each
/// image it has just written (`conv2d::fast::conv2d_forward_with_statistics`), so that pass
/// need not read x from memory again, with the same bits.
pub fn image_block_statistics(isa: Isa, out: &mut [(f32, f32)], x_n: &[f32], hw: usize) {
    let isa = usable(isa);
    if hw == 0 {
        return;
    }
    for (o, xb) in out.iter_mut().zip(x_n.chunks_exact(hw)) {
        let mb = dispatch!(isa, sum(xb)) / hw as f32;
        *o = (mb, dispatch!(isa, sum_sq_dev(xb, mb)));
    }
}

/// μ and σ² of each channel from its blocks' statistics (`blocks[n·C + c]`), merged in
/// image order by Chan et al.'s update in f64 (the module docs).
fn merge_block_statistics(blocks: &[(f32, f32)], sh: &BatchNormShape) -> Vec<(f32, f32)> {
    if sh.hw == 0 || sh.n == 0 {
        return vec![(f32::NAN, f32::NAN); sh.c];
    }
    let nb = sh.hw as f64;
    (0..sh.c)
        .map(|c| {
            let (mut count, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
            for n in 0..sh.n {
                let (mb, m2b) = blocks[n * sh.c + c];
                let delta = mb as f64 - mean;
                let total = count + nb;
                mean += delta * nb / total;
                m2 += m2b as f64 + delta * delta * count * nb / total;
                count = total;
            }
            (mean as f32, (m2 / count) as f32)
        })
        .collect()
}

/// One block's y = a x + b (the body phase 2 runs on each \[n, c\] block; the fused
/// kernels of `pool` call the same bodies, which is what keeps them bit for bit equal).
pub(super) fn block_affine(isa: Isa, out: &mut [f32], x: &[f32], a: f32, b: f32) {
    dispatch!(isa, affine(out, x, a, b));
}

/// One block's (Σ G, Σ G (x − μ)).
pub(super) fn block_sums(isa: Isa, g: &[f32], x: &[f32], mean: f32) -> (f32, f32) {
    (dispatch!(isa, sum(g)), dispatch!(isa, dot_dev(g, x, mean)))
}

/// One block's ∂x = A G + B x + C, written over G.
pub(super) fn block_affine2_in_place(isa: Isa, gdx: &mut [f32], x: &[f32], coef: [f32; 3]) {
    let [a, b, c] = coef;
    dispatch!(isa, affine2_in_place(gdx, x, a, b, c));
}

/// One block's y = relu(a x + b) (NaN kept), the forward body of `relu`'s fused kernel: the
/// same multiply-add as [`block_affine`] and the ReLU's select, in one pass.
pub(super) fn block_affine_relu(isa: Isa, out: &mut [f32], x: &[f32], a: f32, b: f32) {
    dispatch!(isa, affine_relu(out, x, a, b));
}

/// One block's (Σ G', Σ G' (x − μ)) with G' = G · \[a x + b > 0\]: [`block_sums`] of the
/// ReLU's masked gradient, the mask recomputed from x by [`block_affine`]'s multiply-add.
pub(super) fn block_masked_sums(
    isa: Isa,
    g: &[f32],
    x: &[f32],
    ab: (f32, f32),
    mean: f32,
) -> (f32, f32) {
    dispatch!(isa, masked_sums(g, x, ab.0, ab.1, mean))
}

/// One block's ∂x = A G' + B x + C with G' = G · \[a x + b > 0\]: [`block_affine2_in_place`]
/// of the ReLU's masked gradient.
pub(super) fn block_masked_affine2(
    isa: Isa,
    dx: &mut [f32],
    g: &[f32],
    x: &[f32],
    ab: (f32, f32),
    coef: [f32; 3],
) {
    let [ca, cb, cc] = coef;
    dispatch!(isa, masked_affine2(dx, g, x, ab.0, ab.1, ca, cb, cc));
}

/// y = scale\[c\] · x + shift\[c\] for every element of channel c, in parallel over the \[n, c\] blocks.
pub fn channel_affine(
    out: &mut [f32],
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    sh: &BatchNormShape,
) {
    channel_affine_with(isa(), out, x, scale, shift, sh)
}

/// [`channel_affine`] on SIMD level `isa` (or the best usable one below it).
pub fn channel_affine_with(
    isa: Isa,
    out: &mut [f32],
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    sh: &BatchNormShape,
) {
    let isa = usable(isa);
    if sh.hw == 0 {
        return;
    }
    out.par_chunks_mut(sh.hw)
        .zip(x.par_chunks(sh.hw))
        .with_min_len(blocks_per_task(sh.hw))
        .enumerate()
        .for_each(|(b, (o, xb))| {
            let c = b % sh.c;
            block_affine(isa, o, xb, scale[c], shift[c]);
        });
}

/// Phase 1 of the backward pass: writes ∂γ and ∂β and returns each channel's (A, B, C).
#[allow(clippy::too_many_arguments)]
fn backward_coefficients(
    isa: Isa,
    d_w: &mut [f32],
    d_b: &mut [f32],
    g: &[f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) -> Vec<[f32; 3]> {
    let hw = sh.hw;
    let sums = gradient_sums(isa, x, mean, sh, |o, f| f(&g[o * hw..(o + 1) * hw]));
    coefficients(&sums, d_w, d_b, w, mean, invstd, sh)
}

/// Each channel's (∂β, Σ G (x − μ)) = (Σ G, Σ G (x − μ)): one task per channel, its blocks'
/// SIMD sums added in image order from 0, each sum in its own accumulator. `with_g(o, f)`
/// hands block o = n·C + c of G to `f` (`pool`'s backward builds it from the pooled
/// gradient), so both backward passes add the same numbers in the same order.
pub(super) fn gradient_sums(
    isa: Isa,
    x: &[f32],
    mean: &[f32],
    sh: &BatchNormShape,
    with_g: impl Fn(usize, &mut dyn FnMut(&[f32])) + Sync,
) -> Vec<(f32, f32)> {
    let hw = sh.hw;
    per_channel_sums(sh, |o, c| {
        let mut out = (0.0, 0.0);
        with_g(o, &mut |g_block| {
            out = block_sums(isa, g_block, &x[o * hw..(o + 1) * hw], mean[c]);
        });
        out
    })
}

/// [`gradient_sums`] of the ReLU's masked gradient G' = G · \[a x + b > 0\], G' formed in
/// registers ([`block_masked_sums`]); `ab(o)` is block o's (a, b).
pub(super) fn masked_gradient_sums(
    isa: Isa,
    g: &[f32],
    x: &[f32],
    mean: &[f32],
    sh: &BatchNormShape,
    ab: impl Fn(usize) -> (f32, f32) + Sync,
) -> Vec<(f32, f32)> {
    let hw = sh.hw;
    per_channel_sums(sh, |o, c| {
        let block = o * hw..(o + 1) * hw;
        block_masked_sums(isa, &g[block.clone()], &x[block], ab(o), mean[c])
    })
}

/// Each channel's two sums over its blocks: `block(o, c)` of every block o = n·C + c, in
/// parallel over the blocks in memory order (each task a run of consecutive blocks, read
/// front to back), then per channel the blocks' sums added in image order from 0, each sum
/// in its own accumulator: the same additions in the same order whatever the tasks.
fn per_channel_sums(
    sh: &BatchNormShape,
    block: impl Fn(usize, usize) -> (f32, f32) + Sync,
) -> Vec<(f32, f32)> {
    let mut blocks = vec![(0.0f32, 0.0f32); sh.n * sh.c];
    blocks
        .par_iter_mut()
        .with_min_len(blocks_per_task(sh.hw))
        .enumerate()
        .for_each(|(o, out)| *out = block(o, o % sh.c.max(1)));
    (0..sh.c)
        .map(|c| {
            let mut acc = (0.0f32, 0.0f32);
            for n in 0..sh.n {
                let (s, d) = blocks[n * sh.c + c];
                acc = (acc.0 + s, acc.1 + d);
            }
            acc
        })
        .collect()
}

/// ∂β, ∂γ and each channel's (A, B, C) from its (Σ G, Σ G (x − μ)).
pub(super) fn coefficients(
    sums: &[(f32, f32)],
    d_w: &mut [f32],
    d_b: &mut [f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) -> Vec<[f32; 3]> {
    let m = sh.per_channel() as f32;
    (0..sh.c)
        .map(|c| {
            let (sum_g, sum_gx) = (sums[c].0, sums[c].1 * invstd[c]);
            d_b[c] = sum_g;
            d_w[c] = sum_gx;
            let a = w[c] * invstd[c];
            let b = -a * invstd[c] * sum_gx / m;
            let cc = -a * sum_g / m - b * mean[c];
            [a, b, cc]
        })
        .collect()
}

/// The backward pass, writing ∂x over G in `g_dx` (phase 2 of the module docs in place).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_in_place(
    g_dx: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) {
    batch_norm_backward_in_place_with(isa(), g_dx, d_w, d_b, x, w, mean, invstd, sh)
}

/// [`batch_norm_backward_in_place`] on SIMD level `isa` (or the best usable one below it).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_in_place_with(
    isa: Isa,
    g_dx: &mut [f32],
    d_w: &mut [f32],
    d_b: &mut [f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sh: &BatchNormShape,
) {
    let isa = usable(isa);
    if sh.hw == 0 {
        return;
    }
    let coef = backward_coefficients(isa, d_w, d_b, g_dx, x, w, mean, invstd, sh);
    g_dx.par_chunks_mut(sh.hw)
        .zip(x.par_chunks(sh.hw))
        .with_min_len(blocks_per_task(sh.hw))
        .enumerate()
        .for_each(|(blk, (gdx, xb))| {
            block_affine2_in_place(isa, gdx, xb, coef[blk % sh.c]);
        });
}

/// Scalar bodies: the same operations one element at a time.
mod scalar {
    pub fn sum(x: &[f32]) -> f32 {
        x.iter().fold(0.0, |s, &v| s + v)
    }
    pub fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
        x.iter().fold(0.0, |s, &v| s + (v - mean) * (v - mean))
    }
    pub fn dot_dev(g: &[f32], x: &[f32], mean: f32) -> f32 {
        g.iter().zip(x).fold(0.0, |s, (&g, &x)| s + g * (x - mean))
    }
    pub fn affine(out: &mut [f32], x: &[f32], a: f32, b: f32) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = a * v + b;
        }
    }
    pub fn affine2_in_place(gdx: &mut [f32], x: &[f32], a: f32, b: f32, c: f32) {
        for (o, &xv) in gdx.iter_mut().zip(x) {
            *o = a * *o + (b * xv + c);
        }
    }
    /// relu(z), NaN kept: the elementwise kernels' ReLU.
    fn relu(z: f32) -> f32 {
        if z > 0.0 || z.is_nan() {
            z
        } else {
            0.0
        }
    }
    /// g where a x + b > 0, else 0: ReLU's backward with the mask recomputed from x.
    fn masked(g: f32, x: f32, a: f32, b: f32) -> f32 {
        if a * x + b > 0.0 {
            g
        } else {
            0.0
        }
    }
    pub fn affine_relu(out: &mut [f32], x: &[f32], a: f32, b: f32) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = relu(a * v + b);
        }
    }
    pub fn masked_sums(g: &[f32], x: &[f32], a: f32, b: f32, mean: f32) -> (f32, f32) {
        g.iter().zip(x).fold((0.0, 0.0), |(s, d), (&gv, &xv)| {
            let gm = masked(gv, xv, a, b);
            (s + gm, d + gm * (xv - mean))
        })
    }
    #[allow(clippy::too_many_arguments)]
    pub fn masked_affine2(
        dx: &mut [f32],
        g: &[f32],
        x: &[f32],
        a: f32,
        b: f32,
        ca: f32,
        cb: f32,
        cc: f32,
    ) {
        for ((o, &gv), &xv) in dx.iter_mut().zip(g).zip(x) {
            *o = ca * masked(gv, xv, a, b) + (cb * xv + cc);
        }
    }
}

/// The SIMD bodies for one ISA: `$l` lanes, vector type ops named by the arguments.
macro_rules! bn_simd {
    ($feat:literal, $l:literal, $zero:ident, $set1:ident, $load:ident, $store:ident, $add:ident, $sub:ident, $mul:ident, $fmadd:ident, $reduce:path, $relu:ident, $keep_pos:ident) => {
        use super::scalar;

        // Callers guarantee: the CPU has the feature; slices of one call have one length.
        // Each `unsafe` block reads or writes lanes i..i + $l with i + $l <= n.

        // The three reductions keep four vector accumulators (acc[j] takes vectors
        // j, j + 4, j + 8, …), added as (acc0 + acc1) + (acc2 + acc3) at the end, then
        // the last vectors and the scalar tail: four independent chains of additions, so
        // a block that is already in cache is summed at the adder's throughput, not its
        // latency. A fixed order: the same bits on any thread count.

        #[target_feature(enable = $feat)]
        pub unsafe fn sum(x: &[f32]) -> f32 {
            let (n4, n, p) = (x.len() / (4 * $l) * (4 * $l), x.len() / $l * $l, x.as_ptr());
            let mut acc = [$zero(); 4];
            for i in (0..n4).step_by(4 * $l) {
                for (j, a) in acc.iter_mut().enumerate() {
                    // SAFETY: i + (j + 1)·lanes <= n4 <= x.len().
                    *a = $add(*a, unsafe { $load(p.add(i + j * $l)) });
                }
            }
            let mut acc = $add($add(acc[0], acc[1]), $add(acc[2], acc[3]));
            for i in (n4..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len().
                acc = $add(acc, unsafe { $load(p.add(i)) });
            }
            $reduce(acc) + scalar::sum(&x[n..])
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
            let (n4, n, p) = (x.len() / (4 * $l) * (4 * $l), x.len() / $l * $l, x.as_ptr());
            let (mut acc, mv) = ([$zero(); 4], $set1(mean));
            for i in (0..n4).step_by(4 * $l) {
                for (j, a) in acc.iter_mut().enumerate() {
                    // SAFETY: i + (j + 1)·lanes <= n4 <= x.len().
                    let d = $sub(unsafe { $load(p.add(i + j * $l)) }, mv);
                    *a = $fmadd(d, d, *a);
                }
            }
            let mut acc = $add($add(acc[0], acc[1]), $add(acc[2], acc[3]));
            for i in (n4..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len().
                let d = $sub(unsafe { $load(p.add(i)) }, mv);
                acc = $fmadd(d, d, acc);
            }
            $reduce(acc) + scalar::sum_sq_dev(&x[n..], mean)
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn dot_dev(g: &[f32], x: &[f32], mean: f32) -> f32 {
            let (n4, n) = (x.len() / (4 * $l) * (4 * $l), x.len() / $l * $l);
            let (pg, px) = (g.as_ptr(), x.as_ptr());
            let (mut acc, mv) = ([$zero(); 4], $set1(mean));
            for i in (0..n4).step_by(4 * $l) {
                for (j, a) in acc.iter_mut().enumerate() {
                    let at = i + j * $l;
                    // SAFETY: at + lanes <= n4 <= x.len() = g.len().
                    let (gv, xv) = unsafe { ($load(pg.add(at)), $load(px.add(at))) };
                    *a = $fmadd(gv, $sub(xv, mv), *a);
                }
            }
            let mut acc = $add($add(acc[0], acc[1]), $add(acc[2], acc[3]));
            for i in (n4..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = g.len().
                let (gv, xv) = unsafe { ($load(pg.add(i)), $load(px.add(i))) };
                acc = $fmadd(gv, $sub(xv, mv), acc);
            }
            $reduce(acc) + scalar::dot_dev(&g[n..], &x[n..], mean)
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn affine(out: &mut [f32], x: &[f32], a: f32, b: f32) {
            let (n, po, px) = (x.len() / $l * $l, out.as_mut_ptr(), x.as_ptr());
            let (av, bv) = ($set1(a), $set1(b));
            for i in (0..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = out.len().
                unsafe { $store(po.add(i), $fmadd(av, $load(px.add(i)), bv)) };
            }
            scalar::affine(&mut out[n..], &x[n..], a, b);
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn affine2_in_place(gdx: &mut [f32], x: &[f32], a: f32, b: f32, c: f32) {
            let (n, po, px) = (x.len() / $l * $l, gdx.as_mut_ptr(), x.as_ptr());
            let (av, bv, cv) = ($set1(a), $set1(b), $set1(c));
            for i in (0..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = gdx.len(); each lane is read before it
                // is written, by the same instruction sequence.
                unsafe {
                    let t = $fmadd(bv, $load(px.add(i)), cv);
                    $store(po.add(i), $fmadd(av, $load(po.add(i)), t));
                }
            }
            scalar::affine2_in_place(&mut gdx[n..], &x[n..], a, b, c);
        }

        // The ReLU fused into batch norm (`relu.rs`): `affine`'s multiply-add, then the
        // select of the elementwise kernels; the same lanes, tails and accumulators as
        // `affine`, `sum`, `dot_dev` and `affine2_in_place`, so the bits are theirs.

        #[target_feature(enable = $feat)]
        pub unsafe fn affine_relu(out: &mut [f32], x: &[f32], a: f32, b: f32) {
            let (n, po, px) = (x.len() / $l * $l, out.as_mut_ptr(), x.as_ptr());
            let (av, bv) = ($set1(a), $set1(b));
            for i in (0..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = out.len().
                unsafe { $store(po.add(i), $relu($fmadd(av, $load(px.add(i)), bv))) };
            }
            scalar::affine_relu(&mut out[n..], &x[n..], a, b);
        }

        #[target_feature(enable = $feat)]
        pub unsafe fn masked_sums(g: &[f32], x: &[f32], a: f32, b: f32, mean: f32) -> (f32, f32) {
            // [`sum`] and [`dot_dev`] of G' in the same four-accumulator order: the same
            // bits as the unfused ReLU backward followed by batch norm's.
            let (n4, n) = (x.len() / (4 * $l) * (4 * $l), x.len() / $l * $l);
            let (pg, px) = (g.as_ptr(), x.as_ptr());
            let (av, bv, mv) = ($set1(a), $set1(b), $set1(mean));
            let (mut s4, mut d4) = ([$zero(); 4], [$zero(); 4]);
            for i in (0..n4).step_by(4 * $l) {
                for j in 0..4 {
                    let at = i + j * $l;
                    // SAFETY: at + lanes <= n4 <= x.len() = g.len().
                    let (gv, xv) = unsafe { ($load(pg.add(at)), $load(px.add(at))) };
                    let gm = $keep_pos($fmadd(av, xv, bv), gv);
                    s4[j] = $add(s4[j], gm);
                    d4[j] = $fmadd(gm, $sub(xv, mv), d4[j]);
                }
            }
            let mut s = $add($add(s4[0], s4[1]), $add(s4[2], s4[3]));
            let mut d = $add($add(d4[0], d4[1]), $add(d4[2], d4[3]));
            for i in (n4..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = g.len().
                let (gv, xv) = unsafe { ($load(pg.add(i)), $load(px.add(i))) };
                let gm = $keep_pos($fmadd(av, xv, bv), gv);
                s = $add(s, gm);
                d = $fmadd(gm, $sub(xv, mv), d);
            }
            let (ts, td) = scalar::masked_sums(&g[n..], &x[n..], a, b, mean);
            ($reduce(s) + ts, $reduce(d) + td)
        }

        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn masked_affine2(
            dx: &mut [f32],
            g: &[f32],
            x: &[f32],
            a: f32,
            b: f32,
            ca: f32,
            cb: f32,
            cc: f32,
        ) {
            let (n, po, pg, px) = (x.len() / $l * $l, dx.as_mut_ptr(), g.as_ptr(), x.as_ptr());
            let (av, bv) = ($set1(a), $set1(b));
            let (cav, cbv, ccv) = ($set1(ca), $set1(cb), $set1(cc));
            for i in (0..n).step_by($l) {
                // SAFETY: i + lanes <= n <= x.len() = g.len() = dx.len().
                unsafe {
                    let xv = $load(px.add(i));
                    let gm = $keep_pos($fmadd(av, xv, bv), $load(pg.add(i)));
                    let t = $fmadd(cbv, xv, ccv);
                    $store(po.add(i), $fmadd(cav, gm, t));
                }
            }
            scalar::masked_affine2(&mut dx[n..], &g[n..], &x[n..], a, b, ca, cb, cc);
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    bn_simd!(
        "avx512f",
        16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_fmadd_ps,
        _mm512_reduce_add_ps,
        relu512,
        keep_pos512
    );

    /// z where z > 0 or z is NaN, else +0 (the elementwise ReLU's select).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn relu512(z: __m512) -> __m512 {
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(z, _mm512_setzero_ps()), z)
    }

    /// g where z > 0 (NaN is not), else +0.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn keep_pos512(z: __m512, g: __m512) -> __m512 {
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(z, _mm512_setzero_ps()), g)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    bn_simd!(
        "avx2,fma",
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_fmadd_ps,
        hsum256,
        relu256,
        keep_pos256
    );

    /// z where z > 0 or z is NaN, else +0 (the elementwise ReLU's select).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn relu256(z: __m256) -> __m256 {
        _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(z, _mm256_setzero_ps()), z)
    }

    /// g where z > 0 (NaN is not), else +0.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn keep_pos256(z: __m256, g: __m256) -> __m256 {
        _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(z, _mm256_setzero_ps()), g)
    }

    /// Horizontal sum of 8 lanes in a fixed order.
    #[target_feature(enable = "avx2,fma")]
    fn hsum256(v: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_shuffle_ps::<0b01>(h, h));
        _mm_cvtss_f32(h)
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    #[inline]
    #[target_feature(enable = "neon")]
    fn zero() -> float32x4_t {
        vdupq_n_f32(0.0)
    }

    /// a · b + c, fused (NEON's operand order is c, a, b).
    #[inline]
    #[target_feature(enable = "neon")]
    fn fmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        vfmaq_f32(c, a, b)
    }

    bn_simd!(
        "neon",
        4,
        zero,
        vdupq_n_f32,
        vld1q_f32,
        vst1q_f32,
        vaddq_f32,
        vsubq_f32,
        vmulq_f32,
        fmadd,
        vaddvq_f32,
        relu_neon,
        keep_pos_neon
    );

    /// z where z > 0 or z is NaN (z ≠ z), else +0 (the elementwise ReLU's select).
    #[inline]
    #[target_feature(enable = "neon")]
    fn relu_neon(z: float32x4_t) -> float32x4_t {
        let keep = vorrq_u32(vcgtq_f32(z, zero()), vmvnq_u32(vceqq_f32(z, z)));
        vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(z)))
    }

    /// g where z > 0 (NaN is not), else +0.
    #[inline]
    #[target_feature(enable = "neon")]
    fn keep_pos_neon(z: float32x4_t, g: float32x4_t) -> float32x4_t {
        vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(z, zero()), vreinterpretq_u32_f32(g)))
    }
}
