//! The padding and cropping loops of `mod.rs`, one element at a time.

use super::{Crop2dShape, Pad2dShape};
use crate::Real;

/// y\[p, i, j\] = x\[p, i − top, j − left\] where that is inside x, else `value`.
pub fn pad2d<T: Real>(out: &mut [T], x: &[T], value: T, sh: &Pad2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    for p in 0..sh.planes {
        for i in 0..oh {
            for j in 0..ow {
                let inside = i >= sh.top && i < sh.top + sh.h && j >= sh.left && j < sh.left + sh.w;
                out[(p * oh + i) * ow + j] = if inside {
                    x[(p * sh.h + i - sh.top) * sh.w + j - sh.left]
                } else {
                    value
                };
            }
        }
    }
}

/// y\[p, i, j\] = x\[p, top + i, left + j\]
pub fn crop2d<T: Real>(out: &mut [T], x: &[T], sh: &Crop2dShape) {
    for p in 0..sh.planes {
        for i in 0..sh.out_h {
            for j in 0..sh.out_w {
                out[(p * sh.out_h + i) * sh.out_w + j] =
                    x[(p * sh.h + sh.top + i) * sh.w + sh.left + j];
            }
        }
    }
}
