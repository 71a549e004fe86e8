//! Optimizer update kernels: one Adam/AdamW step over a parameter tensor.
//!
//! The update of every element is independent, so the fast version is bitwise equal to the
//! reference: it uses the same operations in the same order (no fused multiply-add), only
//! 16 or 8 lanes at a time and rayon over fixed chunks.
//!
//! For each element, with g the gradient, w the weight, m and v the moments:
//! ```text
//!   g ← g + l2 · w                       (Adam's L2 weight decay; l2 = 0 for AdamW)
//!   w ← w · decay                        (AdamW's decoupled decay 1 − ηλ; 1 for Adam)
//!   m ← m + (1 − β₁)(g − m)
//!   v ← β₂ v + (1 − β₂) g g
//!   w ← w − step_size · m / (√v / √(1 − β₂ᵗ) + ε),   step_size = η / (1 − β₁ᵗ)
//! ```
//! the order of operations PyTorch's single-tensor Adam uses.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// The scalars of one Adam step, already bias-corrected for step t.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    /// η / (1 − β₁ᵗ)
    pub step_size: T,
    /// √(1 − β₂ᵗ)
    pub bias_correction2_sqrt: T,
    /// 1 − β₁
    pub one_minus_beta1: T,
    /// Decay of the second moment.
    pub beta2: T,
    /// 1 − β₂
    pub one_minus_beta2: T,
    /// ε added to √v̂ in the denominator, so a tiny second moment cannot blow the step up.
    pub eps: T,
    /// L2 coefficient added to the gradient (0 to skip).
    pub l2: T,
    /// Multiplier of the weights before the step (1 to skip).
    pub decay: T,
}

/// One Adam step over `weight`, `exp_avg` (m) and `exp_avg_sq` (v) from `grad`.
#[track_caller]
pub fn adam_step<T: Real>(
    weight: &mut [T],
    exp_avg: &mut [T],
    exp_avg_sq: &mut [T],
    grad: &[T],
    h: &AdamStep<T>,
) {
    let n = weight.len();
    assert!(
        exp_avg.len() == n && exp_avg_sq.len() == n && grad.len() == n,
        "adam_step: weight {n}, exp_avg {}, exp_avg_sq {}, grad {} elements: all must match",
        exp_avg.len(),
        exp_avg_sq.len(),
        grad.len()
    );
    match op_mode(KernelOp::Optim) {
        Mode::Reference => reference::adam_step(weight, exp_avg, exp_avg_sq, grad, h),
        Mode::Fast => T::adam_step_fast(weight, exp_avg, exp_avg_sq, grad, h),
    }
}
