//! The average-pooling loops of `mod.rs`.

use super::Pool2dShape;
use crate::Real;

/// The window rows (or columns) of output index `p` that fall inside the image: the
/// window starts at p·stride − pad and is `k` long.
pub(crate) fn window(
    p: usize,
    k: usize,
    stride: usize,
    pad: usize,
    len: usize,
) -> std::ops::Range<usize> {
    let start = p * stride;
    let lo = start.saturating_sub(pad).min(len);
    let hi = (start + k).saturating_sub(pad).min(len);
    lo..hi
}

/// y\[n,c,p,q\] = Σ_{window ∩ image} x\[n,c,i,j\] · (1 / (kh·kw)), summed row by row.
pub fn avg_pool2d_forward<T: Real>(out: &mut [T], x: &[T], sh: &Pool2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    let inv = T::ONE / T::from_f64((sh.kernel[0] * sh.kernel[1]) as f64);
    for plane in 0..sh.n * sh.c {
        let xp = &x[plane * sh.h * sh.w..(plane + 1) * sh.h * sh.w];
        for p in 0..oh {
            for q in 0..ow {
                let mut s = T::ZERO;
                for i in window(p, sh.kernel[0], sh.stride[0], sh.padding[0], sh.h) {
                    for j in window(q, sh.kernel[1], sh.stride[1], sh.padding[1], sh.w) {
                        s += xp[i * sh.w + j];
                    }
                }
                out[(plane * oh + p) * ow + q] = s * inv;
            }
        }
    }
}

/// ∂x\[n,c,i,j\] = Σ_{windows holding (i,j)} G\[n,c,p,q\] · (1 / (kh·kw))
pub fn avg_pool2d_backward<T: Real>(d_x: &mut [T], g: &[T], sh: &Pool2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    let inv = T::ONE / T::from_f64((sh.kernel[0] * sh.kernel[1]) as f64);
    d_x.iter_mut().for_each(|v| *v = T::ZERO);
    for plane in 0..sh.n * sh.c {
        let dp = &mut d_x[plane * sh.h * sh.w..(plane + 1) * sh.h * sh.w];
        for p in 0..oh {
            for q in 0..ow {
                let share = g[(plane * oh + p) * ow + q] * inv;
                for i in window(p, sh.kernel[0], sh.stride[0], sh.padding[0], sh.h) {
                    for j in window(q, sh.kernel[1], sh.stride[1], sh.padding[1], sh.w) {
                        dp[i * sh.w + j] += share;
                    }
                }
            }
        }
    }
}
