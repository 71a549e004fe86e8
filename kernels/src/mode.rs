//! Which version of the kernels runs: the readable reference loops or the fast ones.
//!
//! The default is [`Mode::Fast`]. `stitch --kernels reference` (or [`set_mode`] in the
//! library) switches every kernel to its reference loop, so a learner can step through
//! the plain code and the profiler can put the two side by side.

use std::sync::atomic::{AtomicU8, Ordering};

/// Reference loops or fast SIMD + rayon kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Reference,
    Fast,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Reference => "reference",
            Mode::Fast => "fast",
        }
    }
}

static MODE: AtomicU8 = AtomicU8::new(1);

/// The mode in force for the whole process.
pub fn mode() -> Mode {
    if MODE.load(Ordering::Relaxed) == 0 {
        Mode::Reference
    } else {
        Mode::Fast
    }
}

/// Switches every kernel to `m`.
pub fn set_mode(m: Mode) {
    MODE.store(if m == Mode::Reference { 0 } else { 1 }, Ordering::Relaxed);
}
