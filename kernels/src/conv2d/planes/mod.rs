//! Direct convolution over phase planes, for any vector width: the fast path of every
//! stride and dilation on AVX2 and NEON, and on AVX-512 of the strided layers, of the
//! stride-1 layers whose rows are short (7×7: the direct kernels of `direct.rs` round each
//! row up to 16 lanes) and of every ∂w but the first layer's (see `fast::use_direct`).
//!
//! ## Phase planes
//! A stride-σ convolution reads every σ-th padded input pixel. Split the zero-padded input
//! xpad (H + 2·pad rows, W + 2·pad columns) into its σh·σw *phase planes*,
//!   x_ab\[i, j\] = xpad\[i·σh + a, j·σw + b\],
//! each stored with the same row pitch L ≤ ⌈(W + 2·pad_w) / σw⌉ (a row's right padding is
//! the next row's left padding: see `Planes::new`). Tap (r, s) of the kernel,
//! dilated to (r·dh, s·dw), lies in phase (a, b) = (r·dh mod σh, s·dw mod σw) at the row and
//! column shift (r', s') = (r·dh div σh, s·dw div σw), so output (p, q) reads
//!   xpad\[p·σh + r·dh, q·σw + s·dw\] = x_ab\[p + r', q + s'\],
//! a stride-1 read. Number output positions on the planes' grid, f = p·L + q (q < L; lanes
//! with q ≥ Q compute values that are never kept): then every tap is one offset `off(t)`
//! into the planes and the whole convolution is a *tap-list* sum,
//!
//!   y\[k, f\] = b\[k\] + Σ_t w\[k, t\] · planes\[off(t) + f\],
//!
//! in which V consecutive outputs read V consecutive floats: one vector load per tap.
//! Stride 1 is the special case of one phase; a 1×1 stride-2 layer builds only the one
//! phase it reads.
//!
//! ## The register tile (forward)
//! MR output channels × NV vectors of positions: NV loads, MR broadcasts of w and MR·NV
//! fused multiply-adds per tap. AVX2 has 16 registers: MR = 6, NV = 2 (12 accumulators, 2
//! inputs, 1 weight; measured faster than 4 × 3, whose 16 live registers leave the compiler
//! none to spare); AVX-512 and NEON have 32: MR = 8, NV = 3 (the `*_MR`, `*_NV`
//! constants). A tile writes its vectors into a staging row of the plane grid's length,
//! and the kept columns q < Q of each row are then copied out: the grid rows need not be a
//! whole number of vectors. The vector tiles are the outer loop, the channel tiles the
//! inner one (see `tap_sum_image`).
//!
//! ## Input gradient, by output phase
//!   ∂xpad\[U\] = Σ_{(p, r) : p·σ + r·d = U} G\[p\] · w\[r\]
//! For the phase α = U mod σ of the gradient, only the taps with r·d ≡ α (mod σ) reach it,
//! at p = i − r' (U = i·σ + α): ∂xpad_α\[i\] = Σ_{r ∈ R_α} G\[i − r'\] · w\[r\], a stride-1
//! tap-list sum over G padded by the largest shift r'max in front. Each of the σh·σw phases
//! is one such sum (K input channels, C output channels, the sub-kernel of its taps); its
//! rows are scattered back to ∂x\[σ·i + α − pad\]. With σ = 1 this is the familiar
//! "convolution of G with the flipped kernel".
//!
//! ## Weight gradient
//!   ∂wᵀ\[t, k\] = Σ_n Σ_{p,q} planes_n\[off(t) + p·L + q\] · Gᵀ_n\[(p, q), k\]
//! Lanes run over the output channels k (G is transposed per image, zero-padded to whole
//! vectors), each input value is a broadcast; a register tile holds NT taps × KV vectors
//! (AVX2: 6 × 2, AVX-512 and NEON: 6 × 4). The sum over the batch runs over fixed groups of
//! [`GROUP`] images added in order, the groups' partials then in group order, so the result
//! does not depend on the thread count.
//!
//! Every path equals `reference::conv2d_*` up to the order of the sums (tests: the odd-shape
//! grid of `kernels/tests/conv2d.rs`, at 1, 4 and 8 lanes).

mod tile;

use rayon::prelude::*;

use super::fast::{bias_from_plane_sums, bias_plane_sums};
use super::Conv2dShape;
use crate::max_pool2d::Pool2dShape;
use crate::scratch::{with_cols, with_partials, with_stage, with_work};
use crate::vector::{Lanes, Scalar1, Scalar4};

/// Images per partial weight gradient.
pub const GROUP: usize = 8;

/// Floats per task when ∂w's per-group partials are added up.
const FOLD_CHUNK: usize = 4096;

/// Adds the per-group partial sums (`plen` floats each, one after another) into the first,
/// in group order, in parallel over fixed chunks of consecutive floats: the same sums on any
/// thread count. Returns the first.
pub(crate) fn fold_partials(partials: &mut [f32], plen: usize) -> &mut [f32] {
    let (sum, rest) = partials.split_at_mut(plen);
    let rest = &*rest;
    sum.par_chunks_mut(FOLD_CHUNK)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let (at, len) = (ci * FOLD_CHUNK, chunk.len());
            for part in rest.chunks_exact(plen) {
                for (s, &v) in chunk.iter_mut().zip(&part[at..at + len]) {
                    *s += v;
                }
            }
        });
    sum
}

/// Each SIMD width's register tiles, here once for the planes and for Winograd: the
/// forward tile of MR channels × NV vectors (`_MR`, `_NV`) and the ∂w tile of NT taps × KV
/// channel vectors (`_NT`, `_KV`).
/// AVX2, 16 registers: 6 × 2 forward (12 accumulators, 2 inputs, 1 weight), 6 × 2 for ∂w
/// (12 accumulators, 2 loads of Gᵀ, 1 broadcast).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_MR: usize = 6;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_NV: usize = 2;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_NT: usize = 6;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_KV: usize = 2;
/// AVX-512, 32 registers: 8 × 3 forward (24 accumulators, 3 inputs, 1 weight), 6 × 4 for
/// ∂w (24 accumulators, 4 loads of Gᵀ, 1 broadcast).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_MR: usize = 8;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_NV: usize = 3;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_NT: usize = 6;
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_KV: usize = 4;
/// NEON, 32 registers: the same tiles as AVX-512's at 4 lanes.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_MR: usize = 8;
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_NV: usize = 3;
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_NT: usize = 6;
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_KV: usize = 4;

/// Which instantiation of the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// [`Scalar1`]: one lane (tests).
    Scalar1,
    /// [`Scalar4`]: four lanes in plain Rust (tests).
    Scalar4,
    /// AVX2 + FMA, 8 lanes.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F, 16 lanes (on a CPU that also has AVX2 + FMA: Gᵀ's 8×8 transposes are
    /// AVX2's).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// NEON, 4 lanes.
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Width {
    /// The widths this CPU can run, plainest first (what tests iterate over).
    pub fn supported() -> Vec<Width> {
        #[allow(unused_mut)]
        let mut v = vec![Width::Scalar1, Width::Scalar4];
        #[cfg(target_arch = "x86_64")]
        if crate::isa::Isa::Avx2.is_supported() {
            v.push(Width::Avx2);
            if crate::isa::Isa::Avx512.is_supported() {
                v.push(Width::Avx512);
            }
        }
        #[cfg(target_arch = "aarch64")]
        if crate::isa::Isa::Neon.is_supported() {
            v.push(Width::Neon);
        }
        v
    }

    /// The SIMD width for the ISA in use, if the engine has one for it.
    pub fn for_isa(isa: crate::isa::Isa) -> Option<Width> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            crate::isa::Isa::Avx2 => Some(Width::Avx2),
            #[cfg(target_arch = "x86_64")]
            crate::isa::Isa::Avx512 if crate::isa::Isa::Avx2.is_supported() => Some(Width::Avx512),
            #[cfg(target_arch = "aarch64")]
            crate::isa::Isa::Neon => Some(Width::Neon),
            _ => None,
        }
    }

    pub(crate) fn lanes(self) -> usize {
        match self {
            Width::Scalar1 => 1,
            Width::Scalar4 => 4,
            #[cfg(target_arch = "x86_64")]
            Width::Avx2 => 8,
            #[cfg(target_arch = "x86_64")]
            Width::Avx512 => 16,
            #[cfg(target_arch = "aarch64")]
            Width::Neon => 4,
        }
    }

    /// Output channels per forward register tile.
    pub(crate) fn mr(self) -> usize {
        match self {
            #[cfg(target_arch = "x86_64")]
            Width::Avx2 => AVX2_MR,
            #[cfg(target_arch = "x86_64")]
            Width::Avx512 => AVX512_MR,
            #[cfg(target_arch = "aarch64")]
            Width::Neon => NEON_MR,
            _ => 4,
        }
    }
}

/// The geometry of a tap-list sum: `k` output channels on a grid of `rows` × `pitch`
/// positions (columns `cols..pitch` of each row are not kept), over a source of `src_len`
/// floats that every tap offset plus every position stays inside.
#[derive(Clone, Debug)]
pub(crate) struct TapSum {
    /// The source offset of each tap, in the packed weights' order.
    pub(crate) taps: Vec<usize>,
    /// Output channels.
    pub(crate) k: usize,
    /// Grid rows.
    pub(crate) rows: usize,
    /// Kept columns per row.
    pub(crate) cols: usize,
    /// Grid row pitch.
    pub(crate) pitch: usize,
}

impl TapSum {
    /// Vectors of `lanes` covering the grid.
    pub(crate) fn nvec(&self, lanes: usize) -> usize {
        (self.rows * self.pitch).div_ceil(lanes)
    }

    /// Floats of staging [`tap_sum_image`] needs: a grid row of vectors for each channel,
    /// the channels rounded up to whole tiles of `mr`.
    pub(crate) fn stage_len(&self, lanes: usize, mr: usize) -> usize {
        self.k.div_ceil(mr) * mr * self.nvec(lanes) * lanes
    }
}

/// The phase planes of one convolution's padded input.
#[derive(Clone, Debug)]
struct Planes {
    /// Row pitch L.
    pitch: usize,
    /// Rows per plane.
    rows: usize,
    /// Floats per plane.
    plane: usize,
    /// The phases (a, b) stored, in order; each channel stores them all.
    phases: Vec<(usize, usize)>,
    /// Floats of zeros after the last plane, so the garbage lanes of the last vectors and
    /// the last taps' reads stay inside the buffer.
    slack: usize,
}

impl Planes {
    /// The phases and the layout the taps of `sh` need, for vectors of `lanes`.
    fn new(sh: &Conv2dShape, lanes: usize) -> Planes {
        let (hp, wp) = (sh.h + 2 * sh.padding[0], sh.w + 2 * sh.padding[1]);
        let (st, dw) = (sh.stride[1], sh.dilation[1]);
        let full = wp.div_ceil(st);
        let rows = hp.div_ceil(sh.stride[0]);
        let mut phases = Vec::new();
        for r in 0..sh.r {
            for s in 0..sh.s {
                let ph = ((r * sh.dilation[0]) % sh.stride[0], (s * dw) % st);
                if !phases.contains(&ph) {
                    phases.push(ph);
                }
            }
        }
        phases.sort_unstable();
        // Shared padding: a row's right padding is the next row's left padding. Column j of
        // phase b holds image data for j in lo_b..hi_b and zeros elsewhere, so a read past
        // the row's end at column L + e lands on a zero of the next row while e < lo_b. Tap
        // s (phase b, shift s') reads columns s'..Q − 1 + s', hence the pitch
        //   L = max(Q, max_b hi_b, max_s (Q + s' − lo_b))   ≤ ⌈(W + 2·pad) / σ⌉,
        // and a plane ends with the largest spill, max_s (Q + s' − L), of zeros (its next
        // row belongs to another plane). With 3×3, pad 1, stride 1 the pitch is W + 1
        // instead of W + 2: fewer grid columns that are computed and never kept.
        let q = sh.out_w();
        let col_range = |b: usize| index_range(b, st, sh.padding[1], sh.w, full);
        let mut pitch = q.max(1);
        for &(_, b) in &phases {
            pitch = pitch.max(col_range(b).end);
        }
        for s in 0..sh.s {
            let (b, shift) = ((s * dw) % st, (s * dw) / st);
            pitch = pitch.max((q + shift).saturating_sub(col_range(b).start));
        }
        let spill = (0..sh.s)
            .map(|s| (q + (s * dw) / st).saturating_sub(pitch))
            .max()
            .unwrap_or(0);
        Planes {
            pitch,
            rows,
            plane: rows * pitch + spill,
            phases,
            slack: pitch + 2 * lanes,
        }
    }

    fn len(&self, channels: usize) -> usize {
        channels * self.phases.len() * self.plane + self.slack
    }

    /// Where plane (c, phase) starts.
    fn base(&self, c: usize, phase: (usize, usize)) -> usize {
        let i = self
            .phases
            .iter()
            .position(|&p| p == phase)
            .expect("a stored phase");
        (c * self.phases.len() + i) * self.plane
    }

    /// Fills `dst` with the phase planes of one image x [C, H, W].
    fn fill(&self, dst: &mut [f32], x: &[f32], sh: &Conv2dShape) {
        dst.fill(0.0);
        let (st, pad) = (sh.stride, sh.padding);
        for &(a, b) in &self.phases {
            // Plane column j holds input column j·σw + b − pad: the range of j inside the
            // image, and its first input column.
            let cols = index_range(b, st[1], pad[1], sh.w, self.pitch);
            let rows = index_range(a, st[0], pad[0], sh.h, self.rows);
            if cols.is_empty() {
                continue;
            }
            let first_col = cols.start * st[1] + b - pad[1];
            for c in 0..sh.c {
                let base = self.base(c, (a, b));
                for i in rows.clone() {
                    let u = i * st[0] + a - pad[0];
                    let src = &x[(c * sh.h + u) * sh.w..(c * sh.h + u + 1) * sh.w];
                    let row = &mut dst
                        [base + i * self.pitch + cols.start..base + i * self.pitch + cols.end];
                    if st[1] == 1 {
                        row.copy_from_slice(&src[first_col..first_col + row.len()]);
                    } else {
                        gather_strided(row, &src[first_col..], st[1]);
                    }
                }
            }
        }
    }

    /// The forward pass's tap offsets, t = (c·R + r)·S + s.
    fn forward_taps(&self, sh: &Conv2dShape) -> Vec<usize> {
        let mut taps = Vec::with_capacity(sh.c * sh.r * sh.s);
        for c in 0..sh.c {
            for r in 0..sh.r {
                for s in 0..sh.s {
                    let (vr, vs) = (r * sh.dilation[0], s * sh.dilation[1]);
                    let phase = (vr % sh.stride[0], vs % sh.stride[1]);
                    let shift = (vr / sh.stride[0]) * self.pitch + vs / sh.stride[1];
                    taps.push(self.base(c, phase) + shift);
                }
            }
        }
        taps
    }
}

/// dst\[k\] = src\[k·stride\] for every k < dst.len(): one phase's columns of an input row.
/// Stride 2 (every strided layer of the deeper nets) goes by pairs of a constant stride,
/// which the compiler turns into vector shuffles; the runtime-stride loop stays scalar, and
/// at a 3×3 stride-2 layer's 16 input channels it took a third of the layer's time.
fn gather_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    let Some(last) = dst.len().checked_sub(1) else {
        return;
    };
    if stride == 2 {
        for (d, pair) in dst[..last].iter_mut().zip(src.chunks_exact(2)) {
            *d = pair[0];
        }
        dst[last] = src[2 * last];
    } else {
        for (k, d) in dst.iter_mut().enumerate() {
            *d = src[k * stride];
        }
    }
}

/// dst\[k·stride\] = src\[k\] for every k < src.len(): one phase's columns of ∂x written
/// back into a row (the inverse of [`gather_strided`], by pairs at stride 2 the same way).
fn scatter_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    let Some(last) = src.len().checked_sub(1) else {
        return;
    };
    if stride == 2 {
        for (pair, &v) in dst.chunks_exact_mut(2).zip(&src[..last]) {
            pair[0] = v;
        }
        dst[2 * last] = src[last];
    } else {
        for (k, &v) in src.iter().enumerate() {
            dst[k * stride] = v;
        }
    }
}

/// The indices i < `count` whose image coordinate i·stride + phase − pad lies in 0..len.
fn index_range(
    phase: usize,
    stride: usize,
    pad: usize,
    len: usize,
    count: usize,
) -> std::ops::Range<usize> {
    // i·stride + phase ≥ pad  ⇔  i ≥ ⌈(pad − phase) / stride⌉;  i·stride + phase < pad + len.
    let lo = pad.saturating_sub(phase).div_ceil(stride);
    let hi = (pad + len)
        .saturating_sub(phase)
        .div_ceil(stride)
        .min(count);
    lo.min(hi)..hi
}

/// The vectors of `lanes` the forward tiles of `sh` cover per output channel: the output
/// rows on the planes' pitch (what `fast` weighs against the AVX-512 direct kernels' grid).
#[cfg(target_arch = "x86_64")]
pub(crate) fn forward_vectors(sh: &Conv2dShape, lanes: usize) -> usize {
    (sh.out_h() * Planes::new(sh, lanes).pitch).div_ceil(lanes)
}

/// Whether the engine handles `sh`: every valid convolution (the checks of
/// `Conv2dShape::validate` are the callers').
pub fn applies(sh: &Conv2dShape) -> bool {
    sh.validate().is_ok() && sh.output_len() > 0
}

/// Weights w \[K, C, R, S\] packed for the forward tiles: \[⌈K/MR⌉\]\[C·R·S\]\[MR\], zero
/// beyond K.
pub(crate) fn pack_forward(w: &[f32], sh: &Conv2dShape, mr: usize) -> Vec<f32> {
    let taps = sh.c * sh.r * sh.s;
    let tiles = sh.k.div_ceil(mr);
    let mut wp = vec![0.0f32; tiles * taps * mr];
    for k in 0..sh.k {
        for t in 0..taps {
            wp[((k / mr) * taps + t) * mr + k % mr] = w[k * taps + t];
        }
    }
    wp
}

/// Runs one image's tap-list sum: every tile of MR channels × NV vectors into the staging
/// rows (channel k's row at `stage[k·sp..]`), then `emit(k, stage_row)` for each channel k.
///
/// The vector tiles are the outer loop and the channel tiles the inner one: the few source
/// lines one vector tile reads (its NV vectors at every tap) stay in L1 while the packed
/// weights stream past them in order, instead of the whole source streaming from L2 once
/// per channel tile. The order of each output's sum (over taps, in order) is the same
/// either way.
///
/// # Safety
/// The CPU runs `L`; `src` holds every tap offset + the grid's vectors (the `Planes`
/// slack); `wp` is packed for `ts.taps.len()` taps and MR; `stage` holds
/// [`TapSum::stage_len`] floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn tap_sum_image<L: Lanes, const MR: usize, const NV: usize>(
    src: &[f32],
    wp: &[f32],
    bias: Option<&[f32]>,
    ts: &TapSum,
    stage: &mut [f32],
    mut emit: impl FnMut(usize, &[f32]),
) {
    let nvec = ts.nvec(L::LANES);
    let sp = nvec * L::LANES;
    let taps = ts.taps.len();
    let tiles = ts.k.div_ceil(MR);
    debug_assert!(stage.len() >= tiles * MR * sp);
    let tile_bias = |k0: usize| {
        let mut b = [0.0f32; MR];
        if let Some(bias) = bias {
            for (i, v) in b.iter_mut().enumerate() {
                if k0 + i < ts.k {
                    *v = bias[k0 + i];
                }
            }
        }
        b
    };
    let mut v0 = 0;
    while v0 < nvec {
        let nv = NV.min(nvec - v0);
        for kt in 0..tiles {
            let b = tile_bias(kt * MR);
            let w_tile = &wp[kt * taps * MR..(kt + 1) * taps * MR];
            let st = &mut stage[kt * MR * sp..(kt + 1) * MR * sp];
            // The last tile of a layer whose channels are not a multiple of MR computes
            // only the rows it needs, rounded up to 2 or 4 (K = 32 or 64 with MR = 6
            // leaves 2 or 4): no multiply-adds for channels that do not exist.
            let rows = match MR.min(ts.k - kt * MR) {
                r if r == MR => MR,
                1 | 2 => 2,
                3 | 4 => 4,
                _ => MR,
            };
            macro_rules! go {
                ($mr:expr) => {
                    // SAFETY: forwarded; the call covers vectors v0..v0 + nv ≤ nvec and
                    // $mr ≤ MR rows of the tile's MR-strided weights.
                    unsafe {
                        match nv {
                            n if n == NV => tile::forward::<L, { $mr }, NV>(
                                st, sp, src, &ts.taps, w_tile, MR, &b, v0,
                            ),
                            1 => tile::forward::<L, { $mr }, 1>(
                                st, sp, src, &ts.taps, w_tile, MR, &b, v0,
                            ),
                            2 => tile::forward::<L, { $mr }, 2>(
                                st, sp, src, &ts.taps, w_tile, MR, &b, v0,
                            ),
                            _ => unreachable!("NV ≤ 3"),
                        }
                    }
                };
            }
            match rows {
                2 if MR > 2 => go!(2),
                4 if MR > 4 => go!(4),
                _ => go!(MR),
            }
        }
        v0 += nv;
    }
    for k in 0..ts.k {
        emit(k, &stage[k * sp..(k + 1) * sp]);
    }
}

/// Dispatches a generic image function to the instantiation of `width`.
macro_rules! by_width {
    ($width:expr, $f:ident ( $($arg:expr),* )) => {
        match $width {
            // SAFETY (each arm): the caller's contract; Scalar widths need no CPU feature.
            Width::Scalar1 => unsafe { image::$f::<Scalar1, 4, 3>($($arg),*) },
            Width::Scalar4 => unsafe { image::$f::<Scalar4, 4, 3>($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Width::Avx2` is only chosen where `Isa::Avx2.is_supported()`.
            Width::Avx2 => unsafe { avx2::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Width::Avx512` is only chosen where AVX-512F (and AVX2) are.
            Width::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `Width::Neon` is only chosen where NEON is supported.
            Width::Neon => unsafe { neon::$f($($arg),*) },
        }
    };
}

/// The per-image steps, generic over the vector width.
///
/// # Safety (every function)
/// The CPU runs `L`; the buffers have the lengths the public functions checked.
pub(crate) mod image {
    use super::*;

    /// Forward of one image: y_n [K, P, Q].
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn forward<L: Lanes, const MR: usize, const NV: usize>(
        y_n: &mut [f32],
        planes: &[f32],
        wp: &[f32],
        bias: Option<&[f32]>,
        ts: &TapSum,
        stage: &mut [f32],
    ) {
        let pq = ts.rows * ts.cols;
        // SAFETY: forwarded.
        unsafe {
            tap_sum_image::<L, MR, NV>(planes, wp, bias, ts, stage, |k, row| {
                let y_k = &mut y_n[k * pq..(k + 1) * pq];
                for (p, out) in y_k.chunks_exact_mut(ts.cols.max(1)).enumerate() {
                    out.copy_from_slice(&row[p * ts.pitch..p * ts.pitch + ts.cols]);
                }
            })
        }
    }

    /// One output phase of the input gradient: the sum over G's planes, its grid row i and
    /// column j scattered into ∂x_n [C, H, W] at (i + i0)·σh + a − pad, (j + j0)·σw + b − pad.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn input_phase<L: Lanes, const MR: usize, const NV: usize>(
        dx_n: &mut [f32],
        gpad: &[f32],
        wp: &[f32],
        ts: &TapSum,
        phase: (usize, usize),
        first: (usize, usize),
        sh: &Conv2dShape,
        stage: &mut [f32],
    ) {
        let hw = sh.h * sh.w;
        let u0 = first.0 * sh.stride[0] + phase.0 - sh.padding[0];
        let v0 = first.1 * sh.stride[1] + phase.1 - sh.padding[1];
        // SAFETY: forwarded.
        unsafe {
            tap_sum_image::<L, MR, NV>(gpad, wp, None, ts, stage, |c, row| {
                let dx_c = &mut dx_n[c * hw..(c + 1) * hw];
                for i in 0..ts.rows {
                    let u = u0 + i * sh.stride[0];
                    let src = &row[i * ts.pitch..i * ts.pitch + ts.cols];
                    let dst = &mut dx_c[u * sh.w..(u + 1) * sh.w];
                    if sh.stride[1] == 1 {
                        dst[v0..v0 + ts.cols].copy_from_slice(src);
                    } else {
                        scatter_strided(&mut dst[v0..], src, sh.stride[1]);
                    }
                }
            })
        }
    }

    /// Adds one image's ∂wᵀ [taps][kpad] into `dwt`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn weight<L: Lanes, const NT: usize, const KV: usize>(
        dwt: &mut [f32],
        gt: &[f32],
        planes: &[f32],
        taps: &[usize],
        kpad: usize,
        p: usize,
        q: usize,
        pitch: usize,
    ) {
        let kvs = kpad / L::LANES;
        // Blocks of whole output rows, up to about 200 positions each (a whole 14×14
        // image): each tile's accumulators are loaded and stored once per block, and the
        // block of Gᵀ streams from L2 in order. (Blocks of 64 positions that keep Gᵀ in L1
        // measured 10–20% slower: the accumulators' round trips cost more than L2's reads.)
        let rows = (200 / q.max(1)).max(1);
        for p0 in (0..p).step_by(rows) {
            let p1 = (p0 + rows).min(p);
            for t0 in (0..taps.len()).step_by(NT) {
                for kv0 in (0..kvs).step_by(KV) {
                    let (nt, kv) = (NT.min(taps.len() - t0), KV.min(kvs - kv0));
                    // SAFETY: forwarded; the tile's taps, vectors and rows are in range.
                    unsafe {
                        tile::weight_dyn::<L, NT, KV>(
                            dwt, gt, planes, taps, kpad, t0, nt, kv0, kv, p0, p1, q, pitch,
                        )
                    };
                }
            }
        }
    }
}

/// One SIMD width's `#[target_feature]` instantiations of the per-image steps, at the
/// width's tiles (the constants above): `$module::{forward, input_phase, weight}`.
macro_rules! width_steps {
    ($module:ident, $feature:literal, $lanes:ident, $mr:ident, $nv:ident, $nt:ident, $kv:ident) => {
        mod $module {
            use super::*;
            use crate::vector::$lanes;

            #[target_feature(enable = $feature)]
            pub(super) unsafe fn forward(
                y_n: &mut [f32],
                planes: &[f32],
                wp: &[f32],
                bias: Option<&[f32]>,
                ts: &TapSum,
                stage: &mut [f32],
            ) {
                // SAFETY: the width's features are enabled here; the rest is the caller's
                // contract.
                unsafe { image::forward::<$lanes, $mr, $nv>(y_n, planes, wp, bias, ts, stage) }
            }

            #[target_feature(enable = $feature)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn input_phase(
                dx_n: &mut [f32],
                gpad: &[f32],
                wp: &[f32],
                ts: &TapSum,
                phase: (usize, usize),
                first: (usize, usize),
                sh: &Conv2dShape,
                stage: &mut [f32],
            ) {
                // SAFETY: as above.
                unsafe {
                    image::input_phase::<$lanes, $mr, $nv>(
                        dx_n, gpad, wp, ts, phase, first, sh, stage,
                    )
                }
            }

            #[target_feature(enable = $feature)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn weight(
                dwt: &mut [f32],
                gt: &[f32],
                planes: &[f32],
                taps: &[usize],
                kpad: usize,
                p: usize,
                q: usize,
                pitch: usize,
            ) {
                // SAFETY: as above.
                unsafe {
                    image::weight::<$lanes, $nt, $kv>(dwt, gt, planes, taps, kpad, p, q, pitch)
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
width_steps!(avx2, "avx2,fma", Avx2, AVX2_MR, AVX2_NV, AVX2_NT, AVX2_KV);
#[cfg(target_arch = "x86_64")]
width_steps!(avx512, "avx512f", Avx512, AVX512_MR, AVX512_NV, AVX512_NT, AVX512_KV);
#[cfg(target_arch = "aarch64")]
width_steps!(neon, "neon", Neon, NEON_MR, NEON_NV, NEON_NT, NEON_KV);

/// dst\[j·dst_stride + i\] = src\[i·src_stride + j\] for i, j < 8: AVX2's 8×8 transpose in
/// registers ([`Lanes::transpose_block`]).
///
/// # Safety
/// The CPU has AVX2; the 8 rows of 8 floats at both addresses are valid.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose8_avx2(dst: *mut f32, dst_stride: usize, src: *const f32, src_stride: usize) {
    // SAFETY: AVX2 is enabled here; the blocks are the caller's contract.
    unsafe { crate::vector::Avx2::transpose_block(dst, dst_stride, src, src_stride) }
}

/// The weight tile's shape for the scalar widths (NT, KV).
macro_rules! by_width_weight {
    ($width:expr, ( $($arg:expr),* )) => {
        match $width {
            // SAFETY (each arm): as in `by_width!`.
            Width::Scalar1 => unsafe { image::weight::<Scalar1, 6, 2>($($arg),*) },
            Width::Scalar4 => unsafe { image::weight::<Scalar4, 6, 2>($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Width::Avx2` is only chosen where AVX2 is supported.
            Width::Avx2 => unsafe { avx2::weight($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Width::Avx512` is only chosen where AVX-512F is supported.
            Width::Avx512 => unsafe { avx512::weight($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `Width::Neon` is only chosen where NEON is supported.
            Width::Neon => unsafe { neon::weight($($arg),*) },
        }
    };
}

/// What the forward pass of one shape needs for every image: the planes' layout, the tap
/// list, the packed weights and the scratch sizes.
struct ForwardPlan {
    planes: Planes,
    ts: TapSum,
    wp: Vec<f32>,
    /// Floats of the planes buffer and of the staging rows.
    plen: usize,
    slen: usize,
}

impl ForwardPlan {
    fn new(width: Width, w: &[f32], sh: &Conv2dShape) -> ForwardPlan {
        let lanes = width.lanes();
        let planes = Planes::new(sh, lanes);
        let ts = TapSum {
            taps: planes.forward_taps(sh),
            k: sh.k,
            rows: sh.out_h(),
            cols: sh.out_w(),
            pitch: planes.pitch,
        };
        let (plen, slen) = (planes.len(sh.c), ts.stage_len(lanes, width.mr()));
        ForwardPlan {
            wp: pack_forward(w, sh, width.mr()),
            planes,
            ts,
            plen,
            slen,
        }
    }

    /// y_n [K, P, Q] of one image x_n [C, H, W].
    fn image(
        &self,
        width: Width,
        y_n: &mut [f32],
        x_n: &[f32],
        bias: Option<&[f32]>,
        sh: &Conv2dShape,
    ) {
        with_cols(self.plen, |buf| {
            self.planes.fill(buf, x_n, sh);
            with_stage(self.slen, |stage| {
                by_width!(width, forward(y_n, buf, &self.wp, bias, &self.ts, stage))
            })
        })
    }
}

/// y = conv2d(x, w) + b over the batch, one image per rayon task.
pub fn forward(
    width: Width,
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
) {
    let none = rayon::iter::repeat_n((), sh.n);
    forward_then(width, out, x, w, bias, sh, none, |_, _| {})
}

/// [`forward`], then `then(o, y_n)` on each image's output just written (while it is in
/// cache; `then` may rewrite it), `outs` yielding one `o` per image.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_then<O: Send>(
    width: Width,
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    outs: impl IndexedParallelIterator<Item = O>,
    then: impl Fn(O, &mut [f32]) + Sync + Send,
) {
    let (in_len, out_len) = (sh.c * sh.h * sh.w, sh.output_len() / sh.n.max(1));
    if sh.n == 0 || out_len == 0 {
        return;
    }
    let plan = ForwardPlan::new(width, w, sh);
    out.par_chunks_mut(out_len)
        .zip(x.par_chunks(in_len.max(1)))
        .zip(outs)
        .for_each(|((y_n, x_n), o)| {
            plan.image(width, y_n, x_n, bias, sh);
            then(o, y_n)
        });
}

/// [`forward`] with each image's output y_n [K, P, Q] handed to `then(out, y_n)` from a
/// per-thread buffer instead of written to a batch tensor, `outs` yielding one `out` per
/// image: the fused convolution → max-pool pools it there, so the full-size output never
/// goes to memory. The same values as [`forward`], bit for bit.
pub(crate) fn forward_each<O: Send>(
    width: Width,
    outs: impl IndexedParallelIterator<Item = O>,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    sh: &Conv2dShape,
    then: impl Fn(O, &[f32]) + Sync + Send,
) {
    let (in_len, out_len) = (sh.c * sh.h * sh.w, sh.output_len() / sh.n.max(1));
    if sh.n == 0 || out_len == 0 {
        return;
    }
    let plan = ForwardPlan::new(width, w, sh);
    outs.zip(x.par_chunks(in_len.max(1))).for_each(|(o, x_n)| {
        with_work(out_len, |y_n| {
            plan.image(width, y_n, x_n, bias, sh);
            then(o, y_n)
        })
    });
}

/// A phase (a, b) with its rows and columns inside the image.
type PhaseRanges = (
    (usize, usize),
    std::ops::Range<usize>,
    std::ops::Range<usize>,
);

/// One output phase (a, b) of the input gradient: its tap-list sum over G's planes, its
/// packed weights, and where its grid starts among the phase's rows and columns.
struct InputPhase {
    phase: (usize, usize),
    sum: TapSum,
    weights: Vec<f32>,
    /// The first phase row and column that land inside the image (the grid covers only
    /// those: ∂x of the padding is never computed).
    first: (usize, usize),
}

/// ∂x from G (overwrites `d_x`), one image per rayon task, each output phase in turn.
///
/// G is stored in one zero-bordered plane per channel, Gpad\[i, j\] = G\[i − oy, j − ox\],
/// the border as wide as the largest tap shift needs beyond the first row and column
/// computed. Phase (a, b)'s grid position (i, j) is phase row i + i0, column j + j0, and its
/// tap (k, r, s) with shifts (r', s') reads Gpad\[i + i0 + oy − r', j + j0 + ox − s'\].
pub fn backward_input(width: Width, d_x: &mut [f32], g: &[f32], w: &[f32], sh: &Conv2dShape) {
    let lanes = width.lanes();
    let (p, q) = (sh.out_h(), sh.out_w());
    let (hp, wpad) = (sh.h + 2 * sh.padding[0], sh.w + 2 * sh.padding[1]);
    let (st, dil) = (sh.stride, sh.dilation);
    let shift = ((sh.r - 1) * dil[0] / st[0], (sh.s - 1) * dil[1] / st[1]);
    // Each phase's rows and columns inside the image.
    let ranges: Vec<PhaseRanges> = (0..st[0])
        .flat_map(|a| (0..st[1]).map(move |b| (a, b)))
        .map(|(a, b)| {
            let rows = index_range(a, st[0], sh.padding[0], sh.h, (hp - a).div_ceil(st[0]));
            let cols = index_range(b, st[1], sh.padding[1], sh.w, (wpad - b).div_ceil(st[1]));
            ((a, b), rows, cols)
        })
        .collect();
    let oy = ranges
        .iter()
        .map(|(_, r, _)| shift.0.saturating_sub(r.start))
        .max()
        .unwrap_or(0);
    let ox = ranges
        .iter()
        .map(|(_, _, c)| shift.1.saturating_sub(c.start))
        .max()
        .unwrap_or(0);
    // Shared padding, as in `Planes::new`: G sits at columns ox..ox + Q of each row, so a
    // read past a row's end lands on the next row's ox leading zeros. Phase b reads columns
    // up to c_b.end − 1 + ox, hence the pitch max(ox + Q, max_b c_b.end) and up to
    // max_b (c_b.end + ox − L) zeros after each plane.
    let pitch = ranges
        .iter()
        .map(|(_, _, c)| c.end.max(c.len()))
        .max()
        .unwrap_or(0)
        .max(ox + q);
    let spill = ranges
        .iter()
        .map(|(_, _, c)| (c.end + ox).saturating_sub(pitch))
        .max()
        .unwrap_or(0);
    let grows = ranges
        .iter()
        .map(|(_, r, _)| r.end + oy)
        .max()
        .unwrap_or(0)
        .max(oy + p);
    let plane = grows * pitch + spill;
    let glen = sh.k * plane + pitch + 2 * lanes;
    let mr = width.mr();
    let phases: Vec<InputPhase> = ranges
        .into_iter()
        .map(|(phase, rows, cols)| {
            // The taps that reach this phase: r·d ≡ a (mod σ) and s·d ≡ b.
            let mut list = Vec::new();
            for k in 0..sh.k {
                for r in 0..sh.r {
                    for s in 0..sh.s {
                        let (vr, vs) = (r * dil[0], s * dil[1]);
                        if vr % st[0] == phase.0 && vs % st[1] == phase.1 {
                            list.push((k, r, s));
                        }
                    }
                }
            }
            let taps = list
                .iter()
                .map(|&(k, r, s)| {
                    let (sr, ss) = (r * dil[0] / st[0], s * dil[1] / st[1]);
                    k * plane + (rows.start + oy - sr) * pitch + (cols.start + ox - ss)
                })
                .collect();
            let n_taps = list.len();
            let mut weights = vec![0.0f32; sh.c.div_ceil(mr) * n_taps.max(1) * mr];
            for c in 0..sh.c {
                for (t, &(k, r, s)) in list.iter().enumerate() {
                    weights[((c / mr) * n_taps + t) * mr + c % mr] =
                        w[((k * sh.c + c) * sh.r + r) * sh.s + s];
                }
            }
            InputPhase {
                phase,
                sum: TapSum {
                    taps,
                    k: sh.c,
                    rows: rows.len(),
                    cols: cols.len(),
                    pitch,
                },
                weights,
                first: (rows.start, cols.start),
            }
        })
        .collect();
    let (hw, kpq) = (sh.h * sh.w, sh.k * p * q);
    if sh.n == 0 || hw * sh.c == 0 {
        return;
    }
    let slen = phases
        .iter()
        .map(|ph| ph.sum.stage_len(lanes, mr))
        .max()
        .unwrap_or(0);
    // A phase no tap reaches (a stride larger than the kernel) gets no gradient.
    let some_empty = phases
        .iter()
        .any(|ph| ph.sum.taps.is_empty() && ph.sum.rows * ph.sum.cols > 0);
    d_x.par_chunks_mut(sh.c * hw)
        .zip(g.par_chunks(kpq.max(1)))
        .for_each(|(dx_n, g_n)| {
            with_cols(glen, |gpad| {
                gpad.fill(0.0);
                for k in 0..sh.k {
                    for i in 0..p {
                        let dst = k * plane + (i + oy) * pitch + ox;
                        gpad[dst..dst + q]
                            .copy_from_slice(&g_n[(k * p + i) * q..(k * p + i + 1) * q]);
                    }
                }
                if some_empty {
                    dx_n.fill(0.0);
                }
                with_stage(slen, |stage| {
                    for ph in &phases {
                        if ph.sum.taps.is_empty() || ph.sum.rows * ph.sum.cols == 0 {
                            continue;
                        }
                        let (sum, wp, phase, first) = (&ph.sum, &ph.weights, ph.phase, ph.first);
                        by_width!(
                            width,
                            input_phase(dx_n, gpad, wp, sum, phase, first, sh, stage)
                        );
                    }
                })
            })
        });
}

/// ∂w from G and x (overwrites `d_w`): fixed groups of [`GROUP`] images, one partial ∂wᵀ
/// each, the partials added in group order.
pub fn backward_weight(width: Width, d_w: &mut [f32], g: &[f32], x: &[f32], sh: &Conv2dShape) {
    backward_weight_bias(width, d_w, None, g, x, sh)
}

/// [`backward_weight`], and with `d_b` the bias gradient in the same pass over G:
///   ∂b\[k\] = Σ_n Σ_{p,q} G\[n, k, p, q\]
/// each image's plane sums taken right after its Gᵀ is built (G then comes from cache, not
/// memory), by the two steps of `fast::conv2d_backward_bias` itself: the same bits.
pub fn backward_weight_bias(
    width: Width,
    d_w: &mut [f32],
    d_b: Option<&mut [f32]>,
    g: &[f32],
    x: &[f32],
    sh: &Conv2dShape,
) {
    weight_bias_from(width, d_w, d_b, GradImages::Full(g), x, sh)
}

/// Where [`weight_bias_from`] reads each image's G.
#[derive(Clone, Copy)]
pub(crate) enum GradImages<'a> {
    /// G itself, \[N, K, P, Q\].
    Full(&'a [f32]),
    /// G of a 2×2 max-pool's input (`pool` one plane's shape), routed image by image from
    /// the pooled gradient and the pool's argmax into this thread's scratch by max pooling's
    /// own plane kernel: the values the full G would hold, read from cache instead of memory.
    /// With `batch_norm` = (y, coef), batch norm sat between the convolution and the pool
    /// (the seed CNN's block; y the convolution's output): each routed plane then becomes
    /// batch norm's input gradient A·G + B·y + C (`coef` per channel, from
    /// `batch_norm::pool::batch_norm_max_pool2d_backward_coefficients`) by batch norm's own
    /// plane function, the values batch norm's backward would write at full size.
    Pooled {
        g: &'a [f32],
        argmax: &'a [u32],
        pool: &'a Pool2dShape,
        batch_norm: Option<(&'a [f32], &'a [[f32; 3]])>,
    },
}

impl<'a> GradImages<'a> {
    /// The floats of scratch [`GradImages::image`] needs for an image of `len` floats.
    pub(crate) fn scratch_len(&self, len: usize) -> usize {
        match self {
            GradImages::Full(_) => 0,
            GradImages::Pooled { .. } => len,
        }
    }

    /// Image n of `len` = K·P·Q floats: a slice of G, or G formed in `own` (at least
    /// [`GradImages::scratch_len`] floats) by [`GradImages::write`].
    pub(crate) fn image<'s>(
        &self,
        n: usize,
        len: usize,
        level: crate::isa::Isa,
        own: &'s mut [f32],
    ) -> &'s [f32]
    where
        'a: 's,
    {
        match *self {
            GradImages::Full(g) => &g[n * len..(n + 1) * len],
            GradImages::Pooled { .. } => {
                self.write(n, &mut own[..len], level);
                &own[..len]
            }
        }
    }

    /// Writes image n of G into `out` (K·P·Q floats), one of the K planes at a time, by the
    /// plane kernels of the ops that G comes back through, at SIMD level `level` (the
    /// level those ops run at, so the same bits).
    pub(crate) fn write(&self, n: usize, out: &mut [f32], level: crate::isa::Isa) {
        match *self {
            GradImages::Full(g) => out.copy_from_slice(&g[n * out.len()..(n + 1) * out.len()]),
            GradImages::Pooled {
                g,
                argmax,
                pool,
                batch_norm,
            } => {
                let (plane, pooled) = (pool.h * pool.w, pool.out_h() * pool.out_w());
                let k = out.len() / plane.max(1);
                for (ki, g_k) in out.chunks_exact_mut(plane.max(1)).enumerate() {
                    let (o, f) = ((n * k + ki) * pooled, (n * k + ki) * plane);
                    let (g_o, a_o) = (&g[o..o + pooled], &argmax[o..o + pooled]);
                    match batch_norm {
                        None => crate::max_pool2d::fast::backward_plane(level, g_k, g_o, a_o, pool),
                        Some((y, coef)) => crate::batch_norm::pool::input_grad_plane(
                            level,
                            g_k,
                            g_o,
                            a_o,
                            &y[f..f + plane],
                            coef[ki],
                            pool,
                        ),
                    }
                }
            }
        }
    }
}

/// [`backward_weight_bias`] with G from `source`: the same operations in the same order
/// whichever it is, so the same bits.
pub(crate) fn weight_bias_from(
    width: Width,
    d_w: &mut [f32],
    d_b: Option<&mut [f32]>,
    source: GradImages<'_>,
    x: &[f32],
    sh: &Conv2dShape,
) {
    let lanes = width.lanes();
    let planes = Planes::new(sh, lanes);
    let taps = planes.forward_taps(sh);
    let (p, q) = (sh.out_h(), sh.out_w());
    let kpad = sh.k.div_ceil(lanes) * lanes;
    let nt = taps.len();
    let plen = nt * kpad;
    let (chw, kpq) = (sh.c * sh.h * sh.w, sh.k * p * q);
    let groups = sh.n.div_ceil(GROUP);
    if groups == 0 || plen == 0 || p * q == 0 {
        d_w.fill(0.0);
        if let Some(d_b) = d_b {
            d_b.fill(0.0);
        }
        return;
    }
    let (xlen, gtlen) = (planes.len(sh.c), p * q * kpad);
    let glen = source.scratch_len(kpq);
    let level = crate::simd::usable(crate::isa::isa());
    // Each image's K plane sums of G (∂b's first step), taken only when ∂b is wanted.
    let want_bias = d_b.is_some();
    let mut plane_sums = vec![0.0f32; sh.n * sh.k];
    with_partials(groups * plen, |partials| {
        partials
            .par_chunks_mut(plen)
            .zip(plane_sums.par_chunks_mut(GROUP * sh.k))
            .enumerate()
            .for_each(|(gi, (part, sums))| {
                part.fill(0.0);
                let (first, last) = (gi * GROUP, ((gi + 1) * GROUP).min(sh.n));
                with_cols(xlen + gtlen + glen, |scratch| {
                    let (xp, rest) = scratch.split_at_mut(xlen);
                    let (gt, g_own) = rest.split_at_mut(gtlen);
                    for n in first..last {
                        let g_n = source.image(n, kpq, level, g_own);
                        planes.fill(xp, &x[n * chw..(n + 1) * chw], sh);
                        transpose(width, gt, g_n, sh.k, p * q, kpad);
                        if want_bias {
                            let sums_n = &mut sums[(n - first) * sh.k..(n - first + 1) * sh.k];
                            bias_plane_sums(sums_n, g_n, p * q);
                        }
                        by_width_weight!(width, (part, gt, xp, &taps, kpad, p, q, planes.pitch));
                    }
                })
            });
        // Σ of the partials in group order, into the first: ∂wᵀ[i] = Σ_g ∂wᵀ_g[i], by fixed
        // chunks of consecutive floats (any thread may add any chunk, the same sums in the
        // same order), then read transposed: ∂w[k][t] = ∂wᵀ[t][k].
        let sum = fold_partials(partials, plen);
        for (k, row) in d_w.chunks_exact_mut(nt).enumerate() {
            for (t, v) in row.iter_mut().enumerate() {
                *v = sum[t * kpad + k];
            }
        }
    });
    if let Some(d_b) = d_b {
        bias_from_plane_sums(d_b, &plane_sums);
    }
}

/// Gᵀ of one image: gt\[f\]\[k\] = G\[k, f\] for f < P·Q, zero for k ≥ K.
///
/// By blocks of 8 channels × 8 positions: each block reads 8 runs of G and writes 8 runs
/// of Gᵀ, so neither side is touched one float per cache line, and the 8 channels of a
/// block row are read front to back (8 sequential streams that the hardware prefetcher
/// follows: G usually comes from L3 or memory). Whole blocks go through registers on AVX2
/// ([`transpose8_avx2`]); the edges, and the other widths, through a small array.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn transpose(width: Width, gt: &mut [f32], g_n: &[f32], k: usize, pq: usize, kpad: usize) {
    const B: usize = 8;
    if kpad != k {
        gt[..pq * kpad].fill(0.0);
    }
    assert!(gt.len() >= pq * kpad && g_n.len() >= k * pq && kpad >= k);
    for k0 in (0..k).step_by(B) {
        let kb = B.min(k - k0);
        for f0 in (0..pq).step_by(B) {
            let fb = B.min(pq - f0);
            #[cfg(target_arch = "x86_64")]
            if matches!(width, Width::Avx2 | Width::Avx512) && kb == B && fb == B {
                // SAFETY: AVX2 is supported where `Width::Avx2` or `Width::Avx512` is
                // chosen; the block's 8 rows of G (k0..k0 + 8 < K, f0..f0 + 8 ≤ P·Q) and of
                // Gᵀ (f0..f0 + 8, k0..k0 + 8 ≤ kpad) lie inside the slices, as asserted above.
                unsafe {
                    transpose8_avx2(
                        gt.as_mut_ptr().add(f0 * kpad + k0),
                        kpad,
                        g_n.as_ptr().add(k0 * pq + f0),
                        pq,
                    )
                };
                continue;
            }
            let mut tile = [[0.0f32; B]; B];
            for i in 0..kb {
                let src = &g_n[(k0 + i) * pq + f0..(k0 + i) * pq + f0 + fb];
                for (row, &v) in tile.iter_mut().zip(src) {
                    row[i] = v;
                }
            }
            for (j, row) in tile.iter().enumerate().take(fb) {
                let dst = (f0 + j) * kpad + k0;
                gt[dst..dst + kb].copy_from_slice(&row[..kb]);
            }
        }
    }
}
