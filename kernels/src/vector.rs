//! One vector of f32 lanes, for kernels written once for every SIMD width.
//!
//! A kernel generic over [`Lanes`] is an `#[inline(always)]` function; a thin wrapper with
//! `#[target_feature(enable = …)]` instantiates it for one ISA, so the intrinsics inline
//! into code compiled for that ISA (and only ever run on a CPU that has it: the wrappers
//! are called after [`crate::isa`]'s runtime check). The same source then serves AVX-512 (16
//! lanes), AVX2 (8 lanes), NEON (4 lanes) and two portable instantiations, [`Scalar1`] and [`Scalar4`],
//! whose tests check a kernel's lane logic at other widths on any machine.

/// A vector of `LANES` f32 and the operations the convolution and gemm tiles need.
///
/// # Safety
/// Implementations' functions are `unsafe` because their intrinsics need the CPU feature
/// (the caller's `#[target_feature]` context) and because `load`/`store` take raw pointers
/// to `LANES` valid floats.
pub trait Lanes: Copy {
    /// The register type.
    type V: Copy;
    /// Floats per vector.
    const LANES: usize;
    /// All lanes 0.
    ///
    /// # Safety
    /// The CPU has the implementation's ISA.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    ///
    /// # Safety
    /// As [`Lanes::zero`].
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` floats from `p` (unaligned).
    ///
    /// # Safety
    /// The CPU has the ISA, and `p..p + LANES` is readable.
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` floats to `p` (unaligned).
    ///
    /// # Safety
    /// The CPU has the ISA, and `p..p + LANES` is writable.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// a · b + c, lane by lane (fused where the ISA has it).
    ///
    /// # Safety
    /// As [`Lanes::zero`].
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// a · b, lane by lane.
    ///
    /// # Safety
    /// As [`Lanes::zero`].
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// dst\[j·dst_stride + i\] = src\[i·src_stride + j\] for i, j < LANES: a LANES × LANES
    /// block transposed (the gemm's packing of k-contiguous operands).
    ///
    /// # Safety
    /// The CPU has the ISA; the LANES rows of LANES floats at both addresses are valid and
    /// do not overlap.
    unsafe fn transpose_block(dst: *mut f32, dst_stride: usize, src: *const f32, src_stride: usize);
}

/// [`Lanes::transpose_block`] element by element.
///
/// # Safety
/// As [`Lanes::transpose_block`], for `n` × `n` blocks.
#[inline(always)]
unsafe fn transpose_scalar(
    n: usize,
    dst: *mut f32,
    dst_stride: usize,
    src: *const f32,
    src_stride: usize,
) {
    for i in 0..n {
        for j in 0..n {
            // SAFETY: the caller's contract: both blocks are valid.
            unsafe { *dst.add(j * dst_stride + i) = *src.add(i * src_stride + j) };
        }
    }
}

/// One lane, plain Rust: the kernels' logic at width 1.
#[derive(Clone, Copy, Debug)]
pub struct Scalar1;

impl Lanes for Scalar1 {
    type V = f32;
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn zero() -> f32 {
        0.0
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        // SAFETY: the caller's contract: one valid float.
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        // SAFETY: the caller's contract: one valid float.
        unsafe { *p = v }
    }
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    unsafe fn transpose_block(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        // SAFETY: forwarded.
        unsafe { transpose_scalar(1, dst, ds, src, ss) }
    }
}

/// Four lanes as an array, plain Rust: the kernels' logic at NEON's width on any machine.
#[derive(Clone, Copy, Debug)]
pub struct Scalar4;

impl Lanes for Scalar4 {
    type V = [f32; 4];
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> [f32; 4] {
        [0.0; 4]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 4] {
        [x; 4]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 4] {
        // SAFETY: the caller's contract: four valid floats.
        unsafe { std::ptr::read_unaligned(p as *const [f32; 4]) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 4]) {
        // SAFETY: the caller's contract: four valid floats.
        unsafe { std::ptr::write_unaligned(p as *mut [f32; 4], v) }
    }
    #[inline(always)]
    unsafe fn fma(a: [f32; 4], b: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        [
            a[0].mul_add(b[0], c[0]),
            a[1].mul_add(b[1], c[1]),
            a[2].mul_add(b[2], c[2]),
            a[3].mul_add(b[3], c[3]),
        ]
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        [a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]]
    }
    #[inline(always)]
    unsafe fn transpose_block(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        // SAFETY: forwarded.
        unsafe { transpose_scalar(4, dst, ds, src, ss) }
    }
}

/// AVX2 + FMA: 8 lanes in a 256-bit register (16 registers).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = std::arch::x86_64::__m256;
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: the caller runs with AVX available.
        unsafe { std::arch::x86_64::_mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: as above.
        unsafe { std::arch::x86_64::_mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: AVX; eight valid floats at p.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: AVX; eight valid floats at p.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: the caller runs with FMA available.
        unsafe { std::arch::x86_64::_mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: the caller runs with AVX available.
        unsafe { std::arch::x86_64::_mm256_mul_ps(a, b) }
    }
    /// Unpack pairs of rows, shuffle pairs of pairs, then swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose_block(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        use std::arch::x86_64::*;
        // SAFETY: AVX; the caller's contract covers the 8 rows at both addresses.
        unsafe {
            let mut r = [_mm256_setzero_ps(); 8];
            for (i, v) in r.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(src.add(i * ss));
            }
            let mut t = [_mm256_setzero_ps(); 8];
            for i in 0..4 {
                t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            for i in 0..2 {
                r[4 * i] = _mm256_shuffle_ps::<0x44>(t[4 * i], t[4 * i + 2]);
                r[4 * i + 1] = _mm256_shuffle_ps::<0xEE>(t[4 * i], t[4 * i + 2]);
                r[4 * i + 2] = _mm256_shuffle_ps::<0x44>(t[4 * i + 1], t[4 * i + 3]);
                r[4 * i + 3] = _mm256_shuffle_ps::<0xEE>(t[4 * i + 1], t[4 * i + 3]);
            }
            for j in 0..4 {
                t[j] = _mm256_permute2f128_ps::<0x20>(r[j], r[j + 4]);
                t[j + 4] = _mm256_permute2f128_ps::<0x31>(r[j], r[j + 4]);
            }
            for (j, v) in t.iter().enumerate() {
                _mm256_storeu_ps(dst.add(j * ds), *v);
            }
        }
    }
}

/// AVX-512F: 16 lanes in a 512-bit register (32 registers).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = std::arch::x86_64::__m512;
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: the caller runs with AVX-512F available.
        unsafe { std::arch::x86_64::_mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: as above.
        unsafe { std::arch::x86_64::_mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: AVX-512F; sixteen valid floats at p.
        unsafe { std::arch::x86_64::_mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: AVX-512F; sixteen valid floats at p.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: AVX-512F has the fused multiply-add.
        unsafe { std::arch::x86_64::_mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: AVX-512F.
        unsafe { std::arch::x86_64::_mm512_mul_ps(a, b) }
    }
    /// Four rounds: unpack pairs of rows (2×2 blocks of floats in each 128-bit lane), unpack
    /// pairs of those as doubles (4×4 blocks per lane), then two rounds of 128-bit lane
    /// shuffles gather each column's four lanes.
    #[inline(always)]
    unsafe fn transpose_block(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        use std::arch::x86_64::*;
        // SAFETY: AVX-512F; the caller's contract covers the 16 rows at both addresses.
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, v) in r.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(src.add(i * ss));
            }
            // r[4g + c], lane l: rows 4g..4g + 4 at column 4l + c.
            for g in 0..4 {
                let t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
                let t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
                let t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
                let t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
                let (d0, d1, d2, d3) = (
                    _mm512_castps_pd(t0),
                    _mm512_castps_pd(t1),
                    _mm512_castps_pd(t2),
                    _mm512_castps_pd(t3),
                );
                r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(d0, d2));
                r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(d0, d2));
                r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(d1, d3));
                r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(d1, d3));
            }
            for c in 0..4 {
                let (u0, u1, u2, u3) = (r[c], r[4 + c], r[8 + c], r[12 + c]);
                let ta = _mm512_shuffle_f32x4::<0x88>(u0, u1);
                let tb = _mm512_shuffle_f32x4::<0xdd>(u0, u1);
                let tc = _mm512_shuffle_f32x4::<0x88>(u2, u3);
                let td = _mm512_shuffle_f32x4::<0xdd>(u2, u3);
                _mm512_storeu_ps(dst.add(c * ds), _mm512_shuffle_f32x4::<0x88>(ta, tc));
                _mm512_storeu_ps(dst.add((c + 8) * ds), _mm512_shuffle_f32x4::<0xdd>(ta, tc));
                _mm512_storeu_ps(dst.add((c + 4) * ds), _mm512_shuffle_f32x4::<0x88>(tb, td));
                _mm512_storeu_ps(dst.add((c + 12) * ds), _mm512_shuffle_f32x4::<0xdd>(tb, td));
            }
        }
    }
}

/// NEON (AArch64's Advanced SIMD): 4 lanes in a 128-bit register (32 registers).
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy, Debug)]
pub struct Neon;

#[cfg(target_arch = "aarch64")]
impl Lanes for Neon {
    type V = std::arch::aarch64::float32x4_t;
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: the caller runs with NEON available.
        unsafe { std::arch::aarch64::vdupq_n_f32(0.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: as above.
        unsafe { std::arch::aarch64::vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: NEON; four valid floats at p.
        unsafe { std::arch::aarch64::vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: NEON; four valid floats at p.
        unsafe { std::arch::aarch64::vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: NEON. vfmaq_f32(c, a, b) = c + a·b, fused.
        unsafe { std::arch::aarch64::vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: NEON.
        unsafe { std::arch::aarch64::vmulq_f32(a, b) }
    }
    /// Transpose 2×2 blocks of floats, then 2×2 blocks of pairs.
    #[inline(always)]
    unsafe fn transpose_block(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        use std::arch::aarch64::*;
        // SAFETY: NEON; the caller's contract covers the 4 rows at both addresses.
        unsafe {
            let (r0, r1) = (vld1q_f32(src), vld1q_f32(src.add(ss)));
            let (r2, r3) = (vld1q_f32(src.add(2 * ss)), vld1q_f32(src.add(3 * ss)));
            let t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
            let t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
            let t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
            let t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
            vst1q_f32(dst, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
            vst1q_f32(dst.add(ds), vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
            vst1q_f32(dst.add(2 * ds), vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
            vst1q_f32(dst.add(3 * ds), vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
        }
    }
}
