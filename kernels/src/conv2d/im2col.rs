//! im2col and col2im: the rearrangement that turns a convolution into a matrix product.
//!
//! For one image x [C, H, W], `im2col` builds the matrix `cols` [C·R·S, P·Q]: row
//! (c, r, s) holds, for every output position (p, q), the input pixel that kernel tap
//! (c, r, s) reads there (0 in the padding). Then the whole convolution of the image is
//!   y [K, P·Q] = w [K, C·R·S] · cols [C·R·S, P·Q]
//! one gemm, and the weight gradient is  ∂w = G [K, P·Q] · colsᵀ.
//! `col2im` is the transpose map: it adds each entry of a column matrix back onto the pixel
//! it came from, which turns ∂cols = wᵀ G into ∂x.

use super::Conv2dShape;

/// The output columns q in `lo..hi` whose input column q·stride − pad + s·dil lies inside
/// 0..w; outside that range the tap reads the zero padding.
#[inline]
fn valid_range(out: usize, stride: usize, pad: usize, offset: usize, len: usize) -> (usize, usize) {
    // First q with q·stride + offset ≥ pad, last with q·stride + offset − pad < len.
    let lo = if offset >= pad {
        0
    } else {
        (pad - offset).div_ceil(stride)
    };
    let hi = if len + pad > offset {
        ((len + pad - offset - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo.min(out), hi.max(lo.min(out)))
}

/// cols[(c·R + r)·S + s][p·Q + q] = x[c, p·sh − ph + r·dh, q·sw − pw + s·dw] (0 outside).
pub fn im2col(cols: &mut [f32], x: &[f32], sh: &Conv2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    let (h, w) = (sh.h, sh.w);
    for c in 0..sh.c {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for r in 0..sh.r {
            for s in 0..sh.s {
                let row = &mut cols[((c * sh.r + r) * sh.s + s) * oh * ow..][..oh * ow];
                let (q_lo, q_hi) =
                    valid_range(ow, sh.stride[1], sh.padding[1], s * sh.dilation[1], w);
                for p in 0..oh {
                    let dst = &mut row[p * ow..(p + 1) * ow];
                    let i = (p * sh.stride[0] + r * sh.dilation[0]).wrapping_sub(sh.padding[0]);
                    if i >= h || q_lo >= q_hi {
                        dst.fill(0.0);
                        continue;
                    }
                    dst[..q_lo].fill(0.0);
                    dst[q_hi..].fill(0.0);
                    let j0 = q_lo * sh.stride[1] + s * sh.dilation[1] - sh.padding[1];
                    let src = &plane[i * w..(i + 1) * w];
                    if sh.stride[1] == 1 {
                        dst[q_lo..q_hi].copy_from_slice(&src[j0..j0 + (q_hi - q_lo)]);
                    } else {
                        for (d, q) in dst[q_lo..q_hi].iter_mut().zip(0..) {
                            *d = src[j0 + q * sh.stride[1]];
                        }
                    }
                }
            }
        }
    }
}

/// The transpose of [`im2col`]: d_x[c, i, j] += cols[(c, r, s)][(p, q)] for every entry that
/// `im2col` would have read from (c, i, j). `d_x` must be zeroed (or hold a sum to add to).
pub fn col2im(d_x: &mut [f32], cols: &[f32], sh: &Conv2dShape) {
    let (oh, ow) = (sh.out_h(), sh.out_w());
    let (h, w) = (sh.h, sh.w);
    for c in 0..sh.c {
        let plane = &mut d_x[c * h * w..(c + 1) * h * w];
        for r in 0..sh.r {
            for s in 0..sh.s {
                let row = &cols[((c * sh.r + r) * sh.s + s) * oh * ow..][..oh * ow];
                let (q_lo, q_hi) =
                    valid_range(ow, sh.stride[1], sh.padding[1], s * sh.dilation[1], w);
                if q_lo >= q_hi {
                    continue;
                }
                for p in 0..oh {
                    let i = (p * sh.stride[0] + r * sh.dilation[0]).wrapping_sub(sh.padding[0]);
                    if i >= h {
                        continue;
                    }
                    let j0 = q_lo * sh.stride[1] + s * sh.dilation[1] - sh.padding[1];
                    let dst = &mut plane[i * w..(i + 1) * w];
                    let src = &row[p * ow + q_lo..p * ow + q_hi];
                    if sh.stride[1] == 1 {
                        for (d, v) in dst[j0..j0 + src.len()].iter_mut().zip(src) {
                            *d += *v;
                        }
                    } else {
                        for (q, v) in src.iter().enumerate() {
                            dst[j0 + q * sh.stride[1]] += *v;
                        }
                    }
                }
            }
        }
    }
}
