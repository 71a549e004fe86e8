//! `Conv2d(in, out, kernel, stride, padding)`: PyTorch's `nn.Conv2d` with its default init.

use rand::Rng;

use super::{init, Module};
use crate::ops::Conv2dOptions;
use crate::{Real, Tensor};

/// A 2-D convolution layer: weight \[out, in, k, k\], bias \[out\].
pub struct Conv2d<T: Real = f32> {
    /// The weight.
    pub weight: Tensor<T>,
    /// The bias (β for batch norm), or `None` without one.
    pub bias: Option<Tensor<T>>,
    /// The options used.
    pub options: Conv2dOptions,
}

impl<T: Real> Conv2d<T> {
    /// A square `kernel`, initialised as PyTorch does: weight and bias uniform in
    /// ±1/√(in·k·k).
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
}

impl<T: Real> Module<T> for Conv2d<T> {
    fn as_conv2d(&self) -> Option<super::ConvParts<'_, T>> {
        Some((&self.weight, self.bias.as_ref(), self.options))
    }

    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.options)
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "Conv2d(in={}, out={}, kernel={}x{}, stride={:?}, padding={:?})",
            s[1], s[0], s[2], s[3], self.options.stride, self.options.padding
        )
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
}
