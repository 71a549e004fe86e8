//! Parameter-free layers: `ReLU` and `Flatten`.

use super::Module;
use crate::{Real, Tensor};

/// max(x, 0) elementwise.
#[derive(Default, Clone, Copy)]
pub struct ReLU;

impl<T: Real> Module<T> for ReLU {
    fn kind(&self) -> super::LayerKind {
        super::LayerKind::Relu
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.relu()
    }
    fn describe(&self) -> String {
        "ReLU".into()
    }
}

/// `[N, d1, d2, …] → [N, d1·d2·…]`, as `nn.Flatten()`; a view, no copy.
#[derive(Default, Clone, Copy)]
pub struct Flatten;

impl<T: Real> Module<T> for Flatten {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.flatten_from(1)
    }
    fn describe(&self) -> String {
        "Flatten".into()
    }
}
