//! # stitch-kernels: the compute kernels of stitch
//!
//! Slice in, slice out: no tensor type, no autograd, no allocation the caller did not ask
//! for. Every kernel exists twice:
//!
//! - a **reference** version in `<op>/reference.rs`: the textbook loop a learner reads, with
//!   the math in a comment above it, generic over [`Real`] so it also runs in `f64` for
//!   gradient checks;
//! - a **fast** version in `<op>/fast.rs`: explicit SIMD through `std::arch`, chosen at run
//!   time by [`isa::isa`] (AVX-512F, AVX2+FMA or scalar), and rayon across chunks, rows or
//!   the batch once the work is large enough to pay for a thread hand-off.
//!
//! Tests hold the fast version to the reference one on awkward sizes (0, 1, 7, 15, 16, 17,
//! 1023, 4097) and misaligned slices. The public function in `<op>/mod.rs` checks the
//! lengths once, then runs the version chosen by [`mode`].
//!
//! ## Conventions, written once
//! - Element types: `f32` for training, `f64` for gradient checks ([`Real`]).
//! - Images are NCHW, row-major: N batch, C channels, H height, W width. Weights are
//!   K×C×R×S: K output channels, C input channels, R kernel rows, S kernel columns.
//! - Matrices are described by pointer-free strides (`rs`, `cs`): element (i, j) of A is
//!   `a[i * rsa + j * csa]`, so a transpose is a swap of strides, never a copy.
//! - Outputs come first in an argument list, then inputs, then a small shape struct.
//! - Gradient buffers are named `d_<what>`: `d_out`, `d_input`, `d_weight`.
//! - Determinism: every parallel reduction splits its input at fixed boundaries that do not
//!   depend on the number of threads and combines the partial results in a fixed order, so
//!   1, 2 or 8 threads give the same bits.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod alloc;
pub mod avg_pool2d;
pub mod batch_norm;
pub mod concat;
pub mod conv2d;
pub mod dropout;
pub mod elementwise;
pub mod flip;
pub mod gemm;
pub mod isa;
pub mod max_pool2d;
mod mode;
pub mod optim;
pub mod pad2d;
pub mod probe;
pub mod real;
pub mod reduce;
mod scratch;
mod simd;
pub mod vector;

pub use mode::{mode, op_mode, set_mode, set_op_mode, KernelOp, Mode};
pub use real::Real;

/// Below this many elements an elementwise kernel runs on the calling thread. From outside
/// rayon's pool, waking its workers cost about 10 µs (the development VM, AVX-512 add,
/// 16K-element chunks, one thread vs rayon on 2: 131,072 elements 14 vs 22 µs; 262,144: 30
/// vs 24 µs), and the threshold was 2¹⁸. With the caller on one of the pool's workers (as
/// `stitch`'s commands run) a split only hands work to one other thread, and 2¹⁶ pays: the
/// `dnn` model's Adam step over its 100,352-weight layer 0.043 → 0.022 ms (`stitch profile
/// --model dnn --steps 300 --real-data`, Zen 4, 2026-12-08), cnn, conv-pool and resnet20
/// unchanged within the noise.
pub const PAR_THRESHOLD: usize = 1 << 16;

/// The fixed chunk length of parallel elementwise kernels and reductions. A reduction sums
/// each chunk on its own and adds the partial sums in chunk order, so its result is the same
/// whatever the number of threads. 16K f32 = 64 KiB, about an L2 slice's worth per task.
pub const CHUNK: usize = 1 << 14;
