//! What this machine can do at best: a fused multiply-add loop per SIMD level (the FP32
//! compute peak) and a streaming copy (the memory bandwidth), on one thread or several.
//! The profiler divides each kernel's throughput by these, so "% of peak" is measured on
//! the machine at hand, never assumed.

use std::time::Instant;

use crate::isa::Isa;

/// Independent accumulator chains: enough to cover a 4-cycle FMA latency on 2 pipes.
const CHAINS: usize = 12;

/// FP32 GFLOP/s of `threads` threads each running `iters` rounds of CHAINS FMAs at `isa`.
pub fn fma_peak(isa: Isa, threads: usize, iters: usize) -> f64 {
    let isa = if isa.is_supported() { isa } else { Isa::best() };
    let lanes = match isa {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
        Isa::Neon => 4,
        Isa::Scalar => 1,
    };
    let start = Instant::now();
    let sink: f32 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| s.spawn(move || fma_loop(isa, iters)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    std::hint::black_box(sink);
    (threads.max(1) * iters * CHAINS * lanes * 2) as f64 / secs / 1e9
}

fn fma_loop(isa: Isa, iters: usize) -> f32 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `fma_peak` only passes an ISA this CPU supports.
        Isa::Avx512 => unsafe { x86::fma512(iters) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::fma256(iters) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Isa::Neon => unsafe { arm::fma128(iters) },
        _ => {
            let mut acc = [0.0f32; CHAINS];
            for _ in 0..iters {
                for a in acc.iter_mut() {
                    *a = a.mul_add(1.000_000_1, 0.999_999);
                }
            }
            acc.iter().sum()
        }
    }
}

/// One thread reading all of `buf` with 16-float AVX-512 loads, plain or masked (with every
/// lane on), returning the largest element; `None` without AVX-512. On a buffer larger than
/// the caches this is the load half of a question the max-pool kernel had to answer: on
/// Zen 5 masked loads that go to memory run at about half the speed of plain ones
/// (`cargo bench --bench kernels -- masked_stream`).
pub fn stream_load(buf: &[f32], masked: bool) -> Option<f32> {
    if !Isa::Avx512.is_supported() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F was just detected.
    return Some(unsafe { x86::stream_load(buf, masked) });
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (buf, masked);
        None
    }
}

/// One thread writing `v` over all of `buf` with 16-float AVX-512 stores, plain or masked
/// (every lane on); false (and nothing written) without AVX-512. The store half of
/// [`stream_load`]'s question.
pub fn stream_store(buf: &mut [f32], v: f32, masked: bool) -> bool {
    if !Isa::Avx512.is_supported() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F was just detected.
    unsafe {
        x86::stream_store(buf, v, masked)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (buf, v, masked);
    cfg!(target_arch = "x86_64")
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    /// Caller guarantees AVX-512F. The mask comes through `black_box`, so the compiler
    /// cannot see it is full and turn the masked load into a plain one.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn stream_load(buf: &[f32], masked: bool) -> f32 {
        let mask: __mmask16 = std::hint::black_box(0xFFFF);
        let mut acc = _mm512_set1_ps(f32::MIN);
        let n = buf.len() / 16 * 16;
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 ≤ n ≤ buf.len().
            let v = unsafe {
                let p = buf.as_ptr().add(i);
                if masked {
                    _mm512_maskz_loadu_ps(mask, p)
                } else {
                    _mm512_loadu_ps(p)
                }
            };
            acc = _mm512_max_ps(acc, v);
        }
        buf[n..]
            .iter()
            .fold(_mm512_reduce_max_ps(acc), |m, &x| m.max(x))
    }

    /// Caller guarantees AVX-512F (the mask as in [`stream_load`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn stream_store(buf: &mut [f32], v: f32, masked: bool) {
        let mask: __mmask16 = std::hint::black_box(0xFFFF);
        let vv = _mm512_set1_ps(v);
        let n = buf.len() / 16 * 16;
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 ≤ n ≤ buf.len().
            unsafe {
                let p = buf.as_mut_ptr().add(i);
                if masked {
                    _mm512_mask_storeu_ps(p, mask, vv)
                } else {
                    _mm512_storeu_ps(p, vv)
                }
            }
        }
        buf[n..].fill(v);
    }

    /// Caller guarantees AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma512(iters: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(1.000_000_1), _mm512_set1_ps(0.999_999));
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, a, b);
            }
        }
        acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
    }

    /// Caller guarantees AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma256(iters: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(1.000_000_1), _mm256_set1_ps(0.999_999));
        let mut acc = [_mm256_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let mut s = 0.0;
        for v in acc {
            // SAFETY: `lanes` holds 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
            s += lanes.iter().sum::<f32>();
        }
        s
    }
}

/// GB/s of copying a `bytes`-long buffer (read + write counted) `reps` times, split over
/// rayon's pool in 1 MiB pieces: larger than any cache, so this is the memory's bandwidth.
pub fn copy_bandwidth(bytes: usize, reps: usize) -> f64 {
    use rayon::prelude::*;
    let n = bytes / 4;
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let piece = 1 << 18;
    dst.par_chunks_mut(piece)
        .zip(src.par_chunks(piece))
        .for_each(|(d, s)| d.copy_from_slice(s));
    let start = Instant::now();
    for _ in 0..reps {
        dst.par_chunks_mut(piece)
            .zip(src.par_chunks(piece))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&dst);
    }
    (2 * n * 4 * reps) as f64 / start.elapsed().as_secs_f64().max(1e-9) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_return_positive_figures() {
        for isa in Isa::supported() {
            assert!(fma_peak(isa, 1, 10_000) > 0.0);
        }
        assert!(copy_bandwidth(1 << 20, 2) > 0.0);
    }

    #[test]
    fn stream_probes_read_and_write_every_element() {
        // 37 floats: two full vectors and a tail of 5.
        let mut buf: Vec<f32> = (0..37).map(|i| i as f32).collect();
        for masked in [false, true] {
            if let Some(m) = stream_load(&buf, masked) {
                assert_eq!(m, 36.0);
            }
            buf[3] = 99.0;
            if stream_load(&buf, masked).is_some() {
                assert_eq!(stream_load(&buf, masked), Some(99.0));
            }
            if stream_store(&mut buf, -1.0, masked) {
                assert!(buf.iter().all(|&x| x == -1.0));
            }
            buf = (0..37).map(|i| i as f32).collect();
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::CHAINS;
    use std::arch::aarch64::*;

    /// CHAINS independent chains of 4-lane fused multiply-adds.
    ///
    /// # Safety
    /// The CPU has NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn fma128(iters: usize) -> f32 {
        let (a, b) = (vdupq_n_f32(1.000_000_1), vdupq_n_f32(0.999_999));
        let mut acc = [vdupq_n_f32(0.0); CHAINS];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = vfmaq_f32(b, *x, a);
            }
        }
        acc.iter().map(|&v| vaddvq_f32(v)).sum()
    }
}
