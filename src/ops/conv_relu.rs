//! The fused convolution → ReLU, `relu(conv2d(x, w) + b)` as one op (the ladder's `conv`
//! step has no pool after its convolution).
//!
//!   y = max(conv2d(x, w) + b, 0),   kept for backward: [y > 0], one byte per output
//!   backward: G' = G · [y > 0], then the convolution's backward of G' (∂x, ∂w, ∂b)
//!
//! Where the direct kernels, the phase planes or Winograd compute the convolution, each
//! image's output is rectified while it is still in cache (`stitch_kernels::conv2d::conv2d_forward_relu_algo`), so the full
//! output is written once instead of written, read and written again. The values and the
//! gradients are the bits of [`Tensor::conv2d`] then [`Tensor::relu`].

use stitch_kernels::conv2d::conv2d_forward_relu_algo;

use super::conv2d::{Conv2dBackward, Conv2dOptions};
use crate::autograd::Backward;
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};
use stitch_kernels::elementwise;

/// ReLU's mask on G, then the convolution's own backward.
struct ConvReluBackward {
    conv: Conv2dBackward,
    /// \[y > 0\], one byte per output.
    positive: Vec<bool>,
}

impl<T: Real> Backward<T> for ConvReluBackward {
    fn name(&self) -> &'static str {
        "conv2d_relu"
    }

    fn mult_adds(&self) -> u64 {
        <Conv2dBackward as Backward<T>>::mult_adds(&self.conv)
    }

    fn saved_bytes(&self) -> usize {
        self.positive.len()
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let mut g_pos = take(g.len(), T::ZERO);
        g_pos.copy_from_slice(g);
        self.backward_owned(g_pos, inputs, needs)
    }

    /// The mask is applied in G's own buffer, which then goes back for recycling.
    fn backward_owned(
        &self,
        mut g: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        elementwise::mask_in_place(&mut g, &self.positive);
        let grads = self.conv.backward(&g, inputs, needs);
        recycle::give(g);
        grads
    }
}

impl Drop for ConvReluBackward {
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.positive));
    }
}

impl<T: Real> Tensor<T> {
    /// `relu(conv2d(self, weight, bias))` as one op: the same values and gradients as the
    /// two ops (see the module docs); with fusion off ([`crate::ops::set_fusion`]), the two
    /// ops. Panics as [`Tensor::conv2d`] does on shapes that do not fit together.
    #[track_caller]
    pub fn conv2d_relu(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
    ) -> Tensor<T> {
        if !super::fusion_enabled() {
            return self.conv2d(weight, bias, opts).relu();
        }
        let sh = self.conv2d_checked_shape(weight, bias, &opts);
        let cost = (
            2 * sh.macs() as u64,
            4 * (sh.input_len() + sh.weight_len() + sh.output_len()) as u64
                + sh.output_len() as u64,
        );
        let _p = crate::profile::scope_with(
            "conv2d_relu",
            crate::profile::Pass::Forward,
            cost.0,
            cost.1,
        );
        let mut y = take(sh.output_len(), T::ZERO);
        let mut positive = take(sh.output_len(), false);
        {
            let b = bias.map(|b| b.data());
            conv2d_forward_relu_algo(
                opts.algo,
                &mut y,
                &mut positive,
                &self.data(),
                &weight.data(),
                b.as_deref().map(|v| &v[..]),
                &sh,
            );
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Tensor::from_op(
            y,
            &[sh.n, sh.k, sh.out_h(), sh.out_w()],
            &inputs,
            ConvReluBackward {
                conv: Conv2dBackward {
                    shape: sh,
                    algo: opts.algo,
                },
                positive,
            },
        )
    }
}
