//! `MaxPool2d(kernel)`: PyTorch's `nn.MaxPool2d` (stride defaults to the kernel size).

use super::Module;
use crate::{Real, Tensor};

/// `MaxPool2d`: the largest value of each window, per channel.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// [height, width] of the window.
    pub kernel: [usize; 2],
    /// [height, width] step between windows.
    pub stride: [usize; 2],
    /// [height, width] zeros added on each side.
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// A square window with stride equal to the window and no padding.
    pub fn new(kernel: usize) -> Self {
        MaxPool2d {
            kernel: [kernel; 2],
            stride: [kernel; 2],
            padding: [0; 2],
        }
    }
}

impl<T: Real> Module<T> for MaxPool2d {
    fn kind(&self) -> super::LayerKind {
        super::LayerKind::MaxPool2d {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        }
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.max_pool2d(self.kernel, self.stride, self.padding)
    }

    fn describe(&self) -> String {
        format!(
            "MaxPool2d(kernel={:?}, stride={:?})",
            self.kernel, self.stride
        )
    }
}
