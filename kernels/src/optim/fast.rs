//! Fast `f32` Adam step. Equals `reference::adam_step` bit for bit; differs by: 16 (AVX-512),
//! 8 (AVX2) or 4 (NEON) elements per instruction with the same operations in the same order (no FMA,
//! and IEEE division and square root are exactly rounded in both), and rayon over
//! [`CHUNK`]-long pieces once a tensor reaches [`PAR_THRESHOLD`] elements.

use rayon::prelude::*;

use super::AdamStep;
use crate::isa::{isa, Isa};
use crate::simd::{dispatch, usable};
use crate::{CHUNK, PAR_THRESHOLD};

/// One Adam update of w, m and v from g (the formulas are in the module docs), on the best SIMD level.
pub fn adam_step(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: &AdamStep<f32>) {
    adam_step_with(isa(), w, m, v, g, h)
}

/// [`adam_step`] on SIMD level `isa` (or the best usable one below it).
pub fn adam_step_with(
    isa: Isa,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    h: &AdamStep<f32>,
) {
    let isa = usable(isa);
    if w.len() < PAR_THRESHOLD {
        dispatch!(isa, adam_step(w, m, v, g, h));
    } else {
        w.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((w, m), v), g)| dispatch!(isa, adam_step(w, m, v, g, h)));
    }
}

mod scalar {
    pub use super::super::reference::adam_step;
}

/// One SIMD body per ISA, generated from the same list of operations.
macro_rules! adam_body {
    ($feat:literal, $lanes:literal, $set1:ident, $load:ident, $store:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $sqrt:ident) => {
        use super::{scalar, AdamStep};

        /// Callers guarantee: the CPU has the feature, and all four slices have one length.
        #[target_feature(enable = $feat)]
        pub unsafe fn adam_step(
            w: &mut [f32],
            m: &mut [f32],
            v: &mut [f32],
            g: &[f32],
            h: &AdamStep<f32>,
        ) {
            let n = w.len();
            let whole = n / $lanes * $lanes;
            let (pw, pm, pv, pg) = (w.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr(), g.as_ptr());
            let l2 = $set1(h.l2);
            let decay = $set1(h.decay);
            let b1c = $set1(h.one_minus_beta1);
            let b2 = $set1(h.beta2);
            let b2c = $set1(h.one_minus_beta2);
            let bc2 = $set1(h.bias_correction2_sqrt);
            let eps = $set1(h.eps);
            let step = $set1(h.step_size);
            let mut i = 0;
            while i < whole {
                // SAFETY: i + lanes <= whole <= n, the length of all four slices.
                unsafe {
                    let wi = $load(pw.add(i));
                    let gi = $add($load(pg.add(i)), $mul(l2, wi));
                    let wd = $mul(wi, decay);
                    let mi = $load(pm.add(i));
                    let mn = $add(mi, $mul(b1c, $sub(gi, mi)));
                    let vn = $add($mul(b2, $load(pv.add(i))), $mul($mul(b2c, gi), gi));
                    let denom = $add($div($sqrt(vn), bc2), eps);
                    $store(pm.add(i), mn);
                    $store(pv.add(i), vn);
                    $store(pw.add(i), $sub(wd, $mul(step, $div(mn, denom))));
                }
                i += $lanes;
            }
            scalar::adam_step(
                &mut w[whole..],
                &mut m[whole..],
                &mut v[whole..],
                &g[whole..],
                h,
            );
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    adam_body!(
        "avx512f",
        16,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_div_ps,
        _mm512_sqrt_ps
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    adam_body!(
        "avx2,fma",
        8,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_div_ps,
        _mm256_sqrt_ps
    );
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;
    adam_body!(
        "neon",
        4,
        vdupq_n_f32,
        vld1q_f32,
        vst1q_f32,
        vaddq_f32,
        vsubq_f32,
        vmulq_f32,
        vdivq_f32,
        vsqrtq_f32
    );
}
