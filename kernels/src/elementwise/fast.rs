//! Fast elementwise kernels for `f32`.
//!
//! Equals `reference::<fn>`; differs by: explicit SIMD (16 lanes with AVX-512F, 8 with
//! AVX2, 4 with NEON), and rayon over [`crate::CHUNK`]-long pieces once a slice reaches
//! [`crate::PAR_THRESHOLD`] elements. Every element is computed on its own, so the results
//! are bitwise those of the reference loop, except `axpy`, whose SIMD bodies use a fused
//! multiply-add (one rounding instead of two).
//!
//! Each `*_with` function takes the ISA explicitly so tests and benches can run every
//! level; the plain names use [`crate::isa::isa`].

use crate::isa::{isa, Isa};
use crate::simd::{dispatch, run2, run3, usable};
use crate::Real;
use rayon::prelude::*;

use super::reference;

/// out = a + b, elementwise, fast version.
pub fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
    add_with(isa(), out, a, b)
}
/// [`add`] on SIMD level `isa` (or the best usable one below it).
pub fn add_with(isa: Isa, out: &mut [f32], a: &[f32], b: &[f32]) {
    let isa = usable(isa);
    run3(out, a, b, |o, a, b| dispatch!(isa, add(o, a, b)));
}

/// out = a · b, elementwise, fast version.
pub fn mul(out: &mut [f32], a: &[f32], b: &[f32]) {
    mul_with(isa(), out, a, b)
}
/// [`mul`] on SIMD level `isa` (or the best usable one below it).
pub fn mul_with(isa: Isa, out: &mut [f32], a: &[f32], b: &[f32]) {
    let isa = usable(isa);
    run3(out, a, b, |o, a, b| dispatch!(isa, mul(o, a, b)));
}

/// y += α x, fast version.
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    axpy_with(isa(), y, alpha, x)
}
/// [`axpy`] on SIMD level `isa` (or the best usable one below it).
pub fn axpy_with(isa: Isa, y: &mut [f32], alpha: f32, x: &[f32]) {
    let isa = usable(isa);
    run2(y, x, |y, x| dispatch!(isa, axpy(y, alpha, x)));
}

/// out = α x, fast version.
pub fn scale(out: &mut [f32], alpha: f32, x: &[f32]) {
    scale_with(isa(), out, alpha, x)
}
/// [`scale`] on SIMD level `isa` (or the best usable one below it).
pub fn scale_with(isa: Isa, out: &mut [f32], alpha: f32, x: &[f32]) {
    let isa = usable(isa);
    run2(out, x, |o, x| dispatch!(isa, scale(o, alpha, x)));
}

/// out = max(x, 0), fast version.
pub fn relu_forward(out: &mut [f32], x: &[f32]) {
    relu_forward_with(isa(), out, x)
}
/// [`relu_forward`] on SIMD level `isa` (or the best usable one below it).
pub fn relu_forward_with(isa: Isa, out: &mut [f32], x: &[f32]) {
    let isa = usable(isa);
    run2(out, x, |o, x| dispatch!(isa, relu_forward(o, x)));
}

/// ∂x = G where x > 0, else 0, fast version.
pub fn relu_backward(d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
    relu_backward_with(isa(), d_input, d_out, x)
}
/// [`relu_backward`] on SIMD level `isa` (or the best usable one below it).
pub fn relu_backward_with(isa: Isa, d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
    let isa = usable(isa);
    run3(d_input, d_out, x, |d, g, x| {
        dispatch!(isa, relu_backward(d, g, x))
    });
}

/// The scalar bodies are the reference loops.
mod scalar {
    pub use super::super::reference::{add, axpy, mul, relu_backward, relu_forward, scale};
}

/// Writes one SIMD body: a main loop over whole vectors, then the scalar tail.
/// `$lanes` floats per vector; inside `$body`, `i` is the offset of the current vector.
macro_rules! vector_loop {
    ($n:expr, $lanes:expr, |$i:ident| $body:block, tail |$start:ident| $tail:block) => {{
        let whole = $n / $lanes * $lanes;
        let mut $i = 0;
        while $i < whole {
            $body
            $i += $lanes;
        }
        let $start = whole;
        $tail
    }};
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::scalar;
    use std::arch::x86_64::*;

    // Callers guarantee for every function here: the CPU has AVX-512F, and all slices of a
    // call have the same length. Each `unsafe` block below relies on `i + 16 <= n`.

    #[target_feature(enable = "avx512f")]
    pub unsafe fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = out.len() = a.len() = b.len().
                unsafe {
                    let v = _mm512_add_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                    _mm512_storeu_ps(o.add(i), v);
                }
            },
            tail | s | { scalar::add(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn mul(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = out.len() = a.len() = b.len().
                unsafe {
                    let v = _mm512_mul_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                    _mm512_storeu_ps(o.add(i), v);
                }
            },
            tail | s | { scalar::mul(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
        let (py, px) = (y.as_mut_ptr(), x.as_ptr());
        let va = _mm512_set1_ps(alpha);
        vector_loop!(
            y.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = y.len() = x.len().
                unsafe {
                    let v =
                        _mm512_fmadd_ps(va, _mm512_loadu_ps(px.add(i)), _mm512_loadu_ps(py.add(i)));
                    _mm512_storeu_ps(py.add(i), v);
                }
            },
            tail | s | { scalar::axpy(&mut y[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn scale(out: &mut [f32], alpha: f32, x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let va = _mm512_set1_ps(alpha);
        vector_loop!(
            out.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = out.len() = x.len().
                unsafe { _mm512_storeu_ps(o.add(i), _mm512_mul_ps(va, _mm512_loadu_ps(px.add(i)))) }
            },
            tail | s | { scalar::scale(&mut out[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn relu_forward(out: &mut [f32], x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let zero = _mm512_setzero_ps();
        vector_loop!(
            out.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = out.len() = x.len(). max_ps(0, x) returns its second
                // operand when either is NaN, so a NaN input stays NaN, as in the reference.
                unsafe {
                    _mm512_storeu_ps(o.add(i), _mm512_max_ps(zero, _mm512_loadu_ps(px.add(i))))
                }
            },
            tail | s | { scalar::relu_forward(&mut out[s..], &x[s..]) }
        )
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn relu_backward(d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
        let (d, pg, px) = (d_input.as_mut_ptr(), d_out.as_ptr(), x.as_ptr());
        let zero = _mm512_setzero_ps();
        vector_loop!(
            d_input.len(),
            16,
            |i| {
                // SAFETY: i + 16 <= n = d_input.len() = d_out.len() = x.len().
                unsafe {
                    let positive =
                        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_loadu_ps(px.add(i)), zero);
                    _mm512_storeu_ps(
                        d.add(i),
                        _mm512_maskz_mov_ps(positive, _mm512_loadu_ps(pg.add(i))),
                    );
                }
            },
            tail | s | { scalar::relu_backward(&mut d_input[s..], &d_out[s..], &x[s..]) }
        )
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::scalar;
    use std::arch::x86_64::*;

    // Callers guarantee for every function here: the CPU has AVX2 and FMA, and all slices
    // of a call have the same length. Each `unsafe` block below relies on `i + 8 <= n`.

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = out.len() = a.len() = b.len().
                unsafe {
                    let v = _mm256_add_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                    _mm256_storeu_ps(o.add(i), v);
                }
            },
            tail | s | { scalar::add(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mul(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = out.len() = a.len() = b.len().
                unsafe {
                    let v = _mm256_mul_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                    _mm256_storeu_ps(o.add(i), v);
                }
            },
            tail | s | { scalar::mul(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
        let (py, px) = (y.as_mut_ptr(), x.as_ptr());
        let va = _mm256_set1_ps(alpha);
        vector_loop!(
            y.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = y.len() = x.len().
                unsafe {
                    let v =
                        _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
                    _mm256_storeu_ps(py.add(i), v);
                }
            },
            tail | s | { scalar::axpy(&mut y[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scale(out: &mut [f32], alpha: f32, x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let va = _mm256_set1_ps(alpha);
        vector_loop!(
            out.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = out.len() = x.len().
                unsafe { _mm256_storeu_ps(o.add(i), _mm256_mul_ps(va, _mm256_loadu_ps(px.add(i)))) }
            },
            tail | s | { scalar::scale(&mut out[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn relu_forward(out: &mut [f32], x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let zero = _mm256_setzero_ps();
        vector_loop!(
            out.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = out.len() = x.len(). max_ps(0, x) returns its second
                // operand when either is NaN, so a NaN input stays NaN, as in the reference.
                unsafe {
                    _mm256_storeu_ps(o.add(i), _mm256_max_ps(zero, _mm256_loadu_ps(px.add(i))))
                }
            },
            tail | s | { scalar::relu_forward(&mut out[s..], &x[s..]) }
        )
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn relu_backward(d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
        let (d, pg, px) = (d_input.as_mut_ptr(), d_out.as_ptr(), x.as_ptr());
        let zero = _mm256_setzero_ps();
        vector_loop!(
            d_input.len(),
            8,
            |i| {
                // SAFETY: i + 8 <= n = d_input.len() = d_out.len() = x.len().
                unsafe {
                    let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_loadu_ps(px.add(i)), zero);
                    _mm256_storeu_ps(
                        d.add(i),
                        _mm256_and_ps(positive, _mm256_loadu_ps(pg.add(i))),
                    );
                }
            },
            tail | s | { scalar::relu_backward(&mut d_input[s..], &d_out[s..], &x[s..]) }
        )
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::scalar;
    use std::arch::aarch64::*;

    // Callers guarantee for every function here: the CPU has NEON, and all slices of a call
    // have the same length. Each `unsafe` block below relies on `i + 4 <= n`.

    #[target_feature(enable = "neon")]
    pub unsafe fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = out.len() = a.len() = b.len().
                unsafe {
                    vst1q_f32(
                        o.add(i),
                        vaddq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i))),
                    )
                }
            },
            tail | s | { scalar::add(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "neon")]
    pub unsafe fn mul(out: &mut [f32], a: &[f32], b: &[f32]) {
        let (o, pa, pb) = (out.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        vector_loop!(
            out.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = out.len() = a.len() = b.len().
                unsafe {
                    vst1q_f32(
                        o.add(i),
                        vmulq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i))),
                    )
                }
            },
            tail | s | { scalar::mul(&mut out[s..], &a[s..], &b[s..]) }
        )
    }

    #[target_feature(enable = "neon")]
    pub unsafe fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
        let (py, px) = (y.as_mut_ptr(), x.as_ptr());
        let va = vdupq_n_f32(alpha);
        vector_loop!(
            y.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = y.len() = x.len(). vfmaq_f32(y, a, x) = y + a·x, fused.
                unsafe {
                    vst1q_f32(
                        py.add(i),
                        vfmaq_f32(vld1q_f32(py.add(i)), va, vld1q_f32(px.add(i))),
                    )
                }
            },
            tail | s | { scalar::axpy(&mut y[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "neon")]
    pub unsafe fn scale(out: &mut [f32], alpha: f32, x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let va = vdupq_n_f32(alpha);
        vector_loop!(
            out.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = out.len() = x.len().
                unsafe { vst1q_f32(o.add(i), vmulq_f32(va, vld1q_f32(px.add(i)))) }
            },
            tail | s | { scalar::scale(&mut out[s..], alpha, &x[s..]) }
        )
    }

    #[target_feature(enable = "neon")]
    pub unsafe fn relu_forward(out: &mut [f32], x: &[f32]) {
        let (o, px) = (out.as_mut_ptr(), x.as_ptr());
        let zero = vdupq_n_f32(0.0);
        vector_loop!(
            out.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = out.len() = x.len(). FMAX returns NaN when an operand
                // is NaN, and +0 for max(+0, −0): the reference's results, bit for bit.
                unsafe { vst1q_f32(o.add(i), vmaxq_f32(zero, vld1q_f32(px.add(i)))) }
            },
            tail | s | { scalar::relu_forward(&mut out[s..], &x[s..]) }
        )
    }

    #[target_feature(enable = "neon")]
    pub unsafe fn relu_backward(d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
        let (d, pg, px) = (d_input.as_mut_ptr(), d_out.as_ptr(), x.as_ptr());
        let zero = vdupq_n_f32(0.0);
        vector_loop!(
            d_input.len(),
            4,
            |i| {
                // SAFETY: i + 4 <= n = d_input.len() = d_out.len() = x.len().
                unsafe {
                    let positive = vcgtq_f32(vld1q_f32(px.add(i)), zero);
                    vst1q_f32(d.add(i), vbslq_f32(positive, vld1q_f32(pg.add(i)), zero));
                }
            },
            tail | s | { scalar::relu_backward(&mut d_input[s..], &d_out[s..], &x[s..]) }
        )
    }
}

/// [`reference::relu_in_place_mask`] on rayon's threads in [`crate::CHUNK`]-long pieces
/// once the slice reaches [`crate::PAR_THRESHOLD`] (the loop is a select the compiler
/// vectorises; every element on its own, so the bits equal the reference's).
pub fn relu_in_place_mask<T: Real>(y: &mut [T], positive: &mut [bool]) {
    if y.len() < crate::PAR_THRESHOLD {
        return reference::relu_in_place_mask(y, positive);
    }
    y.par_chunks_mut(crate::CHUNK)
        .zip(positive.par_chunks_mut(crate::CHUNK))
        .for_each(|(yc, pc)| reference::relu_in_place_mask(yc, pc));
}

/// [`reference::relu_mask`] on rayon's threads, as [`relu_in_place_mask`].
pub fn relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], x: &[T]) {
    if y.len() < crate::PAR_THRESHOLD {
        return reference::relu_mask(y, positive, x);
    }
    y.par_chunks_mut(crate::CHUNK)
        .zip(positive.par_chunks_mut(crate::CHUNK))
        .zip(x.par_chunks(crate::CHUNK))
        .for_each(|((yc, pc), xc)| reference::relu_mask(yc, pc, xc));
}

/// [`reference::mask_in_place`] on rayon's threads, as [`relu_in_place_mask`].
pub fn mask_in_place<T: Real>(g: &mut [T], positive: &[bool]) {
    if g.len() < crate::PAR_THRESHOLD {
        return reference::mask_in_place(g, positive);
    }
    g.par_chunks_mut(crate::CHUNK)
        .zip(positive.par_chunks(crate::CHUNK))
        .for_each(|(gc, pc)| reference::mask_in_place(gc, pc));
}

/// [`reference::add_relu_mask`] on rayon's threads, as [`relu_in_place_mask`] (a select
/// the compiler vectorises; every element on its own, so the bits equal the reference's).
pub fn add_relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], a: &[T], b: &[T]) {
    if y.len() < crate::PAR_THRESHOLD {
        return reference::add_relu_mask(y, positive, a, b);
    }
    y.par_chunks_mut(crate::CHUNK)
        .zip(positive.par_chunks_mut(crate::CHUNK))
        .zip(a.par_chunks(crate::CHUNK).zip(b.par_chunks(crate::CHUNK)))
        .for_each(|((yc, pc), (ac, bc))| reference::add_relu_mask(yc, pc, ac, bc));
}
