//! The fused `relu(batch_norm(x))` of conv → BN → ReLU in training mode: one op where the
//! unfused chain is two. The math is in `stitch_kernels::batch_norm::relu`; this file adds
//! the backward rule.
//!
//! Forward: batch norm's statistics, then y = relu(a·x + b) per block, written once.
//! Backward, with G the gradient of y:
//!   G' = G · [a·x + b > 0]                       (ReLU; the mask recomputed from x)
//!   ∂x, ∂γ, ∂β = batch norm's training backward of G'
//! with G' never stored at full size and no mask kept between the passes.
//!
//! `batch_norm_add_relu`, the end of a residual block, relu(batch_norm(x) + s): the forward
//! in one pass per block (batch norm's output never written at full size), the backward the
//! unfused ops' rules over a graph of batch norm → add → ReLU whose two inner nodes hold no
//! elements (the shortcut needs the masked G at full size anyway).
//!
//! Values and gradients are the unfused ops' bits (the kernels' tests and
//! `tests/gradcheck_cnn_ops.rs` check it).

use stitch_kernels::batch_norm::BatchNormShape;

use super::batch_norm::{fused_train_shape, with_params, BatchNormOptions, BatchNormTrainBackward};
use crate::autograd::Backward;
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};

struct BatchNormReluBackward<T> {
    shape: BatchNormShape,
    mean: Vec<T>,
    invstd: Vec<T>,
}

impl<T: Real> Backward<T> for BatchNormReluBackward<T> {
    fn name(&self) -> &'static str {
        "batch_norm_relu"
    }

    fn saved_bytes(&self) -> usize {
        (self.mean.len() + self.invstd.len()) * std::mem::size_of::<T>()
    }

    /// Reads G and x twice, writes ∂x.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 20 * self.shape.len() as u64)
    }

    /// x, γ and β (the mask is recomputed from all three).
    fn reads_input(&self, _i: usize) -> bool {
        true
    }

    fn backward_owned(
        &self,
        g: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let out = self.backward(&g, inputs, needs);
        recycle::give(g);
        out
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let sh = &self.shape;
        let mut dx = take(sh.len(), T::ZERO);
        let (mut dw, mut db) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
        T::bn_relu_fused_backward(
            &mut dx,
            &mut dw,
            &mut db,
            g,
            &inputs[0].data(),
            &inputs[1].data(),
            &inputs[2].data(),
            &self.mean,
            &self.invstd,
            sh,
        );
        let dx = if needs[0] {
            Some(dx)
        } else {
            recycle::give(dx);
            None
        };
        vec![dx, needs[1].then_some(dw), needs[2].then_some(db)]
    }
}

impl<T: Real> Tensor<T> {
    /// `relu(batch_norm(self, …))` as one op: in training mode, for f32 with batch norm's
    /// fast kernels and fusion on ([`crate::ops::set_fusion`]); otherwise (evaluation mode,
    /// f64, reference kernels) the two ops in turn. Either way the values, the gradients
    /// and the running statistics' update are the same bits. The arguments are
    /// [`Tensor::batch_norm`]'s; `self` is \[N, C, H, W\] or \[N, C\].
    #[track_caller]
    pub fn batch_norm_relu(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        opts: BatchNormOptions,
    ) -> Tensor<T> {
        let params = [weight, bias, running_mean, running_var];
        self.batch_norm_relu_from(params, training, opts, None)
    }

    /// [`Tensor::batch_norm_relu`], its statistics from `blocks` where given (the block
    /// statistics the convolution that wrote `self` took, see
    /// [`Tensor::conv2d_batch_norm_relu`]) instead of a pass over `self`.
    #[track_caller]
    pub(crate) fn batch_norm_relu_from(
        &self,
        [weight, bias, running_mean, running_var]: [&Tensor<T>; 4],
        training: bool,
        opts: BatchNormOptions,
        blocks: Option<&[(T, T)]>,
    ) -> Tensor<T> {
        let unfused = || {
            self.batch_norm(weight, bias, running_mean, running_var, training, opts)
                .relu()
        };
        let params = [weight, bias, running_mean, running_var];
        let Some(sh) = fused_train_shape(self, params, training) else {
            return unfused();
        };
        // The statistics' pass over x (unless the convolution took them), then x read and
        // y written.
        let bytes = if blocks.is_some() { 8 } else { 12 } * sh.len() as u64;
        let _p =
            crate::profile::scope_with("batch_norm_relu", crate::profile::Pass::Forward, 0, bytes);
        let mut y = take(sh.len(), T::ZERO);
        let (mut mean, mut invstd) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
        let done = with_params(params, opts, |p| {
            let x = &self.data();
            T::bn_relu_fused_forward_train(&mut y, &mut mean, &mut invstd, blocks, x, p, &sh)
        });
        if !done {
            if let Some(p) = _p {
                p.cancel();
            }
            recycle::give(y);
            return unfused();
        }
        Tensor::from_op(
            y,
            self.shape(),
            &[self, weight, bias],
            BatchNormReluBackward {
                shape: sh,
                mean,
                invstd,
            },
        )
    }

    /// `relu(batch_norm(self, …) + shortcut)` as one op: the end of a residual block. In
    /// training mode, for f32 with batch norm's fast kernels and fusion on, one pass per
    /// block after the statistics; otherwise batch norm, then [`Tensor::add_relu`]. Either
    /// way the same bits. `shortcut` has `self`'s shape.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn batch_norm_add_relu(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        opts: BatchNormOptions,
        shortcut: &Tensor<T>,
    ) -> Tensor<T> {
        let params = [weight, bias, running_mean, running_var];
        self.batch_norm_add_relu_from(params, training, opts, shortcut, None)
    }

    /// [`Tensor::batch_norm_add_relu`], its statistics from `blocks` where given (see
    /// [`Tensor::conv2d_batch_norm_add_relu`]).
    #[track_caller]
    pub(crate) fn batch_norm_add_relu_from(
        &self,
        [weight, bias, running_mean, running_var]: [&Tensor<T>; 4],
        training: bool,
        opts: BatchNormOptions,
        shortcut: &Tensor<T>,
        blocks: Option<&[(T, T)]>,
    ) -> Tensor<T> {
        let unfused = || {
            self.batch_norm(weight, bias, running_mean, running_var, training, opts)
                .add_relu(shortcut)
        };
        let params = [weight, bias, running_mean, running_var];
        let Some(sh) = fused_train_shape(self, params, training) else {
            return unfused();
        };
        if shortcut.shape() != self.shape() {
            return unfused();
        }
        // The statistics' pass over x (unless the convolution took them); x and the
        // shortcut read, y and the mask written.
        let bytes = if blocks.is_some() { 13 } else { 17 } * sh.len() as u64;
        let _p = crate::profile::scope_with(
            "batch_norm_add_relu",
            crate::profile::Pass::Forward,
            0,
            bytes,
        );
        let mut y = take(sh.len(), T::ZERO);
        let mut positive = take(sh.len(), false);
        let (mut mean, mut invstd) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
        let done = with_params(params, opts, |p| {
            T::bn_add_relu_fused_forward_train(
                &mut y,
                &mut positive,
                &mut mean,
                &mut invstd,
                blocks,
                &self.data(),
                &shortcut.data(),
                p,
                &sh,
            )
        });
        if !done {
            if let Some(p) = _p {
                p.cancel();
            }
            recycle::give(y);
            recycle::give(positive);
            return unfused();
        }
        // Batch norm's node holds no elements (its rule reads x, γ and the statistics).
        let normalized = Tensor::unmaterialized_from_op(
            self.shape(),
            &[self, weight, bias],
            BatchNormTrainBackward {
                shape: sh,
                mean,
                invstd,
            },
        );
        super::arith::add_relu_node(&normalized, shortcut, y, positive, "batch_norm_add_relu")
    }
}
