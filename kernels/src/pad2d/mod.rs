//! Constant padding and cropping of the last two dimensions: each other's inverse and each
//! other's gradient (PyTorch's `F.pad(x, (left, right, top, bottom), value=v)` and the slice
//! `x[..., top:top+h, left:left+w]`).
//!
//! Shapes: `planes` = the product of the leading dimensions (N·C for images); one plane is
//! H × W, row-major.
//! pad2d:  y\[·, i, j\] = x\[·, i − top, j − left\] inside, `value` in the border;
//!         y is (top + H + bottom) × (left + W + right).
//!         ∂x = G cropped back to the inner H × W (the border's gradient goes nowhere).
//! crop2d: y\[·, i, j\] = x\[·, top + i, left + j\] for i < out_h, j < out_w.
//!         ∂x = G padded with zeros back to H × W.
//! Nothing is rounded: the fast versions equal the reference ones bit for bit.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// A padding of `planes` planes of H × W.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pad2dShape {
    /// Planes (N·C).
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Columns added on the right.
    pub right: usize,
}

impl Pad2dShape {
    /// Output height: top + H + bottom.
    pub fn out_h(&self) -> usize {
        self.top + self.h + self.bottom
    }
    /// Output width: left + W + right.
    pub fn out_w(&self) -> usize {
        self.left + self.w + self.right
    }
    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes * self.h * self.w
    }
    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.planes * self.out_h() * self.out_w()
    }
    /// The crop that undoes this padding (its backward).
    pub fn inverse(&self) -> Crop2dShape {
        Crop2dShape {
            planes: self.planes,
            h: self.out_h(),
            w: self.out_w(),
            top: self.top,
            left: self.left,
            out_h: self.h,
            out_w: self.w,
        }
    }
}

/// A crop of `planes` planes of H × W to the out_h × out_w window at (top, left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop2dShape {
    /// Planes (N·C).
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// First row kept.
    pub top: usize,
    /// First column kept.
    pub left: usize,
    /// Rows kept.
    pub out_h: usize,
    /// Columns kept.
    pub out_w: usize,
}

impl Crop2dShape {
    /// Checks that the window lies inside the plane.
    pub fn validate(&self) -> Result<(), String> {
        if self.top + self.out_h > self.h || self.left + self.out_w > self.w {
            return Err(format!(
                "crop2d: the {}x{} window at row {}, column {} does not fit in a {}x{} plane",
                self.out_h, self.out_w, self.top, self.left, self.h, self.w
            ));
        }
        Ok(())
    }
    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes * self.h * self.w
    }
    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.planes * self.out_h * self.out_w
    }
    /// The zero padding that undoes this crop (its backward).
    pub fn inverse(&self) -> Pad2dShape {
        Pad2dShape {
            planes: self.planes,
            h: self.out_h,
            w: self.out_w,
            top: self.top,
            bottom: self.h - self.top - self.out_h,
            left: self.left,
            right: self.w - self.left - self.out_w,
        }
    }
}

#[track_caller]
fn check(kernel: &str, what: &str, got: usize, want: usize) {
    assert!(
        got == want,
        "{kernel}: {what} has {got} elements, expected {want}"
    );
}

/// y = x with a border of `value` (overwrites `out`).
#[track_caller]
pub fn pad2d<T: Real>(out: &mut [T], input: &[T], value: T, sh: &Pad2dShape) {
    check("pad2d", "out", out.len(), sh.output_len());
    check("pad2d", "input", input.len(), sh.input_len());
    match op_mode(KernelOp::Layout) {
        Mode::Reference => reference::pad2d(out, input, value, sh),
        Mode::Fast => fast::pad2d(out, input, value, sh),
    }
}

/// y = the window of x (overwrites `out`).
#[track_caller]
pub fn crop2d<T: Real>(out: &mut [T], input: &[T], sh: &Crop2dShape) {
    if let Err(e) = sh.validate() {
        panic!("{e}");
    }
    check("crop2d", "out", out.len(), sh.output_len());
    check("crop2d", "input", input.len(), sh.input_len());
    match op_mode(KernelOp::Layout) {
        Mode::Reference => reference::crop2d(out, input, sh),
        Mode::Fast => fast::crop2d(out, input, sh),
    }
}
