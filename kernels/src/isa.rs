//! Which SIMD instruction set the fast kernels use, decided once at run time.
//!
//! stitch never compiles with `-C target-cpu=native`: a binary built here must run on any
//! x86-64. Each fast kernel therefore has up to three bodies (AVX-512F, AVX2+FMA and plain
//! scalar Rust) and [`isa()`] picks one the first time it is asked, with
//! `is_x86_feature_detected!`. On AArch64 the levels are scalar and NEON (Advanced SIMD,
//! 4 f32 lanes, 32 registers), checked with `is_aarch64_feature_detected!`.
//!
//! The environment variable `STITCH_ISA=scalar|avx2|avx512` lowers the choice (asking for an
//! ISA the CPU lacks falls back to the best one it has, never to an illegal instruction), so
//! benches and tests can run every path the machine supports.

use std::sync::OnceLock;

/// An instruction-set level of the fast kernels, from the plainest up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust loops (the compiler may still use SSE2 on x86-64).
    Scalar,
    /// 256-bit AVX2 with fused multiply-add: 8 f32 lanes.
    Avx2,
    /// 512-bit AVX-512F: 16 f32 lanes.
    Avx512,
    /// AArch64's 128-bit NEON: 4 f32 lanes (Apple Silicon, Graviton, Ampere).
    Neon,
}

impl Isa {
    /// The name used by `STITCH_ISA` and printed by the profiler.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses `scalar`, `avx2`, `avx512` or `neon`.
    pub fn parse(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            "neon" => Some(Isa::Neon),
            _ => None,
        }
    }

    /// Whether this CPU can run code compiled for `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every level this CPU supports, plainest first (what tests iterate over).
    pub fn supported() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon]
            .into_iter()
            .filter(|i| i.is_supported())
            .collect()
    }

    /// The best level this CPU supports.
    pub fn best() -> Isa {
        *Isa::supported().last().unwrap_or(&Isa::Scalar)
    }
}

static CHOSEN: OnceLock<Isa> = OnceLock::new();

/// The ISA the fast kernels use: the best the CPU has, lowered by `STITCH_ISA` if set.
pub fn isa() -> Isa {
    *CHOSEN.get_or_init(|| {
        let best = Isa::best();
        match std::env::var("STITCH_ISA")
            .ok()
            .and_then(|s| Isa::parse(&s))
        {
            Some(asked) if asked <= best && asked.is_supported() => asked,
            _ => best,
        }
    })
}

/// Whether this CPU runs AVX-512's 512-bit multiply-adds as two 256-bit halves, so that
/// 16 lanes retire no faster than AVX2's 8: AMD's Zen 4 (family 19h; Zen 3, the same
/// family, has no AVX-512). Intel's AVX-512 server cores and desktop and server Zen 5
/// (family 1Ah) have full-width units, where the direct kernels at 16 lanes run twice as
/// many FMAs per cycle as at 8; mobile Zen 5 splits them again but is taken as full-width
/// here, and so are Intel parts with a single 512-bit FMA port (not measured). The answer
/// comes from CPUID, not from a timing, so a machine always picks the same kernels (and
/// gives the same bits). `conv2d::fast` asks it to choose between Winograd and the direct
/// kernels, whose balance of arithmetic against data movement this moves.
pub fn avx512_on_256_bit_units() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HALVES: OnceLock<bool> = OnceLock::new();
        *HALVES.get_or_init(|| {
            use std::arch::x86_64::__cpuid;
            // Leaf 0: the vendor string in EBX, EDX, ECX ("Auth" "enti" "cAMD").
            let vendor = __cpuid(0);
            let amd =
                (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
            // Leaf 1: EAX bits 8–11 the family, plus bits 20–27 when those read 0xF.
            let eax = __cpuid(1).eax;
            let base = (eax >> 8) & 0xf;
            let family = base + if base == 0xf { (eax >> 20) & 0xff } else { 0 };
            amd && family == 0x19 && Isa::Avx512.is_supported()
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
