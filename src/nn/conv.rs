//! `Conv2d(in, out, kernel, stride, padding)`: PyTorch's `nn.Conv2d` with its default init.

use rand::Rng;

use super::{init, Module};
use crate::ops::Conv2dOptions;
use crate::{Real, Tensor};

/// A 2-D convolution layer: weight \[out, in, k, k\], bias \[out\] (or none).
pub struct Conv2d<T: Real = f32> {
    /// The weight.
    pub weight: Tensor<T>,
    /// The bias, or `None` (PyTorch's `bias=False`, as before a batch norm).
    pub bias: Option<Tensor<T>>,
    /// Stride, padding, dilation and the algorithm of the fast path.
    pub options: Conv2dOptions,
}

impl<T: Real> Conv2d<T> {
    /// A square `kernel`, initialised as PyTorch does: weight and bias uniform in
    /// ±1/√(in·k·k), the weight drawn first.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: Conv2dOptions,
        rng: &mut impl Rng,
    ) -> Self {
        let fan_in = in_channels * kernel * kernel;
        let weight =
            init::default_uniform(&[out_channels, in_channels, kernel, kernel], fan_in, rng);
        let bias = Some(init::default_uniform(&[out_channels], fan_in, rng));
        Conv2d {
            weight,
            bias,
            options,
        }
    }

    /// A layer without bias (PyTorch's `bias=False`), its weight initialised as
    /// [`Conv2d::new`] does; no bias is drawn.
    pub fn no_bias(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: Conv2dOptions,
        rng: &mut impl Rng,
    ) -> Self {
        let fan_in = in_channels * kernel * kernel;
        let weight =
            init::default_uniform(&[out_channels, in_channels, kernel, kernel], fan_in, rng);
        Conv2d {
            weight,
            bias: None,
            options,
        }
    }

    /// The same layer with its bias dropped (builder style).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<T: Real> Module<T> for Conv2d<T> {
    fn as_conv2d(&self) -> Option<super::ConvParts<'_, T>> {
        Some((&self.weight, self.bias.as_ref(), self.options))
    }

    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.options)
    }

    /// Conv2d → ReLU as [`Tensor::conv2d_relu`].
    fn forward_relu(&self, x: &Tensor<T>) -> Option<Tensor<T>> {
        Some(x.conv2d_relu(&self.weight, self.bias.as_ref(), self.options))
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "Conv2d(in={}, out={}, kernel={}x{}, stride={:?}, padding={:?}{})",
            s[1],
            s[0],
            s[2],
            s[3],
            self.options.stride,
            self.options.padding,
            if self.bias.is_none() {
                ", bias=False"
            } else {
                ""
            }
        )
    }

    fn own_parameters(&self) -> Vec<(&str, Tensor<T>)> {
        let mut v = vec![("weight", self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias", b.clone()));
        }
        v
    }
}
