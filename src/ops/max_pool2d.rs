//! Max pooling as an autograd op; the math and the tie rule are in
//! `stitch_kernels::max_pool2d`. The forward pass keeps each window's argmax (4 bytes per
//! output) for the backward pass, which routes each gradient to its window's winner.

use stitch_kernels::elementwise;
use stitch_kernels::max_pool2d::{max_pool2d_backward, max_pool2d_forward, Pool2dShape};

use crate::autograd::Backward;
use crate::tensor::recycle::{self, take};
use crate::{Real, Tensor};

struct MaxPool2dBackward {
    shape: Pool2dShape,
    argmax: Vec<u32>,
}

impl<T: Real> Backward<T> for MaxPool2dBackward {
    fn saved_bytes(&self) -> usize {
        4 * self.argmax.len()
    }

    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (
            0,
            8 * self.argmax.len() as u64 + 4 * self.shape.input_len() as u64,
        )
    }

    /// The argmax is all the backward pass needs.
    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(self.shape.input_len(), T::ZERO);
            max_pool2d_backward(&mut dx, g, &self.argmax, &self.shape);
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// The checked pooling shape of `self` [N, C, H, W]; panics naming `op` and the shapes.
    #[track_caller]
    pub(super) fn pool_shape(
        &self,
        op: &str,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Pool2dShape {
        let sh = match self.shape() {
            &[n, c, h, w] => Pool2dShape {
                n,
                c,
                h,
                w,
                kernel,
                stride,
                padding,
            },
            s => panic!("{op}: input {s:?} must be [N, C, H, W]"),
        };
        if let Err(e) = sh.validate() {
            panic!("{e} (input {:?})", self.shape());
        }
        sh
    }

    /// Max pooling of `self` [N, C, H, W] with a `kernel` window, `stride` and zero `padding`
    /// (each [height, width]).
    #[track_caller]
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        let sh = self.pool_shape("max_pool2d", kernel, stride, padding);
        let bytes = 4 * sh.input_len() as u64 + 8 * sh.output_len() as u64;
        let _p = crate::profile::scope_with("max_pool2d", crate::profile::Pass::Forward, 0, bytes);
        let mut y = take(sh.output_len(), T::ZERO);
        let mut argmax = take(sh.output_len(), 0u32);
        max_pool2d_forward(&mut y, &mut argmax, &self.data(), &sh);
        let out_shape = [sh.n, sh.c, sh.out_h(), sh.out_w()];
        Tensor::from_op(
            y,
            &out_shape,
            &[self],
            MaxPool2dBackward { shape: sh, argmax },
        )
    }
}

/// The fused `max_pool2d(relu(x))`. ReLU is monotonic, so the maximum of the rectified
/// window is the rectified maximum: max(relu(x)) = relu(max(x)), with the same winner. The
/// fused op pools first and rectifies the 4× smaller output, which saves the full-size
/// ReLU output (a write, a read, and its memory until backward). Backward: the gradient
/// reaches the winner only where the pooled value was positive,
///   ∂x[argmax] += G · [y > 0]
/// (where y ≤ 0 every rectified window value was 0, and ReLU's derivative there is 0).
struct MaxPool2dReluBackward {
    shape: Pool2dShape,
    argmax: Vec<u32>,
    /// Whether each pooled value was positive (1 byte per output instead of a copy of it).
    positive: Vec<bool>,
}

impl<T: Real> Backward<T> for MaxPool2dReluBackward {
    fn saved_bytes(&self) -> usize {
        4 * self.argmax.len() + self.positive.len()
    }

    fn name(&self) -> &'static str {
        "max_pool2d_relu"
    }

    /// Reads G, the mask and the argmax; writes ∂x.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (
            0,
            9 * self.argmax.len() as u64 + 4 * self.shape.input_len() as u64,
        )
    }

    /// The argmax and the sign mask are all the backward pass needs.
    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        self.backward_owned(g.to_vec(), inputs, needs)
    }

    /// The ReLU's mask is applied to G in its own buffer, then G is unpooled.
    fn backward_owned(
        &self,
        mut g: Vec<T>,
        _: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let dx = needs[0].then(|| {
            relu_mask_grad_in_place(&mut g, &self.positive);
            let mut dx = take(self.shape.input_len(), T::ZERO);
            max_pool2d_backward(&mut dx, &g, &self.argmax, &self.shape);
            dx
        });
        recycle::give(g);
        vec![dx]
    }
}

impl Drop for MaxPool2dReluBackward {
    /// The argmax and the mask go back for recycling with the rule.
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.argmax));
        recycle::give(std::mem::take(&mut self.positive));
    }
}

impl Drop for MaxPool2dBackward {
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.argmax));
    }
}

/// ReLU in place (NaN stays NaN); returns which values were positive, all its backward
/// pass needs: ∂x = G · [y > 0].
pub(crate) fn relu_in_place<T: Real>(y: &mut [T]) -> Vec<bool> {
    let mut positive = take(y.len(), false);
    elementwise::relu_in_place_mask(y, &mut positive);
    positive
}

/// G where the ReLU's output was positive, 0 elsewhere, written over G.
pub(crate) fn relu_mask_grad_in_place<T: Real>(g: &mut [T], positive: &[bool]) {
    elementwise::mask_in_place(g, positive);
}

impl<T: Real> Tensor<T> {
    /// `max_pool2d(relu(self))` in one op (see `MaxPool2dReluBackward` for why it is equal).
    #[track_caller]
    pub fn max_pool2d_relu(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
        let sh = self.pool_shape("max_pool2d_relu", kernel, stride, padding);
        if !super::fusion_enabled() {
            return self.relu().max_pool2d(kernel, stride, padding);
        }
        // Reads the input; writes the pooled values, the argmax and the sign mask.
        let bytes = 4 * sh.input_len() as u64 + 9 * sh.output_len() as u64;
        let _p =
            crate::profile::scope_with("max_pool2d_relu", crate::profile::Pass::Forward, 0, bytes);
        let mut pooled = take(sh.output_len(), T::ZERO);
        let mut argmax = take(sh.output_len(), 0u32);
        max_pool2d_forward(&mut pooled, &mut argmax, &self.data(), &sh);
        // ReLU on the pooled values, in place: max(relu(x)) = relu(max(x)).
        let mut y = pooled;
        let positive = relu_in_place(&mut y);
        let out_shape = [sh.n, sh.c, sh.out_h(), sh.out_w()];
        Tensor::from_op(
            y,
            &out_shape,
            &[self],
            MaxPool2dReluBackward {
                shape: sh,
                argmax,
                positive,
            },
        )
    }
}
