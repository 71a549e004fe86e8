//! The seed CNN's whole block, Conv2d → BatchNorm2d → ReLU → MaxPool2d(2), as one graph
//! node in training mode, so that its backward never writes batch norm's input gradient.
//!
//! Two nodes (the convolution, then `batch_norm_relu_max_pool2d`) pass the convolution's
//! output gradient G = ∂L/∂y between them at full size: batch norm's backward writes it
//! (12.8 MB for the first block of a batch of 128) and the convolution's backward reads it
//! back, once for ∂w and once more for ∂x. G is, per plane,
//!
//!   G = A·unpool(Gp) + B·y + C        (A, B, C per channel; Gp the pooled gradient)
//!
//! so one node can take batch norm's two per-channel sums first (one pass over y, which
//! gives A, B, C and ∂γ, ∂β), then let the convolution's backward form each image's G in
//! cache from Gp, the argmax and y where it reads it
//! (`stitch_kernels::conv2d::fused::backward_batch_norm`). The forward is the two nodes'
//! own: the convolution takes batch norm's statistics as it writes y
//! ([`Tensor::conv2d_batch_norm_relu_max_pool2d`]), then batch norm → pool in one pass.
//!
//! The planes of G are formed by the very functions batch norm's backward runs, and the
//! convolution's backward runs the kernels the unfused convolution would: the values, the
//! gradients and the running statistics are the two nodes' bits (`tests/gradcheck_cnn_ops.rs`,
//! `tests/cli.rs`'s `--no-fusion` checkpoints).

use stitch_kernels::conv2d::{Conv2dShape, ConvAlgo};
use stitch_kernels::max_pool2d::Pool2dShape;

use super::batch_norm::{with_params, BatchNormOptions};
use super::conv2d::Conv2dOptions;
use super::max_pool2d::{relu_in_place, relu_mask_grad_in_place};
use crate::autograd::Backward;
use crate::profile::{scope_with, Pass};
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};

/// Backward of the one-node block. Inputs: x, the convolution's weight (and bias), batch
/// norm's γ and β.
struct ConvBatchNormReluPoolBackward<T: Real> {
    conv: Conv2dShape,
    pool: Pool2dShape,
    /// The convolution's output, batch norm's input.
    y: Vec<T>,
    mean: Vec<T>,
    invstd: Vec<T>,
    argmax: Vec<u32>,
    /// Whether each pooled value was positive.
    positive: Vec<bool>,
    has_bias: bool,
}

impl<T: Real> Backward<T> for ConvBatchNormReluPoolBackward<T> {
    fn name(&self) -> &'static str {
        "conv2d_batch_norm_relu_max_pool2d"
    }

    fn saved_bytes(&self) -> usize {
        (self.y.len() + self.mean.len() + self.invstd.len()) * std::mem::size_of::<T>()
            + 4 * self.argmax.len()
            + self.positive.len()
    }

    fn mult_adds(&self) -> u64 {
        self.conv.macs() as u64
    }

    /// The convolution's products (∂w, and ∂x if wanted); bytes: y read by batch norm's
    /// sums and once per product, x read for ∂w, ∂x written, the pooled arrays.
    fn cost(&self, needs: &[bool]) -> (u64, u64) {
        let sh = &self.conv;
        let products = 1 + needs[0] as u64;
        let (y, x) = (sh.output_len() as u64, sh.input_len() as u64);
        let pooled = self.argmax.len() as u64;
        (
            2 * sh.macs() as u64 * products,
            4 * (y * (1 + products) + x * products) + 9 * pooled,
        )
    }

    /// x, the convolution's weight and batch norm's γ; not the bias or β.
    fn reads_input(&self, i: usize) -> bool {
        let gamma = if self.has_bias { 3 } else { 2 };
        i < 2 || i == gamma
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        self.backward_owned(g.to_vec(), inputs, needs)
    }

    fn backward_owned(
        &self,
        mut g: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let (sh, c) = (&self.conv, self.pool.c);
        let gamma = if self.has_bias { 3 } else { 2 };
        // ReLU lets the pooled gradient through where the pooled value was positive.
        relu_mask_grad_in_place(&mut g, &self.positive);
        // Batch norm's sums over y: ∂γ, ∂β and the coefficients of G.
        let (mut d_gamma, mut d_beta) = (vec![T::ZERO; c], vec![T::ZERO; c]);
        let coef = {
            let _p = scope_with(
                "conv2d_batch_norm_relu_max_pool2d.batch_norm",
                Pass::Backward,
                0,
                4 * self.y.len() as u64 + 9 * g.len() as u64,
            );
            T::bn_pool_backward_coefficients(
                &mut d_gamma,
                &mut d_beta,
                &g,
                &self.argmax,
                &self.y,
                &inputs[gamma].data(),
                &self.mean,
                &self.invstd,
                &self.pool,
            )
        };
        // The convolution's gradients, G formed image by image where they read it.
        let mut dx = needs[0].then(|| take(sh.input_len(), T::ZERO));
        let (mut dw, mut db) = (vec![T::ZERO; sh.weight_len()], vec![T::ZERO; sh.k]);
        T::conv_bn_pool_fused_backward(
            dx.as_deref_mut(),
            &mut dw,
            &mut db,
            &g,
            &self.argmax,
            &self.y,
            &coef,
            &inputs[0].data(),
            &inputs[1].data(),
            sh,
        );
        recycle::give(g);
        let mut grads = vec![dx, needs[1].then_some(dw)];
        if self.has_bias {
            grads.push(needs[2].then_some(db));
        }
        grads.push(needs[gamma].then_some(d_gamma));
        grads.push(needs[gamma + 1].then_some(d_beta));
        grads
    }
}

impl<T: Real> Drop for ConvBatchNormReluPoolBackward<T> {
    /// The saved convolution output, argmax and mask go back for recycling with the rule.
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.y));
        recycle::give(std::mem::take(&mut self.argmax));
        recycle::give(std::mem::take(&mut self.positive));
    }
}

impl<T: Real> Tensor<T> {
    /// [`Tensor::conv2d_batch_norm_relu_max_pool2d`] as one graph node (module docs), where
    /// it applies: training with fusion on, 2×2 windows of stride 2 on an even-sized
    /// output, the convolution under `Auto` with a fused backward route on this CPU
    /// ([`Real::conv_bn_pool_fused_applies`]). None elsewhere, before any work.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv_batch_norm_relu_pool_node(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        conv: Conv2dOptions,
        params: [&Tensor<T>; 4],
        training: bool,
        bn: BatchNormOptions,
        pool: [[usize; 2]; 3],
    ) -> Option<Tensor<T>> {
        // The fused routes are `Auto`'s choices, so the process-wide choice must be `Auto`.
        let auto =
            conv.algo == ConvAlgo::Auto && stitch_kernels::conv2d::default_algo() == ConvAlgo::Auto;
        if !training || !super::fusion_enabled() || !auto || pool != [[2, 2], [2, 2], [0, 0]] {
            return None;
        }
        let sh = super::conv2d::conv_shape(self.shape(), weight.shape(), &conv)?;
        let k = sh.k;
        let fits = sh.validate().is_ok()
            && bias.is_none_or(|b| b.shape() == [k])
            && params.iter().all(|t| t.shape() == [k])
            && sh.out_h() % 2 == 0
            && sh.out_w() % 2 == 0
            && sh.n * sh.out_h() * sh.out_w() >= 2;
        let input_grad = crate::is_grad_enabled() && self.requires_grad();
        if !fits || !T::conv_bn_pool_fused_applies(&sh, input_grad) {
            // The two nodes give the errors, or compute it without this node.
            return None;
        }
        // The convolution, taking batch norm's block statistics as it writes y
        // (`conv_bn_pool_fused_applies` checked that its fast kernels run, so it takes them).
        let (y, blocks) = self.conv2d_values(weight, bias, conv, &sh, true);
        let Some(blocks) = blocks else {
            recycle::give(y);
            return None;
        };
        // Batch norm → max-pool from those statistics, then ReLU on the pooled values.
        let pool = Pool2dShape {
            n: sh.n,
            c: k,
            h: sh.out_h(),
            w: sh.out_w(),
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
        };
        let mut pooled = take(pool.output_len(), T::ZERO);
        let mut argmax = take(pool.output_len(), 0u32);
        let (mut mean, mut invstd) = (vec![T::ZERO; k], vec![T::ZERO; k]);
        let done = {
            let bytes = 4 * sh.output_len() as u64 + 9 * pool.output_len() as u64;
            let _p = scope_with("batch_norm_relu_max_pool2d", Pass::Forward, 0, bytes);
            with_params(params, bn, |p| {
                T::bn_pool_fused_forward_train_from_blocks(
                    &mut pooled,
                    &mut argmax,
                    &mut mean,
                    &mut invstd,
                    &blocks,
                    &y,
                    p,
                    &pool,
                )
            })
        };
        // `conv_bn_pool_fused_applies` checked batch norm's and max pooling's kernels.
        assert!(
            done,
            "conv2d_batch_norm_relu_max_pool2d: the fused kernel declined"
        );
        let positive = relu_in_place(&mut pooled);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        inputs.extend([params[0], params[1]]);
        let shape = [sh.n, k, sh.out_h() / 2, sh.out_w() / 2];
        Some(Tensor::from_op(
            pooled,
            &shape,
            &inputs,
            ConvBatchNormReluPoolBackward {
                conv: sh,
                pool,
                y,
                mean,
                invstd,
                argmax,
                positive,
                has_bias: bias.is_some(),
            },
        ))
    }
}
