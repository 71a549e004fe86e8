//! One vector of f32 lanes, for kernels written once for every SIMD width.
//!
//! A kernel generic over [`Lanes`] is an `#[inline(always)]` function; a thin wrapper with
//! `#[target_feature(enable = …)]` instantiates it for one ISA, so the intrinsics inline
//! into code compiled for that ISA (and only ever run on a CPU that has it: the wrappers
//! are called after [`crate::isa`]'s runtime check). The same source then serves AVX-512 (16
//! lanes), AVX2 (8 lanes), NEON (4 lanes) and two portable instantiations, [`Scalar1`] and [`Scalar4`],
//! whose tests check a kernel's lane logic at other widths on any machine.

/// A vector of `LANES` f32 and the five operations the convolution tiles need.
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
}
