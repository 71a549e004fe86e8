//! The switch of the fused ops.
//!
//! A fused op ([`Tensor::max_pool2d_relu`](crate::Tensor::max_pool2d_relu),
//! [`Tensor::conv2d_relu_max_pool2d`](crate::Tensor::conv2d_relu_max_pool2d),
//! [`Tensor::batch_norm_relu_max_pool2d`](crate::Tensor::batch_norm_relu_max_pool2d),
//! [`Tensor::batch_norm_relu`](crate::Tensor::batch_norm_relu),
//! [`Tensor::conv2d_relu`](crate::Tensor::conv2d_relu),
//! [`Tensor::add_relu`](crate::Tensor::add_relu)) gives the same bits as its parts run one
//! after the other; it only moves less memory. With fusion off, each fused op runs its
//! parts, so every intermediate exists as a tensor of its own: what `--diagnostics`,
//! `summary` and `show` need to see, and what a comparison of the two paths measures.
//!
//! [`set_fusion`] is process-wide (on by default); [`no_fusion`] turns fusion off for the
//! calling thread until its guard drops, without touching other threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

static FUSION: AtomicBool = AtomicBool::new(true);

thread_local! {
    static OFF_HERE: Cell<usize> = const { Cell::new(0) };
}

/// Turns the fused ops on (the default) or off for the whole process.
pub fn set_fusion(on: bool) {
    FUSION.store(on, Ordering::Relaxed);
}

/// Whether fused ops run fused on this thread now.
pub fn fusion_enabled() -> bool {
    FUSION.load(Ordering::Relaxed) && OFF_HERE.with(|c| c.get() == 0)
}

/// Fusion off on this thread while the guard lives (see [`no_fusion`]).
pub struct NoFusionGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Runs the fused ops unfused on the calling thread until the returned guard drops.
pub fn no_fusion() -> NoFusionGuard {
    OFF_HERE.with(|c| c.set(c.get() + 1));
    NoFusionGuard {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for NoFusionGuard {
    fn drop(&mut self) {
        OFF_HERE.with(|c| c.set(c.get() - 1));
    }
}
