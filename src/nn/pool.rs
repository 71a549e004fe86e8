//! Pooling layers: `MaxPool2d`, `AvgPool2d` (PyTorch's defaults: stride = kernel,
//! `count_include_pad=True`) and global average pooling (`AdaptiveAvgPool2d(1)`).

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

/// `AvgPool2d`: the mean of each window, per channel; padded positions count as zeros in
/// the mean (PyTorch's default `count_include_pad=True`).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// [height, width] of the window.
    pub kernel: [usize; 2],
    /// [height, width] step between windows.
    pub stride: [usize; 2],
    /// [height, width] zeros added on each side.
    pub padding: [usize; 2],
}

impl AvgPool2d {
    /// A square window with stride equal to the window and no padding.
    pub fn new(kernel: usize) -> Self {
        AvgPool2d {
            kernel: [kernel; 2],
            stride: [kernel; 2],
            padding: [0; 2],
        }
    }

    /// The same window with another stride and padding (builder style).
    pub fn with(mut self, stride: usize, padding: usize) -> Self {
        self.stride = [stride; 2];
        self.padding = [padding; 2];
        self
    }
}

impl<T: Real> Module<T> for AvgPool2d {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.avg_pool2d(self.kernel, self.stride, self.padding)
    }

    fn describe(&self) -> String {
        format!(
            "AvgPool2d(kernel={:?}, stride={:?}, padding={:?})",
            self.kernel, self.stride, self.padding
        )
    }
}

/// `AdaptiveAvgPool2d(out)`: [N, C, H, W] → [N, C, out, out] by averaging equal windows.
/// `out = 1` is global average pooling (the mean over H and W, on the fast path of
/// [`Tensor::global_avg_pool2d`]); other sizes need H and W to be multiples of `out`
/// (then the windows are PyTorch's), and panic otherwise.
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output height and width.
    pub output: usize,
}

/// Global average pooling: [N, C, H, W] → [N, C, 1, 1], PyTorch's `AdaptiveAvgPool2d(1)`.
pub type GlobalAvgPool2d = AdaptiveAvgPool2d;

impl AdaptiveAvgPool2d {
    /// Output `output × output` per channel.
    pub fn new(output: usize) -> Self {
        assert!(
            output >= 1,
            "AdaptiveAvgPool2d: output size must be at least 1"
        );
        AdaptiveAvgPool2d { output }
    }

    /// `AdaptiveAvgPool2d(1)`.
    pub fn global() -> Self {
        Self::new(1)
    }
}

impl<T: Real> Module<T> for AdaptiveAvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if self.output == 1 {
            return x.global_avg_pool2d();
        }
        let (h, w) = match x.shape() {
            &[_, _, h, w] => (h, w),
            s => panic!("AdaptiveAvgPool2d: input {s:?} must be [N, C, H, W]"),
        };
        let o = self.output;
        assert!(
            h % o == 0 && w % o == 0,
            "AdaptiveAvgPool2d({o}): input {:?} is not a multiple of the output size (only even windows are supported)",
            x.shape()
        );
        x.avg_pool2d([h / o, w / o], [h / o, w / o], [0, 0])
    }

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d({})", self.output)
    }
}
