//! Layers and the [`Module`] trait.
//!
//! A module maps a tensor to a tensor. It owns named parameters (and buffers, such as batch
//! norm's running statistics) and **declares its named children once**, in
//! [`Module::children`]; everything else follows from that one list, as in PyTorch, where it
//! follows from the attributes `__init__` assigned:
//!
//! - parameter and buffer names are dotted paths, `layers.3.shortcut.0.weight`
//!   ([`Module::named_parameters`], [`Module::named_buffers`]): the names of PyTorch's
//!   `state_dict` for the same architecture, used by checkpoints, summaries and the
//!   profiler;
//! - [`Module::train`] / [`Module::eval`], [`Module::zero_grad`] and the random state behind
//!   dropout masks ([`Module::random_state`]) reach every descendant.
//!
//! A residual block, written as a user would:
//!
//! ```
//! use stitch::nn::{BatchNorm2d, Conv2d, Module, Sequential};
//! use stitch::{Real, Tensor};
//!
//! struct Block<T: Real = f32> {
//!     conv1: Conv2d<T>,
//!     bn1: BatchNorm2d<T>,
//!     conv2: Conv2d<T>,
//!     bn2: BatchNorm2d<T>,
//!     shortcut: Sequential<T>, // empty: the identity
//! }
//!
//! impl<T: Real> Module<T> for Block<T> {
//!     fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
//!         vec![("conv1", &self.conv1), ("bn1", &self.bn1), ("conv2", &self.conv2),
//!              ("bn2", &self.bn2), ("shortcut", &self.shortcut)]
//!     }
//!     fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
//!         let h = self.bn1.forward(&self.conv1.forward(x)).relu();
//!         self.bn2.forward(&self.conv2.forward(&h)).add_relu(&self.shortcut.forward(x))
//!     }
//! }
//!
//! let mut rng = stitch::nn::init::rng(0);
//! let block: Block = Block {
//!     conv1: Conv2d::new(8, 8, 3, stitch::ops::Conv2dOptions::same(3), &mut rng).without_bias(),
//!     bn1: BatchNorm2d::new_2d(8),
//!     conv2: Conv2d::new(8, 8, 3, stitch::ops::Conv2dOptions::same(3), &mut rng).without_bias(),
//!     bn2: BatchNorm2d::new_2d(8),
//!     shortcut: Sequential::new(),
//! };
//! let names: Vec<String> = block.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"]);
//! assert_eq!(block.named_buffers()[0].0, "bn1.running_mean");
//! ```
//!
//! ## Fusions
//! A fusion is a tensor op that does the work of several in fewer passes over memory, with
//! the same bits as the ops it replaces: [`Tensor::max_pool2d_relu`] (pool, then rectify
//! the 4× smaller output), [`Tensor::conv2d_relu_max_pool2d`] (the convolution's output
//! stays in cache), [`Tensor::conv2d_batch_norm_relu_max_pool2d`] (batch norm's statistics
//! taken by the convolution as it writes each image, so batch norm reads its input once),
//! [`Tensor::batch_norm_relu_max_pool2d`], [`Tensor::batch_norm_relu`]
//! and [`Tensor::batch_norm_add_relu`] (batch norm's output never written at full size) and
//! [`Tensor::add_relu`] (a residual block's sum and its ReLU in one pass). Any model uses
//! them by calling them in its `forward`, as the block above calls `add_relu` (batch norm's
//! as [`BatchNorm::forward_relu`] and [`BatchNorm::forward_add_relu`]); [`Sequential`]
//! calls them itself where its layers form the pattern.
//! [`crate::ops::set_fusion`]`(false)` (or the scoped [`crate::ops::no_fusion`]) makes every
//! fused op run its parts one by one, for comparisons and for tools that need to see every
//! intermediate (`--diagnostics`, `summary`, `show`).

mod activation;
mod batch_norm;
mod conv;
mod dropout;
pub mod init;
mod linear;
pub mod lookup;
mod pool;
mod sequential;

pub use activation::{Flatten, ReLU};
pub use batch_norm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use conv::Conv2d;
pub use dropout::{splitmix64, Dropout};
pub use linear::Linear;
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d};
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
///
/// A user's module implements [`Module::forward`] and, if it has sub-modules,
/// [`Module::children`]; a layer that owns tensors itself implements
/// [`Module::own_parameters`] (and [`Module::own_buffers`], [`Module::set_own_training`],
/// [`Module::own_random_state`] where it has them). The other methods walk the tree and
/// need no code.
pub trait Module<T: Real = f32>: Send + Sync {
    /// The module applied to a batch.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T>;

    /// A one-line description, e.g. `Linear(in=784, out=128)`; by default the type's name.
    fn describe(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// The named sub-modules, in a fixed order (PyTorch's `named_children`): the one place
    /// a composite module lists what it is made of.
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        Vec::new()
    }

    /// The trainable tensors this module holds itself (not its children's), with their
    /// local names (`weight`, `bias`).
    fn own_parameters(&self) -> Vec<(&str, Tensor<T>)> {
        Vec::new()
    }

    /// The non-trainable state this module holds itself, saved in checkpoints
    /// (`running_mean`, `running_var`).
    fn own_buffers(&self) -> Vec<(&str, Tensor<T>)> {
        Vec::new()
    }

    /// Switches this module's own training behaviour (dropout on, batch statistics).
    fn set_own_training(&self, _training: bool) {}

    /// The counters behind this module's own random draws (a Dropout layer's call counter):
    /// with the seed they decide every future mask, so a resumed run restores them.
    fn own_random_state(&self) -> Vec<u64> {
        Vec::new()
    }

    /// Restores [`Module::own_random_state`]; `state` has the length that method returns.
    fn set_own_random_state(&self, _state: &[u64]) {}

    /// Integer state this module keeps itself, with local names: batch norm's
    /// `num_batches_tracked`, which PyTorch's `state_dict` holds as a 0-dim int64.
    fn own_counters(&self) -> Vec<(&str, u64)> {
        Vec::new()
    }

    /// Sets the own counter `name` (one of [`Module::own_counters`]).
    fn set_own_counter(&self, _name: &str, _value: u64) {}

    /// See [`LayerKind`]: what [`Sequential`] looks at to fuse a ReLU with a max-pool.
    fn kind(&self) -> LayerKind {
        LayerKind::Other
    }

    /// A convolution layer's weight, bias and options, for [`Sequential`]'s fusion of
    /// Conv2d → ReLU → MaxPool2d(2).
    fn as_conv2d(&self) -> Option<ConvParts<'_, T>> {
        None
    }

    /// This layer, then ReLU, as one fused op, for [`Sequential`]'s fusion of a layer →
    /// ReLU: [`BatchNorm`] answers with [`Tensor::batch_norm_relu`] (and counts the batch as
    /// its `forward` does), [`Conv2d`] with [`Tensor::conv2d_relu`]; every other layer with
    /// `None`.
    fn forward_relu(&self, _x: &Tensor<T>) -> Option<Tensor<T>> {
        None
    }

    /// This layer, then ReLU, then a max-pool, as one fused op, for [`Sequential`]'s fusion
    /// of BatchNorm2d → ReLU → MaxPool2d: [`BatchNorm`] answers with
    /// [`Tensor::batch_norm_relu_max_pool2d`] (and counts the batch as its `forward` does);
    /// every other layer with `None`.
    fn forward_relu_max_pool2d(
        &self,
        _x: &Tensor<T>,
        _kernel: [usize; 2],
        _stride: [usize; 2],
        _padding: [usize; 2],
    ) -> Option<Tensor<T>> {
        None
    }

    /// A convolution (`conv`), then this layer, then ReLU, then a max-pool, as one op, for
    /// [`Sequential`]'s fusion of Conv2d → BatchNorm2d → ReLU → MaxPool2d: [`BatchNorm`]
    /// answers with [`Tensor::conv2d_batch_norm_relu_max_pool2d`] (its statistics taken by
    /// the convolution; it counts the batch as its `forward` does); every other layer with
    /// `None`.
    fn forward_conv_relu_max_pool2d(
        &self,
        _x: &Tensor<T>,
        _conv: ConvParts<'_, T>,
        _pool: [[usize; 2]; 3],
    ) -> Option<Tensor<T>> {
        None
    }

    // ---- derived from the above; no module needs to write these ----

    /// Every descendant with its dotted path (`layers.0.conv1`), depth first, parents before
    /// their children (PyTorch's `named_modules` without the root).
    fn named_modules(&self) -> Vec<(String, &dyn Module<T>)> {
        let mut out = Vec::new();
        for (name, child) in self.children() {
            out.push((name.to_string(), child));
            for (sub, m) in child.named_modules() {
                out.push((format!("{name}.{sub}"), m));
            }
        }
        out
    }

    /// Trainable tensors with their dotted names: own ones first, then each child's in
    /// [`Module::children`] order (PyTorch's order for a module that registers its tensors
    /// before its children).
    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        let mut out: Vec<(String, Tensor<T>)> = self
            .own_parameters()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        for (name, child) in self.children() {
            for (n, t) in child.named_parameters() {
                out.push((format!("{name}.{n}"), t));
            }
        }
        out
    }

    /// Buffers with their dotted names, in the order of [`Module::named_parameters`].
    fn named_buffers(&self) -> Vec<(String, Tensor<T>)> {
        let mut out: Vec<(String, Tensor<T>)> = self
            .own_buffers()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        for (name, child) in self.children() {
            for (n, t) in child.named_buffers() {
                out.push((format!("{name}.{n}"), t));
            }
        }
        out
    }

    /// Counters with their dotted names, in the order of [`Module::named_buffers`].
    fn named_counters(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .own_counters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        for (name, child) in self.children() {
            for (n, v) in child.named_counters() {
                out.push((format!("{name}.{n}"), v));
            }
        }
        out
    }

    /// Sets the counter of dotted name `name`; false if there is none by that name.
    fn set_counter(&self, name: &str, value: u64) -> bool {
        if self.own_counters().iter().any(|(n, _)| *n == name) {
            self.set_own_counter(name, value);
            return true;
        }
        self.children().into_iter().any(|(child, m)| {
            name.strip_prefix(child)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| m.set_counter(rest, value))
        })
    }

    /// Switches training behaviour (dropout, batch statistics) on or off, everywhere below.
    fn set_training(&self, training: bool) {
        self.set_own_training(training);
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// Every random counter below, own ones first, in [`Module::children`] order.
    fn random_state(&self) -> Vec<u64> {
        let mut out = self.own_random_state();
        for (_, child) in self.children() {
            out.extend(child.random_state());
        }
        out
    }

    /// Restores [`Module::random_state`]; panics unless `state` has its length.
    #[track_caller]
    fn set_random_state(&self, state: &[u64]) {
        let want = self.random_state().len();
        assert!(
            state.len() == want,
            "set_random_state: {} counters given, the module has {want}",
            state.len()
        );
        let own = self.own_random_state().len();
        self.set_own_random_state(&state[..own]);
        let mut pos = own;
        for (_, child) in self.children() {
            let n = child.random_state().len();
            child.set_random_state(&state[pos..pos + n]);
            pos += n;
        }
    }

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
    fn train(&self) {
        self.set_training(true)
    }

    /// Evaluation mode (PyTorch's `model.eval()`).
    fn eval(&self) {
        self.set_training(false)
    }

    /// Forgets every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }
}

impl<T: Real, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        (**self).forward(x)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        (**self).children()
    }
    fn own_parameters(&self) -> Vec<(&str, Tensor<T>)> {
        (**self).own_parameters()
    }
    fn own_buffers(&self) -> Vec<(&str, Tensor<T>)> {
        (**self).own_buffers()
    }
    fn set_own_training(&self, training: bool) {
        (**self).set_own_training(training)
    }
    fn own_random_state(&self) -> Vec<u64> {
        (**self).own_random_state()
    }
    fn set_own_random_state(&self, state: &[u64]) {
        (**self).set_own_random_state(state)
    }
    fn own_counters(&self) -> Vec<(&str, u64)> {
        (**self).own_counters()
    }
    fn set_own_counter(&self, name: &str, value: u64) {
        (**self).set_own_counter(name, value)
    }
    fn named_counters(&self) -> Vec<(String, u64)> {
        (**self).named_counters()
    }
    fn set_counter(&self, name: &str, value: u64) -> bool {
        (**self).set_counter(name, value)
    }
    fn kind(&self) -> LayerKind {
        (**self).kind()
    }
    fn as_conv2d(&self) -> Option<ConvParts<'_, T>> {
        (**self).as_conv2d()
    }
    fn forward_relu_max_pool2d(
        &self,
        x: &Tensor<T>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<Tensor<T>> {
        (**self).forward_relu_max_pool2d(x, kernel, stride, padding)
    }
    fn forward_conv_relu_max_pool2d(
        &self,
        x: &Tensor<T>,
        conv: ConvParts<'_, T>,
        pool: [[usize; 2]; 3],
    ) -> Option<Tensor<T>> {
        (**self).forward_conv_relu_max_pool2d(x, conv, pool)
    }
    fn forward_relu(&self, x: &Tensor<T>) -> Option<Tensor<T>> {
        (**self).forward_relu(x)
    }
    // A module that overrides a derived method (named_parameters, say) keeps its override
    // behind a Box too.
    fn named_modules(&self) -> Vec<(String, &dyn Module<T>)> {
        (**self).named_modules()
    }
    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        (**self).named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Tensor<T>)> {
        (**self).named_buffers()
    }
    fn set_training(&self, training: bool) {
        (**self).set_training(training)
    }
    fn random_state(&self) -> Vec<u64> {
        (**self).random_state()
    }
    fn set_random_state(&self, state: &[u64]) {
        (**self).set_random_state(state)
    }
}

/// The body of a [`Module::children`] that lists fields of `self` by name:
/// `children!(self: conv1, bn1, shortcut)` is
/// `vec![("conv1", &self.conv1 as &dyn Module<_>), ("bn1", &self.bn1 as _), …]`.
///
/// ```
/// # use stitch::nn::{Linear, Module, ReLU};
/// # use stitch::{children, Tensor};
/// struct Mlp { fc1: Linear, act: ReLU, fc2: Linear }
/// impl Module for Mlp {
///     fn children(&self) -> Vec<(&str, &dyn Module)> {
///         children!(self: fc1, act, fc2)
///     }
///     fn forward(&self, x: &Tensor) -> Tensor {
///         self.fc2.forward(&self.act.forward(&self.fc1.forward(x)))
///     }
/// }
/// # let mut rng = stitch::nn::init::rng(0);
/// # let m = Mlp { fc1: Linear::new(4, 3, &mut rng), act: ReLU, fc2: Linear::new(3, 2, &mut rng) };
/// # assert_eq!(m.named_parameters()[2].0, "fc2.weight");
/// ```
#[macro_export]
macro_rules! children {
    ($self:ident : $($field:ident),+ $(,)?) => {
        vec![$((stringify!($field), &$self.$field as &dyn $crate::nn::Module<_>)),+]
    };
}

impl<T: Real> std::fmt::Debug for dyn Module<T> + '_ {
    /// The module's [`Module::describe`] line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
