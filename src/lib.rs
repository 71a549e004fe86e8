//! # stitch
//!
//! A from-scratch tensor and reverse-mode autograd engine that trains convolutional networks
//! on the raw IDX Fashion-MNIST files, small enough to read end to end.
//!
//! - [`Tensor`]: contiguous row-major storage shared cheaply between views, in `f32` for
//!   training and `f64` for gradient checks.
//! - [`ops`]: every differentiable operation, forward and backward side by side, calling the
//!   slice kernels of the `stitch-kernels` crate.
//! - [`autograd`]: the define-by-run graph, [`Tensor::backward`], [`no_grad`].
//! - [`gradcheck()`]: compares analytic gradients with central finite differences in `f64`.
//! - [`nn`], [`optim`]: layers and optimizers with PyTorch's semantics.
//! - [`data`]: the IDX reader and the Fashion-MNIST dataset.
//! - [`models`]: the registry of models by name; [`train`]: the [`Trainer`](train::Trainer)
//!   for any module; [`guide`]: how to write your own model.
//!
//! ## Error policy
//! Tensor operations and layer constructors panic on a shape mismatch or an impossible
//! argument (a kernel larger than the padded input, stride or dilation 0, dropout p outside
//! [0, 1), batch-norm channels that differ, a cross-entropy target outside the classes), in
//! one line naming the op, the shapes it got and what it expected, with
//! `#[track_caller]` so the message points at the caller's line: the same choice as PyTorch
//! (which raises) and ndarray. Everything that reads files or user input returns a `Result`
//! whose error names the file, what was found and what was expected; a `try_` function never
//! panics on bad input.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The README's Rust blocks, compiled and run by `cargo test` as doctests, so the manual's
/// example cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod autograd;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod diagnostics;
pub mod gradcheck;
pub mod graph;
pub mod guide;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod profile;
pub mod report;
pub mod safetensors;
pub mod summary;
pub mod tensor;
pub mod train;
pub mod viz;

pub use autograd::{is_grad_enabled, no_grad, BackwardError, NoGradGuard};
pub use gradcheck::{
    assert_gradcheck, assert_gradcheck_module, gradcheck, gradcheck_module, GradcheckOptions,
    GradcheckReport,
};
pub use ops::{Conv2dOptions, ConvAlgo};
/// The `rand` crate the layer constructors take (`&mut impl rand::Rng`): use this path, or
/// [`nn::init::rng`], so that the versions agree (see [`nn::init`]).
pub use rand;
/// The `rand_chacha` crate of [`nn::init::rng`]'s generator.
pub use rand_chacha;
pub use stitch_kernels::Real;
/// The kernel switch: which version of every kernel runs, the readable reference loops or
/// the fast SIMD + rayon ones (`stitch --kernels`), for all of them ([`set_kernel_mode`])
/// or one family ([`set_op_kernel_mode`]).
pub use stitch_kernels::{
    mode as kernel_mode, op_mode as op_kernel_mode, set_mode as set_kernel_mode,
    set_op_mode as set_op_kernel_mode, KernelOp, Mode as KernelMode,
};
pub use tensor::Tensor;
