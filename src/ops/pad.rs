//! Constant padding, cropping and flipping of the last two dimensions (H, W); the math is
//! in `stitch_kernels::{pad2d, flip}`. Each one's gradient is another of them:
//!   pad2d:  y = x inside a border of `value`     ∂x = G cropped to x's window
//!   crop2d: y = x[.., top..top+h, left..left+w]   ∂x = G padded with zeros
//!   flip_w: y[.., j] = x[.., W − 1 − j]           ∂x = flip_w(G)

use stitch_kernels::flip::flip_w;
use stitch_kernels::pad2d::{crop2d, pad2d, Crop2dShape, Pad2dShape};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

/// The leading dimensions as one count of planes, and H, W.
#[track_caller]
fn planes(op: &str, shape: &[usize]) -> (usize, usize, usize) {
    match shape {
        [lead @ .., h, w] => (lead.iter().product(), *h, *w),
        _ => panic!("{op}: input {shape:?} needs at least two dimensions (H, W)"),
    }
}

fn with_hw(shape: &[usize], h: usize, w: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    let k = s.len();
    s[k - 2] = h;
    s[k - 1] = w;
    s
}

struct Pad2dBackward {
    shape: Pad2dShape,
}

impl<T: Real> Backward<T> for Pad2dBackward {
    fn name(&self) -> &'static str {
        "pad2d"
    }
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 8 * self.shape.input_len() as u64)
    }
    fn reads_input(&self, _i: usize) -> bool {
        false
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(self.shape.input_len(), T::ZERO);
            crop2d(&mut dx, g, &self.shape.inverse());
            dx
        })]
    }
}

struct Crop2dBackward {
    shape: Crop2dShape,
}

impl<T: Real> Backward<T> for Crop2dBackward {
    fn name(&self) -> &'static str {
        "crop2d"
    }
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (
            0,
            4 * (self.shape.input_len() + self.shape.output_len()) as u64,
        )
    }
    fn reads_input(&self, _i: usize) -> bool {
        false
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(self.shape.input_len(), T::ZERO);
            pad2d(&mut dx, g, T::ZERO, &self.shape.inverse());
            dx
        })]
    }
}

struct FlipBackward {
    w: usize,
}

impl<T: Real> Backward<T> for FlipBackward {
    fn name(&self) -> &'static str {
        "flip_w"
    }
    fn reads_input(&self, _i: usize) -> bool {
        false
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(g.len(), T::ZERO);
            flip_w(&mut dx, g, self.w);
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// Pads the last two dimensions with `value`: `[left, right, top, bottom]` columns and
    /// rows, PyTorch's `F.pad(x, (left, right, top, bottom), value=value)`.
    #[track_caller]
    pub fn pad2d(&self, pads: [usize; 4], value: T) -> Tensor<T> {
        let (p, h, w) = planes("pad2d", self.shape());
        let sh = Pad2dShape {
            planes: p,
            h,
            w,
            left: pads[0],
            right: pads[1],
            top: pads[2],
            bottom: pads[3],
        };
        let _p = crate::profile::scope_with(
            "pad2d",
            crate::profile::Pass::Forward,
            0,
            4 * (sh.input_len() + sh.output_len()) as u64,
        );
        let mut y = take(sh.output_len(), T::ZERO);
        pad2d(&mut y, &self.data(), value, &sh);
        let shape = with_hw(self.shape(), sh.out_h(), sh.out_w());
        Tensor::from_op(y, &shape, &[self], Pad2dBackward { shape: sh })
    }

    /// The `height × width` window at row `top`, column `left` of the last two dimensions
    /// (`x[..., top:top+height, left:left+width]`); panics if it does not fit.
    #[track_caller]
    pub fn crop2d(&self, top: usize, left: usize, height: usize, width: usize) -> Tensor<T> {
        let (p, h, w) = planes("crop2d", self.shape());
        let sh = Crop2dShape {
            planes: p,
            h,
            w,
            top,
            left,
            out_h: height,
            out_w: width,
        };
        if let Err(e) = sh.validate() {
            panic!("{e} (input {:?})", self.shape());
        }
        let _p = crate::profile::scope_with(
            "crop2d",
            crate::profile::Pass::Forward,
            0,
            8 * sh.output_len() as u64,
        );
        let mut y = take(sh.output_len(), T::ZERO);
        crop2d(&mut y, &self.data(), &sh);
        let shape = with_hw(self.shape(), height, width);
        Tensor::from_op(y, &shape, &[self], Crop2dBackward { shape: sh })
    }

    /// The mirror image over the last dimension (W), PyTorch's `x.flip(-1)`: the horizontal
    /// flip of an image batch.
    #[track_caller]
    pub fn flip_w(&self) -> Tensor<T> {
        let (_, _, w) = planes("flip_w", self.shape());
        let _p = crate::profile::scope_with(
            "flip_w",
            crate::profile::Pass::Forward,
            0,
            8 * self.numel() as u64,
        );
        let mut y = take(self.numel(), T::ZERO);
        flip_w(&mut y, &self.data(), w);
        Tensor::from_op(y, self.shape(), &[self], FlipBackward { w })
    }
}
