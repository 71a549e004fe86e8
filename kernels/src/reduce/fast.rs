//! Fast `f32` sum. Equals `reference::sum` up to rounding; differs by: fixed
//! [`CHUNK`]-long pieces summed with 4 SIMD accumulators each (so the adds of one piece run
//! in parallel pipelines), pieces spread over rayon above [`PAR_THRESHOLD`] elements, and
//! partial sums combined in piece order, which makes the bits independent of the thread
//! count.

use rayon::prelude::*;

use crate::isa::{isa, Isa};
use crate::simd::{dispatch, usable};
use crate::{CHUNK, PAR_THRESHOLD};

/// Σ x with fixed chunk boundaries and combination order, on the best SIMD level.
pub fn sum(x: &[f32]) -> f32 {
    sum_with(isa(), x)
}

/// [`sum`] on SIMD level `isa` (or the best usable one below it).
pub fn sum_with(isa: Isa, x: &[f32]) -> f32 {
    let isa = usable(isa);
    let piece = |c: &[f32]| -> f32 { dispatch!(isa, sum(c)) };
    if x.len() < PAR_THRESHOLD {
        x.chunks(CHUNK).map(piece).fold(0.0, |s, p| s + p)
    } else {
        let partials: Vec<f32> = x.par_chunks(CHUNK).map(piece).collect();
        partials.into_iter().fold(0.0, |s, p| s + p)
    }
}

mod scalar {
    pub use super::super::reference::sum;
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::scalar;
    use std::arch::x86_64::*;

    /// Four 16-lane accumulators hide the 4-cycle latency of a vector add.
    /// Caller guarantees: the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sum(x: &[f32]) -> f32 {
        let p = x.as_ptr();
        let n = x.len();
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: i + 16k + 16 <= i + 64 <= n.
                *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(p.add(i + 16 * k)) });
            }
            i += 64;
        }
        while i + 16 <= n {
            // SAFETY: i + 16 <= n.
            acc[0] = _mm512_add_ps(acc[0], unsafe { _mm512_loadu_ps(p.add(i)) });
            i += 16;
        }
        let v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(v) + scalar::sum(&x[i..])
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::scalar;
    use std::arch::x86_64::*;

    /// Four 8-lane accumulators; caller guarantees the CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sum(x: &[f32]) -> f32 {
        let p = x.as_ptr();
        let n = x.len();
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: i + 8k + 8 <= i + 32 <= n.
                *a = _mm256_add_ps(*a, unsafe { _mm256_loadu_ps(p.add(i + 8 * k)) });
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: i + 8 <= n.
            acc[0] = _mm256_add_ps(acc[0], unsafe { _mm256_loadu_ps(p.add(i)) });
            i += 8;
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        // Horizontal sum of 8 lanes in a fixed order: halves, then pairs, then the last two.
        let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_shuffle_ps::<0b01>(h, h));
        _mm_cvtss_f32(h) + scalar::sum(&x[i..])
    }
}

/// [`super::reference::mean_rows`] with each row summed by `T`'s fast sum (SIMD for f32,
/// its fixed chunking, so not the reference's bits) and rayon over groups of rows.
pub fn mean_rows<T: crate::Real>(y: &mut [T], x: &[T]) {
    if y.is_empty() {
        return;
    }
    let n = x.len() / y.len();
    let inv = T::ONE / T::from_f64(n as f64);
    let rows = crate::simd::blocks_per_task(n);
    y.par_chunks_mut(rows)
        .zip(x.par_chunks((n * rows).max(1)))
        .for_each(|(yc, xc)| {
            for (out, row) in yc.iter_mut().zip(xc.chunks(n.max(1))) {
                *out = T::sum_fast(row) * inv;
            }
        });
}

/// [`super::reference::mean_rows_backward`], bit for bit (one product per element), with
/// rayon over groups of rows.
pub fn mean_rows_backward<T: crate::Real>(d_x: &mut [T], g: &[T]) {
    if g.is_empty() {
        return;
    }
    let n = d_x.len() / g.len();
    if n == 0 {
        return;
    }
    let inv = T::ONE / T::from_f64(n as f64);
    let rows = crate::simd::blocks_per_task(n);
    d_x.par_chunks_mut(n * rows)
        .zip(g.par_chunks(rows))
        .for_each(|(dc, gc)| {
            for (row, &gr) in dc.chunks_mut(n).zip(gc) {
                row.fill(gr * inv);
            }
        });
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::scalar;
    use std::arch::aarch64::*;

    /// Four 4-lane accumulators; combined (a0 + a1) + (a2 + a3), then across lanes in
    /// FADDP's fixed pairwise order. Caller guarantees the CPU has NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn sum(x: &[f32]) -> f32 {
        let p = x.as_ptr();
        let n = x.len();
        let mut acc = [vdupq_n_f32(0.0); 4];
        let mut i = 0;
        while i + 16 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: i + 4k + 4 <= i + 16 <= n.
                *a = vaddq_f32(*a, unsafe { vld1q_f32(p.add(i + 4 * k)) });
            }
            i += 16;
        }
        while i + 4 <= n {
            // SAFETY: i + 4 <= n.
            acc[0] = vaddq_f32(acc[0], unsafe { vld1q_f32(p.add(i)) });
            i += 4;
        }
        let v = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
        vaddvq_f32(v) + scalar::sum(&x[i..])
    }
}
