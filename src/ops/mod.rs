//! Differentiable operations. Each file holds one family: its forward, its backward rule
//! (a [`Backward`](crate::autograd::Backward) implementation) and the math of both.
//!
//! | file | ops |
//! |---|---|
//! | `arith.rs` | `add`, `sub`, `mul`, `div` (NumPy broadcasting), `neg`, `add_scalar`, `mul_scalar`, the fused `add_relu` |
//! | `matmul.rs` | `matmul` (2-D and batched 3-D) |
//! | `linear.rs` | `linear`: `x Wᵀ + b` fused |
//! | `shape_ops.rs` | `reshape`, `flatten`, `flatten_from`, `t` (2-D transpose) |
//! | `reduce.rs` | `sum`, `mean`, `sum_axis`, `mean_axis`, `mean_dims`, `global_avg_pool2d` |
//! | `unary.rs` | `relu`, `exp`, `log` |
//! | `softmax.rs` | `log_softmax`, `softmax` over the last axis |
//! | `loss.rs` | `cross_entropy` with integer class targets |
//! | `metrics.rs` | `argmax`, `accuracy` (no gradient) |
//! | `conv2d.rs` | `conv2d`: stride, padding, dilation, optional bias |
//! | `max_pool2d.rs` | `max_pool2d` |
//! | `batch_norm.rs` | `batch_norm`: training (batch statistics) and evaluation |
//! | `batch_norm_pool.rs` | the fused `batch_norm_relu_max_pool2d` of a convolution block |
//! | `batch_norm_relu.rs` | the fused `batch_norm_relu` of conv → BN → ReLU |
//! | `conv_batch_norm.rs` | `conv2d_batch_norm_relu_max_pool2d`, `conv2d_batch_norm_relu`, `conv2d_batch_norm_add_relu`: a convolution and the batch norm after it, its statistics taken by the convolution |
//! | `conv_batch_norm_pool.rs` | the seed CNN's block as one node in training, batch norm's input gradient formed where the convolution's backward reads it |
//! | `dropout.rs` | `dropout`: inverted, mask from a key |
//! | `avg_pool2d.rs` | `avg_pool2d` (`count_include_pad=True`) |
//! | `pad.rs` | `pad2d` (constant), `crop2d`, `flip_w` over the last two dimensions |
//! | `concat.rs` | `cat` along any dimension |
//! | `fusion.rs` | the switch of the fused ops (`max_pool2d_relu`, `conv2d_relu_max_pool2d`, `batch_norm_relu_max_pool2d`, `conv2d_batch_norm_relu_max_pool2d`, `batch_norm_relu`, `add_relu`) |

mod arith;
mod avg_pool2d;
mod batch_norm;
mod batch_norm_pool;
mod batch_norm_relu;
pub(crate) mod broadcast;
mod concat;
mod conv2d;
mod conv_batch_norm;
mod conv_batch_norm_pool;
mod conv_relu;
mod dropout;
mod fusion;
mod linear;
mod loss;
mod matmul;
mod max_pool2d;
mod metrics;
mod pad;
mod reduce;
mod shape_ops;
mod softmax;
mod unary;

pub use batch_norm::BatchNormOptions;
pub use conv2d::{Conv2dOptions, ConvAlgo};
pub use fusion::{fusion_enabled, no_fusion, set_fusion, NoFusionGuard};
pub use metrics::{accuracy, argmax};
