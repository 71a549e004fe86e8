//! Fast average pooling. Equals `reference::avg_pool2d_*` bit for bit: each output sums its
//! window in the same row-major order and scales by the same reciprocal, and each input
//! gradient adds its windows' shares in the same (p, q) order. Differs by: rayon over groups
//! of N·C planes (each plane is independent), and windows without padding or overlap (the
//! usual kernel = stride) skip the clipping logic.

use rayon::prelude::*;

use super::reference::{self, window};
use super::Pool2dShape;
use crate::simd::blocks_per_task;
use crate::Real;

/// The mean of each window, fast version.
pub fn avg_pool2d_forward<T: Real>(out: &mut [T], x: &[T], sh: &Pool2dShape) {
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if pq == 0 {
        return;
    }
    let one = Pool2dShape { n: 1, c: 1, ..*sh };
    out.par_chunks_mut(pq)
        .zip(x.par_chunks(hw))
        .with_min_len(blocks_per_task(hw))
        .for_each(|(y, xp)| reference::avg_pool2d_forward(y, xp, &one));
}

/// ∂x from ∂y, fast version: each plane scatters its windows' shares on its own thread;
/// windows that tile the plane (kernel = stride, no padding) write each input once.
pub fn avg_pool2d_backward<T: Real>(d_x: &mut [T], g: &[T], sh: &Pool2dShape) {
    let (hw, pq) = (sh.h * sh.w, sh.out_h() * sh.out_w());
    if hw == 0 {
        return;
    }
    let one = Pool2dShape { n: 1, c: 1, ..*sh };
    let tiles = sh.kernel == sh.stride && sh.padding == [0, 0];
    d_x.par_chunks_mut(hw)
        .zip(g.par_chunks(pq.max(1)))
        .with_min_len(blocks_per_task(hw))
        .for_each(|(dp, gp)| {
            if !tiles {
                return reference::avg_pool2d_backward(dp, gp, &one);
            }
            // Tiled: every input lies in at most one window; the rows and columns the
            // windows do not reach (⌊H/k⌋·k ≤ i < H) get 0.
            let inv = T::ONE / T::from_f64((sh.kernel[0] * sh.kernel[1]) as f64);
            let (oh, ow) = (one.out_h(), one.out_w());
            dp.iter_mut().for_each(|v| *v = T::ZERO);
            for p in 0..oh {
                for q in 0..ow {
                    let share = gp[p * ow + q] * inv;
                    for i in window(p, sh.kernel[0], sh.stride[0], 0, sh.h) {
                        let row = &mut dp[i * sh.w..(i + 1) * sh.w];
                        for v in &mut row[window(q, sh.kernel[1], sh.stride[1], 0, sh.w)] {
                            // 0 + share, as the reference's first accumulation (−0 → +0).
                            *v = T::ZERO + share;
                        }
                    }
                }
            }
        });
}
