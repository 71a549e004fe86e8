//! Fast `f32` convolution: im2col + matrixmultiply's packed gemm, one image per rayon task.
//!
//! Equals `reference::conv2d_*` up to rounding; differs by: each image is lowered with
//! [`im2col`] into a per-thread scratch buffer (reused across calls) and multiplied with
//! one gemm call; 1×1 stride-1 unpadded convolutions skip the lowering. The weight gradient
//! is summed over fixed groups of [`IMAGES_PER_PARTIAL`] images (one partial sum per
//! group, computed in parallel) and the partials are added in group order, so the result
//! does not depend on the thread count.

use rayon::prelude::*;

use super::im2col::{col2im, im2col};
use super::Conv2dShape;
use crate::gemm::{fast::sgemm_serial, GemmArgs, MatMut, MatRef};
use crate::scratch::{with_cols, with_partials};

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

pub fn conv2d_forward(
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

pub fn conv2d_backward_input(d_x: &mut [f32], g: &[f32], w: &[f32], sh: &Conv2dShape) {
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

pub fn conv2d_backward_weight(d_w: &mut [f32], g: &[f32], x: &[f32], sh: &Conv2dShape) {
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

pub fn conv2d_backward_bias(d_b: &mut [f32], g: &[f32], sh: &Conv2dShape) {
    let pq = sh.out_h() * sh.out_w();
    d_b.par_iter_mut().enumerate().for_each(|(k, db)| {
        // Σ over images in order of each image's SIMD plane sum.
        let mut acc = 0.0f32;
        for n in 0..sh.n {
            acc += crate::reduce::fast::sum(&g[(n * sh.k + k) * pq..(n * sh.k + k + 1) * pq]);
        }
        *db = acc;
    });
}
