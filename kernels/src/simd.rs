//! Shared plumbing of the fast kernels: splitting work into fixed chunks for rayon, and
//! dispatching one call to the AVX-512, AVX2 or scalar body of a kernel.

use rayon::prelude::*;

use crate::isa::Isa;
use crate::{CHUNK, PAR_THRESHOLD};

/// Returns `isa` if this CPU can run it, else the best level it can: a caller that names an
/// ISA (tests, benches) can never make a kernel execute an instruction the CPU lacks.
pub(crate) fn usable(isa: Isa) -> Isa {
    if isa.is_supported() {
        isa
    } else {
        Isa::best()
    }
}

/// Runs `f` over matching `CHUNK`-long pieces of `out` and `x`, on rayon's pool once the
/// slices are at least `PAR_THRESHOLD` long, else on the calling thread in one piece.
/// Elementwise results do not depend on how the slices are cut.
pub(crate) fn run2(out: &mut [f32], x: &[f32], f: impl Fn(&mut [f32], &[f32]) + Sync) {
    if out.len() < PAR_THRESHOLD {
        f(out, x)
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(o, x)| f(o, x));
    }
}

/// As [`run2`] with two inputs.
pub(crate) fn run3(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) {
    if out.len() < PAR_THRESHOLD {
        f(out, a, b)
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .for_each(|((o, a), b)| f(o, a, b));
    }
}

/// Calls `avx512::$f`, `avx2::$f` or `scalar::$f` (modules in scope at the call site) for
/// an ISA that [`usable`] has vetted.
macro_rules! dispatch {
    ($isa:expr, $f:ident ( $($arg:expr),* )) => {
        match $isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `$isa` went through `simd::usable`, so the CPU has AVX-512F.
            $crate::isa::Isa::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `$isa` went through `simd::usable`, so the CPU has AVX2 and FMA.
            $crate::isa::Isa::Avx2 => unsafe { avx2::$f($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `$isa` went through `simd::usable`, so the CPU has NEON.
            $crate::isa::Isa::Neon => unsafe { neon::$f($($arg),*) },
            _ => scalar::$f($($arg),*),
        }
    };
}
pub(crate) use dispatch;

/// How many `block_len`-long blocks one rayon task should take so that it handles at least
/// [`CHUNK`] elements: below that, the hand-off costs more than the work (a 14×14 plane is
/// 196 floats; 8,192 one-plane tasks spend more time in rayon than in the kernel).
pub(crate) fn blocks_per_task(block_len: usize) -> usize {
    (CHUNK / block_len.max(1)).max(1)
}

/// Whole-vector AVX-512 loads and stores that fall back to masked ones only where a mask is
/// needed: on Zen 5 a masked load or store that goes to memory runs at about half the speed
/// of a plain one, even with every lane on (`cargo bench --bench kernels -- masked_stream`).
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    /// A mask with the first `k` of 16 lanes on (all of them for k ≥ 16).
    #[inline]
    pub(crate) fn first_lanes(k: usize) -> __mmask16 {
        if k >= 16 {
            0xFFFF
        } else {
            ((1u32 << k) - 1) as u16
        }
    }

    /// The 16 floats at `p`, lanes off in `mask` read as 0 (and not touched in memory). A
    /// masked load with every lane on is still the masked instruction, and a slow one (see
    /// above), so a full mask takes the plain load.
    ///
    /// # Safety
    /// AVX-512F; the lanes on in `mask` lie in one readable allocation.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn load16(p: *const f32, mask: __mmask16) -> __m512 {
        // SAFETY: the caller's contract, lane by lane.
        unsafe {
            if mask == 0xFFFF {
                _mm512_loadu_ps(p)
            } else {
                _mm512_maskz_loadu_ps(mask, p)
            }
        }
    }

    /// Stores the lanes of `v` that are on in `mask` to `p..p + 16`, with the plain store
    /// for a full mask (as [`load16`]).
    ///
    /// # Safety
    /// AVX-512F; the lanes on in `mask` lie in one writable allocation.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn store16(p: *mut f32, mask: __mmask16, v: __m512) {
        // SAFETY: the caller's contract, lane by lane.
        unsafe {
            if mask == 0xFFFF {
                _mm512_storeu_ps(p, v)
            } else {
                _mm512_mask_storeu_ps(p, mask, v)
            }
        }
    }
}
