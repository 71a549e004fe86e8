//! 2-D convolution as an autograd op; the math is in `stitch_kernels::conv2d`.
//!
//!   y = conv2d(x, w) + b
//!   ∂x = conv2d_backward_input(G, w),  ∂w = conv2d_backward_weight(G, x),  ∂b = Σ_{n,p,q} G
//!
//! ∂w and ∂b are taken in one pass over G when both are wanted
//! (`conv2d_backward_weight_bias_algo`, the same bits as the two kernels).

pub use stitch_kernels::conv2d::ConvAlgo;
use stitch_kernels::conv2d::{
    conv2d_backward_bias, conv2d_backward_input_algo, conv2d_backward_weight_algo,
    conv2d_backward_weight_bias_algo, conv2d_forward_algo, Conv2dShape,
};

use super::max_pool2d::{relu_in_place, relu_mask_grad_in_place};
use crate::autograd::Backward;
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};

/// Stride, padding and dilation, each as [height, width] (PyTorch's defaults are 1, 0, 1),
/// and the algorithm of the fast path ([`ConvAlgo::Auto`] unless a benchmark or a test
/// asks for another; the results agree within rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// [height, width] step between windows.
    pub stride: [usize; 2],
    /// [height, width] zeros added on each side.
    pub padding: [usize; 2],
    /// [height, width] spacing between kernel taps.
    pub dilation: [usize; 2],
    /// How the kernels compute it: `Auto`, `Direct`, `Im2col` or `Reference`.
    pub algo: ConvAlgo,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            algo: ConvAlgo::Auto,
        }
    }
}

impl Conv2dOptions {
    /// Stride 1 and the padding that keeps H and W for an odd `kernel` (k / 2 on each
    /// side), PyTorch's `padding='same'` for odd kernels.
    pub fn same(kernel: usize) -> Self {
        Self::square(1, kernel / 2, 1)
    }

    /// The same stride, padding and dilation along both axes.
    pub fn square(stride: usize, padding: usize, dilation: usize) -> Self {
        Conv2dOptions {
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [dilation; 2],
            algo: ConvAlgo::Auto,
        }
    }

    /// The same options computed by `algo` (builder style).
    pub fn with_algo(mut self, algo: ConvAlgo) -> Self {
        self.algo = algo;
        self
    }
}

pub(super) struct Conv2dBackward {
    pub(super) shape: Conv2dShape,
    pub(super) algo: ConvAlgo,
}

impl<T: Real> Backward<T> for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn mult_adds(&self) -> u64 {
        self.shape.macs() as u64
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let sh = &self.shape;
        let dx = needs[0].then(|| {
            let cost = (
                2 * sh.macs() as u64,
                4 * (sh.output_len() + sh.weight_len() + sh.input_len()) as u64,
            );
            let _p = crate::profile::scope_with(
                "conv2d.d_input",
                crate::profile::Pass::Backward,
                cost.0,
                cost.1,
            );
            let mut dx = take(sh.input_len(), T::ZERO);
            conv2d_backward_input_algo(self.algo, &mut dx, g, &inputs[1].data(), sh);
            dx
        });
        let want_db = inputs.len() == 3 && needs[2];
        let (dw, db) = if needs[1] {
            // With ∂b wanted too, both in one pass over G (the same bits as the two calls).
            let bias_len = if want_db { sh.k } else { 0 };
            let cost = (
                2 * sh.macs() as u64,
                4 * (sh.output_len() + sh.input_len() + sh.weight_len() + bias_len) as u64,
            );
            let _p = crate::profile::scope_with(
                "conv2d.d_weight",
                crate::profile::Pass::Backward,
                cost.0,
                cost.1,
            );
            let mut dw = vec![T::ZERO; sh.weight_len()];
            let x = inputs[0].data();
            let db = if want_db {
                let mut db = vec![T::ZERO; sh.k];
                conv2d_backward_weight_bias_algo(self.algo, &mut dw, &mut db, g, &x, sh);
                Some(db)
            } else {
                conv2d_backward_weight_algo(self.algo, &mut dw, g, &x, sh);
                None
            };
            (Some(dw), db)
        } else {
            let db = want_db.then(|| {
                let _p = crate::profile::scope_with(
                    "conv2d.d_bias",
                    crate::profile::Pass::Backward,
                    0,
                    4 * sh.output_len() as u64,
                );
                let mut db = vec![T::ZERO; sh.k];
                conv2d_backward_bias(&mut db, g, sh);
                db
            });
            (None, db)
        };
        let mut grads = vec![dx, dw];
        if inputs.len() == 3 {
            grads.push(db);
        }
        grads
    }
}

impl<T: Real> Tensor<T> {
    /// Convolution of `self` \[N, C, H, W\] with `weight` \[K, C, R, S\] plus `bias` \[K\].
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
    ) -> Tensor<T> {
        self.conv2d_statistics(weight, bias, opts, false).0
    }

    /// The values of [`Tensor::conv2d_statistics`] for the checked shape `sh`, without a
    /// graph node: y, and batch norm's block statistics where `statistics` asks for them
    /// and the fast kernels take them (`None` elsewhere).
    pub(crate) fn conv2d_values(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
        sh: &Conv2dShape,
        statistics: bool,
    ) -> (Vec<T>, Option<Vec<(T, T)>>) {
        let cost = (
            2 * sh.macs() as u64,
            4 * (sh.input_len() + sh.weight_len() + sh.output_len()) as u64,
        );
        let _p =
            crate::profile::scope_with("conv2d", crate::profile::Pass::Forward, cost.0, cost.1);
        let mut y = take(sh.output_len(), T::ZERO);
        let mut blocks = statistics.then(|| vec![(T::ZERO, T::ZERO); sh.n * sh.k]);
        let b = bias.map(|b| b.data());
        let (x, w, b) = (&self.data(), &weight.data(), b.as_deref().map(|v| &v[..]));
        let taken = blocks.as_mut().is_some_and(|blocks| {
            T::conv2d_forward_block_statistics(opts.algo, &mut y, blocks, x, w, b, sh)
        });
        if !taken {
            blocks = None;
            conv2d_forward_algo(opts.algo, &mut y, x, w, b, sh);
        }
        (y, blocks)
    }

    /// The convolution's shape, or a panic naming the shapes that do not fit together.
    #[track_caller]
    pub(super) fn conv2d_checked_shape(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: &Conv2dOptions,
    ) -> Conv2dShape {
        let (x_shape, w_shape) = (self.shape(), weight.shape());
        let Some(sh) = conv_shape(x_shape, w_shape, opts) else {
            panic!("conv2d: input {x_shape:?} and weight {w_shape:?}: need input [N, C, H, W] and weight [K, C, R, S]")
        };
        if let Err(e) = sh.validate() {
            panic!(
                "{e} (input {:?}, weight {:?})",
                self.shape(),
                weight.shape()
            );
        }
        if let Some(b) = bias {
            assert!(
                b.shape() == [sh.k],
                "conv2d: bias {:?} must be [{}] for weight {:?}",
                b.shape(),
                sh.k,
                weight.shape()
            );
        }
        sh
    }

    /// [`Tensor::conv2d`], and if `statistics` asks for them and the fast kernels run,
    /// batch norm's block statistics of the output taken as each image is written
    /// (`stitch_kernels::conv2d::fast::conv2d_forward_with_statistics`): `blocks[n·K + k]`
    /// = (mean, Σ (y − mean)²) of output plane \[n, k\]. `None` where they were not taken.
    #[track_caller]
    pub(crate) fn conv2d_statistics(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
        statistics: bool,
    ) -> (Tensor<T>, Option<Vec<(T, T)>>) {
        let sh = self.conv2d_checked_shape(weight, bias, &opts);
        let (y, blocks) = self.conv2d_values(weight, bias, opts, &sh, statistics);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let y = Tensor::from_op(
            y,
            &[sh.n, sh.k, sh.out_h(), sh.out_w()],
            &inputs,
            Conv2dBackward {
                shape: sh,
                algo: opts.algo,
            },
        );
        (y, blocks)
    }
}

/// The convolution of an input of shape `x` by a weight of shape `w` under `opts`, if x is
/// \[N, C, H, W\] and w is \[K, C, R, S\] (nothing else is checked here: see
/// `Conv2dShape::validate`).
pub(super) fn conv_shape(x: &[usize], w: &[usize], opts: &Conv2dOptions) -> Option<Conv2dShape> {
    match (x, w) {
        (&[n, c, h, w], &[k, c2, r, s]) if c == c2 => Some(Conv2dShape {
            n,
            c,
            h,
            w,
            k,
            r,
            s,
            stride: opts.stride,
            padding: opts.padding,
            dilation: opts.dilation,
        }),
        _ => None,
    }
}

/// Backward of the fused convolution → ReLU → 2×2 max-pool.
struct ConvReluPoolBackward {
    shape: Conv2dShape,
    argmax: Vec<u32>,
    positive: Vec<bool>,
}

impl<T: Real> Backward<T> for ConvReluPoolBackward {
    fn saved_bytes(&self) -> usize {
        4 * self.argmax.len() + self.positive.len()
    }

    fn name(&self) -> &'static str {
        "conv2d_relu_max_pool2d"
    }

    fn mult_adds(&self) -> u64 {
        self.shape.macs() as u64
    }

    fn cost(&self, needs: &[bool]) -> (u64, u64) {
        let sh = &self.shape;
        let products = 1 + needs[0] as u64; // ∂weight, and ∂input if wanted
        (
            2 * sh.macs() as u64 * products,
            4 * (sh.input_len() * (1 + needs[0] as usize) + 2 * sh.output_len() / 4) as u64,
        )
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        self.backward_owned(g.to_vec(), inputs, needs)
    }

    /// ReLU's mask is applied in G's own buffer, which then goes back for recycling.
    fn backward_owned(
        &self,
        mut g_pos: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let sh = &self.shape;
        // ReLU lets the pooled gradient through where the pooled value was positive.
        relu_mask_grad_in_place(&mut g_pos, &self.positive);
        let mut dx = needs[0].then(|| take(sh.input_len(), T::ZERO));
        let (mut dw, mut db) = (vec![T::ZERO; sh.weight_len()], vec![T::ZERO; sh.k]);
        T::conv_pool_fused_backward(
            dx.as_deref_mut(),
            &mut dw,
            &mut db,
            &g_pos,
            &self.argmax,
            &inputs[0].data(),
            &inputs[1].data(),
            sh,
        );
        recycle::give(g_pos);
        let mut grads = vec![dx, needs[1].then_some(dw)];
        if inputs.len() == 3 {
            grads.push(needs[2].then_some(db));
        }
        grads
    }
}

impl Drop for ConvReluPoolBackward {
    /// The argmax and the mask go back for recycling with the rule.
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.argmax));
        recycle::give(std::mem::take(&mut self.positive));
    }
}

impl<T: Real> Tensor<T> {
    /// `max_pool2d(relu(conv2d(self, weight, bias)), 2×2, stride 2)` as one op where a fused
    /// kernel exists (f32 with an even output, the convolution under `Auto` both in `opts`
    /// and process-wide, on AVX-512's direct kernels, the phase planes
    /// of AVX2 and NEON, or Winograd's output transform where `auto` gives it the forward;
    /// see `stitch_kernels::conv2d::fused`), else the three ops in turn. Either way the
    /// values and gradients are the same bits.
    #[track_caller]
    pub fn conv2d_relu_max_pool2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
    ) -> Tensor<T> {
        let unfused = || {
            self.conv2d(weight, bias, opts)
                .max_pool2d_relu([2, 2], [2, 2], [0, 0])
        };
        // The fused kernels run `Auto`'s choice of kernels per pass: under any other
        // algorithm (asked here or process-wide) the three ops run, to give its bits.
        let auto =
            opts.algo == ConvAlgo::Auto && stitch_kernels::conv2d::default_algo() == ConvAlgo::Auto;
        if !super::fusion_enabled() || !auto {
            return unfused();
        }
        let Some(sh) = conv_shape(self.shape(), weight.shape(), &opts) else {
            return unfused();
        };
        if sh.validate().is_err()
            || bias.is_some_and(|b| b.shape() != [sh.k])
            || sh.out_h() % 2 != 0
            || sh.out_w() % 2 != 0
        {
            return unfused();
        }
        let cost = (
            2 * sh.macs() as u64,
            4 * (sh.input_len() + sh.weight_len() + 2 * sh.output_len() / 4) as u64,
        );
        let _p = crate::profile::scope_with(
            "conv2d_relu_max_pool2d",
            crate::profile::Pass::Forward,
            cost.0,
            cost.1,
        );
        let pooled_len = sh.output_len() / 4;
        let mut pooled = take(pooled_len, T::ZERO);
        let mut argmax = take(pooled_len, 0u32);
        let input_grad = crate::is_grad_enabled() && self.requires_grad();
        let done = {
            let b = bias.map(|b| b.data());
            T::conv_pool_fused_forward(
                &mut pooled,
                &mut argmax,
                &self.data(),
                &weight.data(),
                b.as_deref().map(|v| &v[..]),
                &sh,
                input_grad,
            )
        };
        if !done {
            if let Some(p) = _p {
                p.cancel();
            }
            return unfused();
        }
        // ReLU after the pool, as `max_pool2d_relu` does.
        let positive = relu_in_place(&mut pooled);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let shape = [sh.n, sh.k, sh.out_h() / 2, sh.out_w() / 2];
        Tensor::from_op(
            pooled,
            &shape,
            &inputs,
            ConvReluPoolBackward {
                shape: sh,
                argmax,
                positive,
            },
        )
    }
}
