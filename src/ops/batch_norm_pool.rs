//! The fused `max_pool2d(relu(batch_norm(x)))` of a convolution block in training mode:
//! one op where the unfused chain is three. The math is in
//! `stitch_kernels::batch_norm::pool`; this file adds the ReLU on the pooled values and the
//! backward rule.
//!
//! Forward: batch norm's statistics, then per plane z = a·x + b pooled in cache; ReLU on
//! the pooled values (max(relu(z)) = relu(max(z)), the same winner). Backward, with Gp the
//! pooled gradient:
//!   Gp' = Gp · [pooled > 0]                         (ReLU)
//!   G = Gp' routed to each window's argmax          (max-pool)
//!   ∂x, ∂γ, ∂β = batch norm's training backward of G
//! with G never stored at full size. Values and gradients are the unfused ops' bits (the
//! kernels' tests and `tests/fusion.rs` check it).

use stitch_kernels::batch_norm::BatchNormShape;
use stitch_kernels::max_pool2d::Pool2dShape;

use super::batch_norm::{with_params, BatchNormOptions};
use super::max_pool2d::{relu_in_place, relu_mask_grad_in_place};
use crate::autograd::Backward;
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};

struct BatchNormReluPoolBackward<T> {
    pool: Pool2dShape,
    mean: Vec<T>,
    invstd: Vec<T>,
    argmax: Vec<u32>,
    /// Whether each pooled value was positive.
    positive: Vec<bool>,
}

impl<T: Real> Backward<T> for BatchNormReluPoolBackward<T> {
    fn name(&self) -> &'static str {
        "batch_norm_relu_max_pool2d"
    }

    fn saved_bytes(&self) -> usize {
        (self.mean.len() + self.invstd.len()) * std::mem::size_of::<T>()
            + 4 * self.argmax.len()
            + self.positive.len()
    }

    /// Reads x twice and the pooled gradient, mask and argmax; writes ∂x.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        let (full, pooled) = (self.pool.input_len() as u64, self.argmax.len() as u64);
        (0, 12 * full + 2 * 9 * pooled)
    }

    /// x and γ; β is not read.
    fn reads_input(&self, i: usize) -> bool {
        i < 2
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
        relu_mask_grad_in_place(&mut g, &self.positive);
        let c = self.pool.c;
        let mut dx = take(self.pool.input_len(), T::ZERO);
        let (mut dw, mut db) = (vec![T::ZERO; c], vec![T::ZERO; c]);
        T::bn_pool_fused_backward(
            &mut dx,
            &mut dw,
            &mut db,
            &g,
            &self.argmax,
            &inputs[0].data(),
            &inputs[1].data(),
            &self.mean,
            &self.invstd,
            &self.pool,
        );
        recycle::give(g);
        let dx = if needs[0] {
            Some(dx)
        } else {
            recycle::give(dx);
            None
        };
        vec![dx, needs[1].then_some(dw), needs[2].then_some(db)]
    }
}

impl<T> Drop for BatchNormReluPoolBackward<T> {
    /// The argmax and the mask go back for recycling with the rule.
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.argmax));
        recycle::give(std::mem::take(&mut self.positive));
    }
}

impl<T: Real> Tensor<T> {
    /// `max_pool2d(relu(batch_norm(self, …)), kernel, stride, padding)` as one op: in
    /// training mode, for f32 with batch norm's and max pooling's fast kernels and fusion on
    /// ([`crate::ops::set_fusion`]); otherwise (evaluation mode, f64, reference kernels) the
    /// three ops in turn. Either way the values, the gradients and the running statistics'
    /// update are the same bits. `self` is \[N, C, H, W\]; the batch norm arguments are
    /// [`Tensor::batch_norm`]'s.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn batch_norm_relu_max_pool2d(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        opts: BatchNormOptions,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        let (params, pool) = (
            [weight, bias, running_mean, running_var],
            [kernel, stride, padding],
        );
        self.batch_norm_relu_max_pool2d_from(params, training, opts, pool, None)
    }

    /// [`Tensor::batch_norm_relu_max_pool2d`], its statistics from `blocks` where given
    /// (the block statistics the convolution that wrote `self` took, see
    /// [`Tensor::conv2d_batch_norm_relu_max_pool2d`]) instead of a pass over `self`.
    #[track_caller]
    pub(crate) fn batch_norm_relu_max_pool2d_from(
        &self,
        [weight, bias, running_mean, running_var]: [&Tensor<T>; 4],
        training: bool,
        opts: BatchNormOptions,
        [kernel, stride, padding]: [[usize; 2]; 3],
        blocks: Option<&[(T, T)]>,
    ) -> Tensor<T> {
        let unfused = || {
            self.batch_norm(weight, bias, running_mean, running_var, training, opts)
                .max_pool2d_relu(kernel, stride, padding)
        };
        if !training || !super::fusion_enabled() || self.ndim() != 4 {
            return unfused();
        }
        let pool = self.pool_shape("batch_norm_relu_max_pool2d", kernel, stride, padding);
        let bn = BatchNormShape {
            n: pool.n,
            c: pool.c,
            hw: pool.h * pool.w,
        };
        let params_fit = [weight, bias, running_mean, running_var]
            .iter()
            .all(|t| t.shape() == [bn.c]);
        if !params_fit || bn.per_channel() < 2 {
            // The unfused ops give the errors.
            return unfused();
        }
        // A statistics pass (unless the convolution took them) and a normalizing pass over
        // x; the pooled values, argmax and mask written.
        let passes = if blocks.is_some() { 4 } else { 8 };
        let bytes = passes * bn.len() as u64 + 9 * pool.output_len() as u64;
        let _p = crate::profile::scope_with(
            "batch_norm_relu_max_pool2d",
            crate::profile::Pass::Forward,
            0,
            bytes,
        );
        let mut pooled = take(pool.output_len(), T::ZERO);
        let mut argmax = take(pool.output_len(), 0u32);
        let (mut mean, mut invstd) = (vec![T::ZERO; bn.c], vec![T::ZERO; bn.c]);
        let params = [weight, bias, running_mean, running_var];
        let done = with_params(params, opts, |p| match blocks {
            Some(blocks) => T::bn_pool_fused_forward_train_from_blocks(
                &mut pooled,
                &mut argmax,
                &mut mean,
                &mut invstd,
                blocks,
                &self.data(),
                p,
                &pool,
            ),
            None => T::bn_pool_fused_forward_train(
                &mut pooled,
                &mut argmax,
                &mut mean,
                &mut invstd,
                &self.data(),
                p,
                &pool,
            ),
        });
        if !done {
            if let Some(p) = _p {
                p.cancel();
            }
            recycle::give(pooled);
            recycle::give(argmax);
            return unfused();
        }
        let positive = relu_in_place(&mut pooled);
        let shape = [pool.n, pool.c, pool.out_h(), pool.out_w()];
        Tensor::from_op(
            pooled,
            &shape,
            &[self, weight, bias],
            BatchNormReluPoolBackward {
                pool,
                mean,
                invstd,
                argmax,
                positive,
            },
        )
    }
}
