//! Which version of the kernels runs: the readable reference loops or the fast ones.
//!
//! The default is [`Mode::Fast`]. `stitch --kernels reference` (or [`set_mode`] in the
//! library) switches every kernel to its reference loop, so a learner can step through
//! the plain code and the profiler can put the two side by side. [`set_op_mode`] overrides
//! the choice for one family of kernels (say, only conv2d runs its reference loops).

use std::sync::atomic::{AtomicU8, Ordering};

/// Reference loops or fast SIMD + rayon kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The readable reference loops.
    Reference,
    /// The SIMD + rayon kernels.
    Fast,
}

impl Mode {
    /// The lower-case name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Reference => "reference",
            Mode::Fast => "fast",
        }
    }

    /// Parses `reference` or `fast`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "reference" => Some(Mode::Reference),
            "fast" => Some(Mode::Fast),
            _ => None,
        }
    }
}

/// The families of kernels whose mode can be set on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelOp {
    /// add, mul, axpy, scale, relu.
    Elementwise,
    /// sum.
    Reduce,
    /// matrix products.
    Gemm,
    /// the Adam step.
    Optim,
    /// convolutions.
    Conv2d,
    /// max pooling.
    MaxPool2d,
    /// batch normalisation.
    BatchNorm,
    /// dropout masks.
    Dropout,
    /// average pooling.
    AvgPool2d,
    /// copies that move data without arithmetic: pad, crop, flip, concatenation.
    Layout,
}

impl KernelOp {
    /// Every kernel op.
    pub const ALL: [KernelOp; 10] = [
        KernelOp::Elementwise,
        KernelOp::Reduce,
        KernelOp::Gemm,
        KernelOp::Optim,
        KernelOp::Conv2d,
        KernelOp::MaxPool2d,
        KernelOp::BatchNorm,
        KernelOp::Dropout,
        KernelOp::AvgPool2d,
        KernelOp::Layout,
    ];

    /// The lower-case name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            KernelOp::Elementwise => "elementwise",
            KernelOp::Reduce => "reduce",
            KernelOp::Gemm => "gemm",
            KernelOp::Optim => "optim",
            KernelOp::Conv2d => "conv2d",
            KernelOp::MaxPool2d => "max_pool2d",
            KernelOp::BatchNorm => "batch_norm",
            KernelOp::Dropout => "dropout",
            KernelOp::AvgPool2d => "avg_pool2d",
            KernelOp::Layout => "layout",
        }
    }
}

const UNSET: u8 = 2;
static GLOBAL: AtomicU8 = AtomicU8::new(1);
static PER_OP: [AtomicU8; 10] = [const { AtomicU8::new(UNSET) }; 10];

fn encode(m: Mode) -> u8 {
    if m == Mode::Reference {
        0
    } else {
        1
    }
}

fn decode(v: u8) -> Mode {
    if v == 0 {
        Mode::Reference
    } else {
        Mode::Fast
    }
}

/// The mode in force for kernels without an override.
pub fn mode() -> Mode {
    decode(GLOBAL.load(Ordering::Relaxed))
}

/// Switches every kernel without an override to `m`.
pub fn set_mode(m: Mode) {
    GLOBAL.store(encode(m), Ordering::Relaxed);
}

/// The mode of one family: its override if set, else the global mode.
pub fn op_mode(op: KernelOp) -> Mode {
    match PER_OP[op as usize].load(Ordering::Relaxed) {
        UNSET => mode(),
        v => decode(v),
    }
}

/// Overrides the mode of one family; `None` returns it to the global mode.
pub fn set_op_mode(op: KernelOp, m: Option<Mode>) {
    PER_OP[op as usize].store(m.map(encode).unwrap_or(UNSET), Ordering::Relaxed);
}
