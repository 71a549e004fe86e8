//! Layers. A [`Module`] maps a tensor to a tensor and owns named parameters (and buffers,
//! such as batch-norm's running statistics); [`Sequential`] chains modules and names their
//! parameters `"<index>.<name>"` as PyTorch's `nn.Sequential` does, so checkpoints and
//! summaries use the same names a PyTorch user expects.

mod activation;
mod batch_norm;
mod conv;
mod dropout;
pub mod init;
mod linear;
mod pool;
mod sequential;

pub use activation::{Flatten, ReLU};
pub use batch_norm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use conv::Conv2d;
pub use dropout::{splitmix64, Dropout};
pub use linear::Linear;
pub use pool::MaxPool2d;
pub use sequential::Sequential;

use crate::{Real, Tensor};

/// What a layer is, as far as [`Sequential`]'s fusions care: a ReLU directly followed by a
/// max-pool runs as the one fused op `max_pool2d_relu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// A `ReLU` layer.
    Relu,
    /// A `MaxPool2d` layer with its window, stride and padding.
    MaxPool2d {
        /// [height, width] of the window.
        kernel: [usize; 2],
        /// [height, width] step between windows.
        stride: [usize; 2],
        /// [height, width] zeros added on each side.
        padding: [usize; 2],
    },
    /// Any other layer.
    Other,
}

/// A convolution layer's weight, optional bias and options.
pub type ConvParts<'a, T> = (
    &'a Tensor<T>,
    Option<&'a Tensor<T>>,
    crate::ops::Conv2dOptions,
);

/// A layer or a network.
pub trait Module<T: Real = f32>: Send + Sync {
    /// See [`LayerKind`].
    fn kind(&self) -> LayerKind {
        LayerKind::Other
    }

    /// A convolution layer's weight, bias and options, for [`Sequential`]'s fusion of
    /// Conv2d → ReLU → MaxPool2d(2).
    fn as_conv2d(&self) -> Option<ConvParts<'_, T>> {
        None
    }

    /// The layer applied to a batch.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T>;

    /// A one-line description, e.g. `Linear(in=784, out=128)`.
    fn describe(&self) -> String;

    /// Trainable tensors with their names, in a fixed order.
    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        Vec::new()
    }

    /// Non-trainable state saved in checkpoints (running statistics), with names.
    fn named_buffers(&self) -> Vec<(String, Tensor<T>)> {
        Vec::new()
    }

    /// Switches training behaviour (dropout, batch statistics) on or off.
    fn set_training(&mut self, _training: bool) {}

    /// The counters behind the layer's random draws (a Dropout layer's call counter), in a
    /// fixed order: with the seed they decide every future mask, so a resumed run restores
    /// them to continue exactly.
    fn random_state(&self) -> Vec<u64> {
        Vec::new()
    }

    /// Restores [`Module::random_state`]; `state` has the length that method returns.
    fn set_random_state(&self, _state: &[u64]) {}

    /// The trainable tensors, in the order of [`Module::named_parameters`].
    fn parameters(&self) -> Vec<Tensor<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Training mode (PyTorch's `model.train()`).
    fn train(&mut self) {
        self.set_training(true)
    }

    /// Evaluation mode (PyTorch's `model.eval()`).
    fn eval(&mut self) {
        self.set_training(false)
    }

    /// Forgets every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }
}
