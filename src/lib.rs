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

pub mod autograd;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod diagnostics;
pub mod gradcheck;
pub mod graph;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod profile;
pub mod summary;
pub mod tensor;
pub mod train;
pub mod viz;

pub use autograd::{is_grad_enabled, no_grad, BackwardError, NoGradGuard};
pub use gradcheck::{assert_gradcheck, gradcheck, GradcheckOptions, GradcheckReport};
pub use stitch_kernels::Real;
pub use tensor::Tensor;
