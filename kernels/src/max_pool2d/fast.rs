//! Fast `f32` max pooling. Equals `reference::max_pool2d_*` bit for bit (a maximum and a
//! copy involve no rounding); differs by: rayon over the N·C planes, and a dedicated loop
//! for the ladder's 2×2 stride-2 unpadded window that reads two input rows at a time with
//! no bounds logic.

use rayon::prelude::*;

use super::{reference, Pool2dShape};

/// The ladder's pooling: 2×2 windows, stride 2, no padding.
fn is_2x2(sh: &Pool2dShape) -> bool {
    sh.kernel == [2, 2] && sh.stride == [2, 2] && sh.padding == [0, 0]
}

/// The winner of a, b, c, d in that (row-major) order: strictly greater replaces, NaN wins.
#[inline(always)]
fn max4(v: [f32; 4], idx: [u32; 4]) -> (f32, u32) {
    let mut best = (v[0], idx[0]);
    for k in 1..4 {
        if v[k] > best.0 || (v[k].is_nan() && !best.0.is_nan()) {
            best = (v[k], idx[k]);
        }
    }
    best
}

pub fn max_pool2d_forward(out: &mut [f32], argmax: &mut [u32], x: &[f32], sh: &Pool2dShape) {
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if pq == 0 {
        return;
    }
    let one = Pool2dShape { n: 1, c: 1, ..*sh };
    out.par_chunks_mut(pq)
        .zip(argmax.par_chunks_mut(pq))
        .zip(x.par_chunks(hw))
        .for_each(|((y, am), xp)| {
            if !is_2x2(sh) {
                return reference::max_pool2d_forward(y, am, xp, &one);
            }
            let (oh, ow, w) = (sh.out_h(), sh.out_w(), sh.w);
            for p in 0..oh {
                let (r0, r1) = (
                    &xp[2 * p * w..(2 * p + 1) * w],
                    &xp[(2 * p + 1) * w..(2 * p + 2) * w],
                );
                let base = (2 * p * w) as u32;
                for q in 0..ow {
                    let j = 2 * q;
                    let (v, i) = max4(
                        [r0[j], r0[j + 1], r1[j], r1[j + 1]],
                        [
                            base + j as u32,
                            base + j as u32 + 1,
                            base + (w + j) as u32,
                            base + (w + j) as u32 + 1,
                        ],
                    );
                    y[p * ow + q] = v;
                    am[p * ow + q] = i;
                }
            }
        });
}

pub fn max_pool2d_backward(d_x: &mut [f32], g: &[f32], argmax: &[u32], sh: &Pool2dShape) {
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if hw == 0 {
        return;
    }
    d_x.par_chunks_mut(hw)
        .zip(g.par_chunks(pq.max(1)))
        .zip(argmax.par_chunks(pq.max(1)))
        .for_each(|((dx, g), am)| {
            dx.fill(0.0);
            // Each output adds to its winner; windows that share a winner add up in output order.
            for (&gv, &i) in g.iter().zip(am) {
                dx[i as usize] += gv;
            }
        });
}
