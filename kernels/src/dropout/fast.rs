//! Fast `f32` dropout. Equals `reference::dropout_apply` bit for bit; differs by: the two
//! hash rounds on 16 (AVX-512) or 8 (AVX2) indices at once with integer SIMD, and rayon over
//! fixed chunks (each element's draw depends only on its index, so any split is the same).

use rayon::prelude::*;

use super::{draw, keep_threshold};
use crate::isa::{isa, Isa};
use crate::simd::{dispatch, usable};
use crate::{CHUNK, PAR_THRESHOLD};

/// out = x · mask / (1 − p) with the counter-hash mask of `key`, fast version.
pub fn dropout_apply(out: &mut [f32], x: &[f32], p: f64, key: u64) {
    dropout_apply_with(isa(), out, x, p, key)
}

/// [`dropout_apply`] on SIMD level `isa` (or the best usable one below it).
pub fn dropout_apply_with(isa: Isa, out: &mut [f32], x: &[f32], p: f64, key: u64) {
    let isa = usable(isa);
    let t = keep_threshold(p);
    let scale = (1.0 / (1.0 - p)) as f32;
    if out.len() < PAR_THRESHOLD {
        dispatch!(isa, apply(out, x, 0, t, scale, key));
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(c, (o, xc))| {
                dispatch!(isa, apply(o, xc, (c * CHUNK) as u32, t, scale, key));
            });
    }
}

/// x ← x · mask / (1 − p) in place (the backward pass, in G's buffer), fast version.
pub fn dropout_apply_in_place(xs: &mut [f32], p: f64, key: u64) {
    dropout_apply_in_place_with(isa(), xs, p, key)
}

/// [`dropout_apply_in_place`] on SIMD level `isa` (or the best usable one below it).
pub fn dropout_apply_in_place_with(isa: Isa, xs: &mut [f32], p: f64, key: u64) {
    let isa = usable(isa);
    let t = keep_threshold(p);
    let scale = (1.0 / (1.0 - p)) as f32;
    if xs.len() < PAR_THRESHOLD {
        dispatch!(isa, apply_in_place(xs, 0, t, scale, key));
    } else {
        xs.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
            dispatch!(isa, apply_in_place(o, (c * CHUNK) as u32, t, scale, key));
        });
    }
}

mod scalar {
    use super::draw;

    /// Elements `first..first + out.len()` of the whole tensor.
    pub fn apply(out: &mut [f32], x: &[f32], first: u32, t: u32, scale: f32, key: u64) {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            *o = if draw(key, first + i as u32) < t {
                v * scale
            } else {
                0.0
            };
        }
    }

    /// [`apply`] in place.
    pub fn apply_in_place(xs: &mut [f32], first: u32, t: u32, scale: f32, key: u64) {
        for (i, v) in xs.iter_mut().enumerate() {
            *v = if draw(key, first + i as u32) < t {
                *v * scale
            } else {
                0.0
            };
        }
    }
}

macro_rules! dropout_simd {
    ($feat:literal, $l:literal, $vi:ty, $set1i:ident, $setr:expr, $addi:ident, $mullo:ident, $xor:ident, $srli:ident, $keep:expr, $set1:ident, $load:ident, $store:ident, $mul:ident) => {
        use super::super::draw;

        /// fmix32 on every lane.
        #[target_feature(enable = $feat)]
        fn fmix(h: $vi) -> $vi {
            let h = $xor(h, $srli::<16>(h));
            let h = $mullo(h, $set1i(0x85eb_ca6bu32 as i32));
            let h = $xor(h, $srli::<13>(h));
            let h = $mullo(h, $set1i(0xc2b2_ae35u32 as i32));
            $xor(h, $srli::<16>(h))
        }

        /// Callers guarantee the CPU has the feature and `out.len() == x.len()`.
        #[target_feature(enable = $feat)]
        pub unsafe fn apply(out: &mut [f32], x: &[f32], first: u32, t: u32, scale: f32, key: u64) {
            // SAFETY: the caller's contract; two slices of `out.len()` that cannot overlap.
            unsafe {
                apply_raw(
                    out.as_mut_ptr(),
                    x.as_ptr(),
                    out.len(),
                    first,
                    t,
                    scale,
                    key,
                )
            }
        }

        /// Callers guarantee the CPU has the feature.
        #[target_feature(enable = $feat)]
        pub unsafe fn apply_in_place(xs: &mut [f32], first: u32, t: u32, scale: f32, key: u64) {
            let p = xs.as_mut_ptr();
            // SAFETY: the caller's contract; source and destination are the same `xs.len()`
            // elements, each read before it is written.
            unsafe { apply_raw(p, p, xs.len(), first, t, scale, key) }
        }

        /// Elements `first..first + len` of the whole tensor, from `px` to `po`.
        ///
        /// # Safety
        /// The CPU has the feature; `px` and `po` address `len` elements each, and are either
        /// equal (in place: every element is read before it is written) or do not overlap.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn apply_raw(
            po: *mut f32,
            px: *const f32,
            len: usize,
            first: u32,
            t: u32,
            scale: f32,
            key: u64,
        ) {
            let n = len / $l * $l;
            let (k0, k1) = ($set1i(key as u32 as i32), $set1i((key >> 32) as u32 as i32));
            let golden = $set1i(0x9E37_79B9u32 as i32);
            let thr = $set1i(t as i32);
            let sv = $set1(scale);
            let lane: $vi = $setr;
            for i in (0..n).step_by($l) {
                let idx = $addi($set1i((first as usize + i) as u32 as i32), lane);
                let h = fmix($xor($mullo(idx, golden), k0));
                // 24-bit draws are non-negative as i32, so a signed compare is exact.
                let d = $srli::<8>(fmix($xor(h, k1)));
                // SAFETY: i + lanes <= n <= len, inside both buffers.
                unsafe {
                    let v = $mul($load(px.add(i)), sv);
                    $store(po.add(i), $keep(d, thr, v));
                }
            }
            // The tail, as `scalar::apply`.
            for i in n..len {
                // SAFETY: i < len, inside both buffers.
                unsafe {
                    let v = *px.add(i);
                    *po.add(i) = if draw(key, first + i as u32) < t {
                        v * scale
                    } else {
                        0.0
                    };
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    dropout_simd!(
        "avx512f",
        16,
        __m512i,
        _mm512_set1_epi32,
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_add_epi32,
        _mm512_mullo_epi32,
        _mm512_xor_si512,
        _mm512_srli_epi32,
        |d, thr, v| _mm512_maskz_mov_ps(_mm512_cmplt_epi32_mask(d, thr), v),
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_mul_ps
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    dropout_simd!(
        "avx2,fma",
        8,
        __m256i,
        _mm256_set1_epi32,
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_add_epi32,
        _mm256_mullo_epi32,
        _mm256_xor_si256,
        _mm256_srli_epi32,
        |d, thr, v| _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(thr, d)), v),
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_mul_ps
    );
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    /// All lanes `v` (the macro's signed-integer broadcast, on unsigned lanes).
    #[inline]
    #[target_feature(enable = "neon")]
    fn set1i(v: i32) -> uint32x4_t {
        vdupq_n_u32(v as u32)
    }

    /// Lanes 0, 1, 2, 3.
    #[inline]
    #[target_feature(enable = "neon")]
    fn lanes() -> uint32x4_t {
        const L: [u32; 4] = [0, 1, 2, 3];
        // SAFETY: four u32 at L.
        unsafe { vld1q_u32(L.as_ptr()) }
    }

    dropout_simd!(
        "neon",
        4,
        uint32x4_t,
        set1i,
        lanes(),
        vaddq_u32,
        vmulq_u32,
        veorq_u32,
        vshrq_n_u32,
        // The draws are 24 bits, below 2^31: the unsigned compare is the signed one.
        |d, thr, v| vreinterpretq_f32_u32(vandq_u32(vcltq_u32(d, thr), vreinterpretq_u32_f32(v))),
        vdupq_n_f32,
        vld1q_f32,
        vst1q_f32,
        vmulq_f32
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn scalar_body_matches_draw() {
        let x = vec![1.0f32; 40];
        let mut out = vec![0.0; 40];
        super::scalar::apply(&mut out, &x, 5, super::keep_threshold(0.5), 2.0, 99);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(
                *o,
                if super::draw(99, 5 + i as u32) < super::keep_threshold(0.5) {
                    2.0
                } else {
                    0.0
                }
            );
        }
    }
}
