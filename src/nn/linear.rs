//! `Linear(in, out)`: y = x Wᵀ + b, PyTorch's `nn.Linear` with its default init.

use rand::Rng;

use super::{init, Module};
use crate::{Real, Tensor};

/// A fully connected layer: weight \[out, in\], bias \[out\].
pub struct Linear<T: Real = f32> {
    /// The weight.
    pub weight: Tensor<T>,
    /// The bias, or `None` (PyTorch's `bias=False`).
    pub bias: Option<Tensor<T>>,
}

impl<T: Real> Linear<T> {
    /// A layer initialised as PyTorch does (see [`init`]), drawing from `rng`.
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Self {
        let weight = init::default_uniform(&[out_features, in_features], in_features, rng);
        let bias = Some(init::default_uniform(&[out_features], in_features, rng));
        Linear { weight, bias }
    }

    /// The size of each input row.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The size of each output row.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl<T: Real> Module<T> for Linear<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in={}, out={})",
            self.in_features(),
            self.out_features()
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
