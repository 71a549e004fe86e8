//! The convolution sums of `mod.rs`, written out as plain loops.

use super::Conv2dShape;
use crate::Real;

/// The input row and column read by output (p, q) through kernel tap (r, s), or `None` in
/// the zero padding.
#[inline(always)]
fn tap(sh: &Conv2dShape, p: usize, q: usize, r: usize, s: usize) -> Option<(usize, usize)> {
    let i = (p * sh.stride[0] + r * sh.dilation[0]).checked_sub(sh.padding[0])?;
    let j = (q * sh.stride[1] + s * sh.dilation[1]).checked_sub(sh.padding[1])?;
    (i < sh.h && j < sh.w).then_some((i, j))
}

/// y\[n,k,p,q\] = b\[k\] + Σ_{c,r,s} x\[n,c,i,j\] · w\[k,c,r,s\]
pub fn conv2d_forward<T: Real>(
    out: &mut [T],
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    sh: &Conv2dShape,
) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    for n in 0..sh.n {
        for k in 0..sh.k {
            for p in 0..oh {
                for q in 0..ow {
                    let mut acc = bias.map_or(T::ZERO, |b| b[k]);
                    for c in 0..sh.c {
                        for r in 0..sh.r {
                            for s in 0..sh.s {
                                if let Some((i, j)) = tap(sh, p, q, r, s) {
                                    acc += x[((n * sh.c + c) * sh.h + i) * sh.w + j]
                                        * w[((k * sh.c + c) * sh.r + r) * sh.s + s];
                                }
                            }
                        }
                    }
                    out[((n * sh.k + k) * oh + p) * ow + q] = acc;
                }
            }
        }
    }
}

/// ∂x\[n,c,i,j\] = Σ G\[n,k,p,q\] · w\[k,c,r,s\] over the (k, r, s, p, q) that read x\[n,c,i,j\]
pub fn conv2d_backward_input<T: Real>(d_x: &mut [T], g: &[T], w: &[T], sh: &Conv2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    d_x.iter_mut().for_each(|v| *v = T::ZERO);
    for n in 0..sh.n {
        for k in 0..sh.k {
            for p in 0..oh {
                for q in 0..ow {
                    let gv = g[((n * sh.k + k) * oh + p) * ow + q];
                    for c in 0..sh.c {
                        for r in 0..sh.r {
                            for s in 0..sh.s {
                                if let Some((i, j)) = tap(sh, p, q, r, s) {
                                    d_x[((n * sh.c + c) * sh.h + i) * sh.w + j] +=
                                        gv * w[((k * sh.c + c) * sh.r + r) * sh.s + s];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// ∂w\[k,c,r,s\] = Σ_{n,p,q} G\[n,k,p,q\] · x\[n,c,i,j\]  (the sum runs in f64: it has
/// N·P·Q terms, 100,352 for a ladder layer at batch 128)
pub fn conv2d_backward_weight<T: Real>(d_w: &mut [T], g: &[T], x: &[T], sh: &Conv2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    for k in 0..sh.k {
        for c in 0..sh.c {
            for r in 0..sh.r {
                for s in 0..sh.s {
                    let mut acc = 0.0f64;
                    for n in 0..sh.n {
                        for p in 0..oh {
                            for q in 0..ow {
                                if let Some((i, j)) = tap(sh, p, q, r, s) {
                                    acc += (g[((n * sh.k + k) * oh + p) * ow + q]
                                        * x[((n * sh.c + c) * sh.h + i) * sh.w + j])
                                        .to_f64();
                                }
                            }
                        }
                    }
                    d_w[((k * sh.c + c) * sh.r + r) * sh.s + s] = T::from_f64(acc);
                }
            }
        }
    }
}

/// ∂b\[k\] = Σ_{n,p,q} G\[n,k,p,q\]  (summed in f64, as the weight gradient)
pub fn conv2d_backward_bias<T: Real>(d_b: &mut [T], g: &[T], sh: &Conv2dShape) {
    let plane = sh.out_h() * sh.out_w();
    for k in 0..sh.k {
        let mut acc = 0.0f64;
        for n in 0..sh.n {
            for v in &g[(n * sh.k + k) * plane..(n * sh.k + k + 1) * plane] {
                acc += v.to_f64();
            }
        }
        d_b[k] = T::from_f64(acc);
    }
}
