//! Average pooling as an autograd op; the math is in `stitch_kernels::avg_pool2d`.
//!   y = mean of each window (padding counts as zeros, PyTorch's `count_include_pad=True`)
//!   ∂x = each window's G spread evenly over its kh·kw positions

use stitch_kernels::avg_pool2d::{avg_pool2d_backward, avg_pool2d_forward, Pool2dShape};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

struct AvgPool2dBackward {
    shape: Pool2dShape,
}

impl<T: Real> Backward<T> for AvgPool2dBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }

    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (
            0,
            4 * (self.shape.output_len() + self.shape.input_len()) as u64,
        )
    }

    /// Only the shape is needed.
    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(self.shape.input_len(), T::ZERO);
            avg_pool2d_backward(&mut dx, g, &self.shape);
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// Average pooling of `self` [N, C, H, W] with a `kernel` window, `stride` and zero
    /// `padding` (each [height, width]), PyTorch's `F.avg_pool2d` with its defaults.
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tensor<T> {
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
            s => panic!("avg_pool2d: input {s:?} must be [N, C, H, W]"),
        };
        if let Err(e) = sh.validate_for("avg_pool2d") {
            panic!("{e} (input {:?})", self.shape());
        }
        let bytes = 4 * (sh.input_len() + sh.output_len()) as u64;
        let _p = crate::profile::scope_with("avg_pool2d", crate::profile::Pass::Forward, 0, bytes);
        let mut y = take(sh.output_len(), T::ZERO);
        avg_pool2d_forward(&mut y, &self.data(), &sh);
        let out_shape = [sh.n, sh.c, sh.out_h(), sh.out_w()];
        Tensor::from_op(y, &out_shape, &[self], AvgPool2dBackward { shape: sh })
    }
}
