//! 2-D max pooling, NCHW (PyTorch's `F.max_pool2d` with dilation 1).
//!
//! Shapes: x [N, C, H, W] → y [N, C, P, Q], P = ⌊(H + 2·pad − kh) / stride⌋ + 1 (Q likewise).
//! Forward:  y\[n,c,p,q\] = max over the window rows p·sh − ph .. + kh, columns q·sw − pw .. + kw
//!           (padding never wins: it counts as −∞), and `argmax[n,c,p,q]` records the
//!           winner's index i·W + j within its input plane.
//! Ties: the first maximum in row-major window order wins (a later equal value does not
//!       replace it), PyTorch's rule; a NaN wins over any number and stays NaN.
//! Backward: ∂x[n,c,argmax\[n,c,p,q\]] += G\[n,c,p,q\]; every other input gets 0. Overlapping
//!           windows that share a winner add their gradients.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// Every size of one pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dShape {
    /// Images in the batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// [height, width] of the window.
    pub kernel: [usize; 2],
    /// [height, width] step between windows.
    pub stride: [usize; 2],
    /// [height, width] zeros added on each side.
    pub padding: [usize; 2],
}

impl Pool2dShape {
    /// Square window, equal stride and padding both ways.
    pub fn square(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Pool2dShape {
            n,
            c,
            h,
            w,
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
        }
    }

    /// Non-zero window and stride, padding at most half the window (PyTorch's rule, so every
    /// window holds a real pixel), window no larger than the padded input.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_for("max_pool2d")
    }

    /// [`Pool2dShape::validate`] with `op` naming the pooling in the message.
    pub fn validate_for(&self, op: &str) -> Result<(), String> {
        if self.kernel.contains(&0) || self.stride.contains(&0) {
            return Err(format!(
                "{op}: kernel {:?} and stride {:?} must be at least 1",
                self.kernel, self.stride
            ));
        }
        if self.padding[0] > self.kernel[0] / 2 || self.padding[1] > self.kernel[1] / 2 {
            return Err(format!(
                "{op}: padding {:?} must be at most half the kernel {:?}",
                self.padding, self.kernel
            ));
        }
        if self.kernel[0] > self.h + 2 * self.padding[0]
            || self.kernel[1] > self.w + 2 * self.padding[1]
        {
            return Err(format!(
                "{op}: kernel {:?} is larger than the padded input {}x{} (input {}x{}, padding {:?})",
                self.kernel,
                self.h + 2 * self.padding[0],
                self.w + 2 * self.padding[1],
                self.h,
                self.w,
                self.padding
            ));
        }
        Ok(())
    }

    /// Output height.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.padding[0] - self.kernel[0]) / self.stride[0] + 1
    }

    /// Output width.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.padding[1] - self.kernel[1]) / self.stride[1] + 1
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.n * self.c * self.out_h() * self.out_w()
    }
}

#[track_caller]
fn check(kernel: &str, sh: &Pool2dShape, lens: &[(&str, usize, usize)]) {
    if let Err(e) = sh.validate() {
        panic!("{e} ({kernel})");
    }
    for &(what, got, want) in lens {
        assert!(
            got == want,
            "{kernel}: {what} has {got} elements, expected {want} for {sh:?}"
        );
    }
}

/// y = max over each window; `argmax` receives each winner's index within its plane.
#[track_caller]
pub fn max_pool2d_forward<T: Real>(
    out: &mut [T],
    argmax: &mut [u32],
    input: &[T],
    sh: &Pool2dShape,
) {
    check(
        "max_pool2d_forward",
        sh,
        &[
            ("out", out.len(), sh.output_len()),
            ("argmax", argmax.len(), sh.output_len()),
            ("input", input.len(), sh.input_len()),
        ],
    );
    assert!(
        sh.h * sh.w <= u32::MAX as usize,
        "max_pool2d_forward: a plane of {}x{} is too large for u32 indices",
        sh.h,
        sh.w
    );
    match op_mode(KernelOp::MaxPool2d) {
        Mode::Reference => reference::max_pool2d_forward(out, argmax, input, sh),
        Mode::Fast => T::max_pool2d_forward_fast(out, argmax, input, sh),
    }
}

/// ∂x from ∂y through the saved `argmax` (overwrites `d_input`).
#[track_caller]
pub fn max_pool2d_backward<T: Real>(
    d_input: &mut [T],
    d_out: &[T],
    argmax: &[u32],
    sh: &Pool2dShape,
) {
    check(
        "max_pool2d_backward",
        sh,
        &[
            ("d_input", d_input.len(), sh.input_len()),
            ("d_out", d_out.len(), sh.output_len()),
            ("argmax", argmax.len(), sh.output_len()),
        ],
    );
    match op_mode(KernelOp::MaxPool2d) {
        Mode::Reference => reference::max_pool2d_backward(d_input, d_out, argmax, sh),
        Mode::Fast => T::max_pool2d_backward_fast(d_input, d_out, argmax, sh),
    }
}
