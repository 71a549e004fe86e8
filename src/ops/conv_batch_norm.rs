//! A convolution followed by batch norm, in training mode, with batch norm's statistics
//! taken by the convolution: the seed CNN's whole block, Conv2d → BatchNorm2d → ReLU →
//! MaxPool2d, and a residual block's two halves, conv → BN → ReLU and conv → BN (+
//! shortcut) → ReLU.
//!
//! Batch norm needs each channel's mean μ and variance σ² over the batch before it can
//! normalize anything, so the unfused block reads the convolution's output y from memory
//! twice: once for the statistics, once to normalize (and pool). Here the convolution takes
//! the statistics' per-plane parts while each image's output is still in cache,
//!   m_b = (1/hw) Σ y[n, k, ·],   M2_b = Σ (y[n, k, ·] − m_b)²     (one block b = [n, k]),
//! and batch norm merges them per channel in image order (Chan et al.'s update, as its own
//! statistics pass does), so y is read once, by the normalizing pass. The blocks are
//! computed by the same function on the same values as batch norm's own pass: the values,
//! the gradients and the running statistics are the unfused ops' bits (`tests/fusion.rs`).
//!
//! Two graph nodes, as unfused: the convolution (its own backward) and the fused batch
//! norm op (`batch_norm_relu_max_pool2d`, `batch_norm_relu`, `batch_norm_add_relu`),
//! whose backward does not change: μ and invstd are the same.

use super::batch_norm::BatchNormOptions;
use super::conv2d::Conv2dOptions;
use crate::{Real, Tensor};

impl<T: Real> Tensor<T> {
    /// `self.conv2d(weight, bias, conv).batch_norm_relu_max_pool2d(bn_weight, bn_bias,
    /// running_mean, running_var, training, bn, kernel, stride, padding)`, with batch
    /// norm's statistics taken by the convolution as it writes each image (module docs)
    /// when training with fusion on and the fast f32 kernels; otherwise the two ops in turn.
    /// Where the convolution's backward can form batch norm's input gradient as it reads it
    /// (2×2 windows of stride 2, `Auto`, a fused route on this CPU), the block is one graph
    /// node `conv2d_batch_norm_relu_max_pool2d` whose backward never writes that gradient at
    /// full size (`ops::conv_batch_norm_pool`). Either way the same bits.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn conv2d_batch_norm_relu_max_pool2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        conv: Conv2dOptions,
        bn_weight: &Tensor<T>,
        bn_bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        bn: BatchNormOptions,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        let params = [bn_weight, bn_bias, running_mean, running_var];
        let pool = [kernel, stride, padding];
        if let Some(out) =
            self.conv_batch_norm_relu_pool_node(weight, bias, conv, params, training, bn, pool)
        {
            return out;
        }
        let statistics = training && super::fusion_enabled();
        let (y, blocks) = self.conv2d_statistics(weight, bias, conv, statistics);
        y.batch_norm_relu_max_pool2d_from(params, training, bn, pool, blocks.as_deref())
    }

    /// `self.conv2d(weight, bias, conv).batch_norm_relu(bn_weight, bn_bias, running_mean,
    /// running_var, training, bn)` (a residual block's first half), with batch norm's
    /// statistics taken by the convolution as [`Tensor::conv2d_batch_norm_relu_max_pool2d`]
    /// takes them. The same bits as the two ops.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn conv2d_batch_norm_relu(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        conv: Conv2dOptions,
        bn_weight: &Tensor<T>,
        bn_bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        bn: BatchNormOptions,
    ) -> Tensor<T> {
        let statistics = training && super::fusion_enabled();
        let (y, blocks) = self.conv2d_statistics(weight, bias, conv, statistics);
        let params = [bn_weight, bn_bias, running_mean, running_var];
        y.batch_norm_relu_from(params, training, bn, blocks.as_deref())
    }

    /// `self.conv2d(weight, bias, conv).batch_norm_add_relu(bn_weight, bn_bias,
    /// running_mean, running_var, training, bn, shortcut)` (a residual block's end), with
    /// batch norm's statistics taken by the convolution. The same bits as the two ops.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn conv2d_batch_norm_add_relu(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        conv: Conv2dOptions,
        bn_weight: &Tensor<T>,
        bn_bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        bn: BatchNormOptions,
        shortcut: &Tensor<T>,
    ) -> Tensor<T> {
        let statistics = training && super::fusion_enabled();
        let (y, blocks) = self.conv2d_statistics(weight, bias, conv, statistics);
        let params = [bn_weight, bn_bias, running_mean, running_var];
        y.batch_norm_add_relu_from(params, training, bn, shortcut, blocks.as_deref())
    }
}
