//! The pooling loops of `mod.rs`.

use super::Pool2dShape;
use crate::Real;

/// y\[n,c,p,q\] = max_{(i,j) in window(p,q)} x\[n,c,i,j\]; first maximum wins ties.
pub fn max_pool2d_forward<T: Real>(out: &mut [T], argmax: &mut [u32], x: &[T], sh: &Pool2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    for plane in 0..sh.n * sh.c {
        let xp = &x[plane * sh.h * sh.w..(plane + 1) * sh.h * sh.w];
        for p in 0..oh {
            for q in 0..ow {
                let mut best: Option<(T, usize)> = None;
                for di in 0..sh.kernel[0] {
                    for dj in 0..sh.kernel[1] {
                        let (Some(i), Some(j)) = (
                            (p * sh.stride[0] + di).checked_sub(sh.padding[0]),
                            (q * sh.stride[1] + dj).checked_sub(sh.padding[1]),
                        ) else {
                            continue;
                        };
                        if i >= sh.h || j >= sh.w {
                            continue;
                        }
                        let v = xp[i * sh.w + j];
                        // Strictly greater: an equal later value does not replace the first.
                        let better = match best {
                            None => true,
                            Some((b, _)) => v > b || (v.is_nan_value() && !b.is_nan_value()),
                        };
                        if better {
                            best = Some((v, i * sh.w + j));
                        }
                    }
                }
                let (v, idx) = best.expect("validated: every window holds a pixel");
                let o = (plane * oh + p) * ow + q;
                out[o] = v;
                argmax[o] = idx as u32;
            }
        }
    }
}

/// ∂x\[n,c,argmax\] += G\[n,c,p,q\]
pub fn max_pool2d_backward<T: Real>(d_x: &mut [T], g: &[T], argmax: &[u32], sh: &Pool2dShape) {
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    d_x.iter_mut().for_each(|v| *v = T::ZERO);
    for plane in 0..sh.n * sh.c {
        for o in 0..pq {
            d_x[plane * hw + argmax[plane * pq + o] as usize] += g[plane * pq + o];
        }
    }
}
