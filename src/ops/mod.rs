//! Differentiable operations. Each file holds one family: its forward, its backward rule
//! (a [`Backward`](crate::autograd::Backward) implementation) and the math of both.
//!
//! | file | ops |
//! |---|---|
//! | `arith.rs` | `add`, `sub`, `mul`, `div` (NumPy broadcasting), `neg`, `add_scalar`, `mul_scalar` |
//! | `matmul.rs` | `matmul` (2-D and batched 3-D) |
//! | `linear.rs` | `linear`: `x Wᵀ + b` fused |
//! | `shape_ops.rs` | `reshape`, `flatten`, `flatten_from`, `t` (2-D transpose) |
//! | `reduce.rs` | `sum`, `mean`, `sum_axis`, `mean_axis` |
//! | `unary.rs` | `relu`, `exp`, `log` |
//! | `softmax.rs` | `log_softmax`, `softmax` over the last axis |
//! | `loss.rs` | `cross_entropy` with integer class targets |
//! | `metrics.rs` | `argmax`, `accuracy` (no gradient) |

mod arith;
pub(crate) mod broadcast;
mod linear;
mod loss;
mod matmul;
mod metrics;
mod reduce;
mod shape_ops;
mod softmax;
mod unary;

pub use metrics::{accuracy, argmax};
