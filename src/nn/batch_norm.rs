//! `BatchNorm2d(C)` and `BatchNorm1d(C)`: PyTorch's layers with γ = 1, β = 0, running mean 0
//! and running variance 1 at the start, momentum 0.1 and ε = 1e-5. The running statistics
//! are buffers: saved in checkpoints, not trained.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{ConvParts, Module};
use crate::ops::BatchNormOptions;
use crate::{Real, Tensor};

/// Batch norm over N (and H, W for 4-D inputs) per channel.
pub struct BatchNorm<T: Real = f32> {
    /// γ, the per-channel scale (PyTorch's `weight`).
    pub weight: Tensor<T>,
    /// β, the per-channel shift (PyTorch's `bias`).
    pub bias: Tensor<T>,
    /// The running mean per channel, updated in training mode.
    pub running_mean: Tensor<T>,
    /// The running (unbiased) variance per channel.
    pub running_var: Tensor<T>,
    /// The options used.
    pub options: BatchNormOptions,
    training: AtomicBool,
    num_batches_tracked: AtomicU64,
    dims: usize,
}

/// Batch norm of [N, C, H, W] inputs.
pub type BatchNorm2d<T = f32> = BatchNorm<T>;
/// Batch norm of [N, C] inputs.
pub type BatchNorm1d<T = f32> = BatchNorm<T>;

impl<T: Real> BatchNorm<T> {
    fn with_dims(channels: usize, dims: usize) -> Self {
        BatchNorm {
            weight: Tensor::ones(&[channels]).requires_grad_(),
            bias: Tensor::zeros(&[channels]).requires_grad_(),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            options: BatchNormOptions::default(),
            training: AtomicBool::new(true),
            num_batches_tracked: AtomicU64::new(0),
            dims,
        }
    }

    /// For [N, C, H, W] inputs.
    pub fn new_2d(channels: usize) -> Self {
        Self::with_dims(channels, 4)
    }

    /// For [N, C] inputs.
    pub fn new_1d(channels: usize) -> Self {
        Self::with_dims(channels, 2)
    }

    /// Whether the layer normalizes with the batch's statistics (training mode) or with the
    /// running ones.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// What every forward does first: checks x's rank and, in training mode, counts the
    /// batch (`num_batches_tracked`).
    #[track_caller]
    fn begin_batch(&self, x: &Tensor<T>) {
        assert!(
            x.ndim() == self.dims,
            "BatchNorm{}d: input {:?} must have {} dimensions",
            self.dims - 2,
            x.shape(),
            self.dims
        );
        if self.is_training() {
            self.num_batches_tracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `relu(self.forward(x))` as the one fused op [`Tensor::batch_norm_relu`]: the same
    /// values, gradients and running statistics, one full-size pass and mask fewer (the
    /// conv → BN → ReLU of a residual block).
    #[track_caller]
    pub fn forward_relu(&self, x: &Tensor<T>) -> Tensor<T> {
        self.begin_batch(x);
        x.batch_norm_relu(
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
        )
    }

    /// `relu(self.forward(x) + shortcut)` as the one fused op [`Tensor::batch_norm_add_relu`]:
    /// the same values, gradients and running statistics without batch norm's output ever
    /// written at full size (the end of a residual block).
    #[track_caller]
    pub fn forward_add_relu(&self, x: &Tensor<T>, shortcut: &Tensor<T>) -> Tensor<T> {
        self.begin_batch(x);
        x.batch_norm_add_relu(
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
            shortcut,
        )
    }

    /// `relu(self.forward(conv.forward(x)))` as [`Tensor::conv2d_batch_norm_relu`]: the
    /// same bits, batch norm's statistics taken by the convolution as it writes each image
    /// (a residual block's conv → BN → ReLU).
    #[track_caller]
    pub fn forward_conv_relu(&self, conv: &super::Conv2d<T>, x: &Tensor<T>) -> Tensor<T> {
        self.begin_batch(x);
        x.conv2d_batch_norm_relu(
            &conv.weight,
            conv.bias.as_ref(),
            conv.options,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
        )
    }

    /// `relu(self.forward(conv.forward(x)) + shortcut)` as
    /// [`Tensor::conv2d_batch_norm_add_relu`] (a residual block's end): the same bits, batch
    /// norm's statistics taken by the convolution.
    #[track_caller]
    pub fn forward_conv_add_relu(
        &self,
        conv: &super::Conv2d<T>,
        x: &Tensor<T>,
        shortcut: &Tensor<T>,
    ) -> Tensor<T> {
        self.begin_batch(x);
        x.conv2d_batch_norm_add_relu(
            &conv.weight,
            conv.bias.as_ref(),
            conv.options,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
            shortcut,
        )
    }

    /// Training-mode forward calls so far (PyTorch's `num_batches_tracked`; it weighs the
    /// running statistics only when momentum is `None`, which stitch does not offer, but it
    /// is part of the layer's `state_dict`).
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked.load(Ordering::Relaxed)
    }
}

impl<T: Real> Module<T> for BatchNorm<T> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.begin_batch(x);
        x.batch_norm(
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
        )
    }

    /// BatchNorm → ReLU as [`Tensor::batch_norm_relu`] (for [`Sequential`](super::Sequential)'s
    /// fusion; a model's `forward` may call [`BatchNorm::forward_relu`] directly).
    fn forward_relu(&self, x: &Tensor<T>) -> Option<Tensor<T>> {
        (x.ndim() == self.dims).then(|| self.forward_relu(x))
    }

    /// BatchNorm2d → ReLU → max-pool as [`Tensor::batch_norm_relu_max_pool2d`].
    fn forward_relu_max_pool2d(
        &self,
        x: &Tensor<T>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<Tensor<T>> {
        if self.dims != 4 || x.ndim() != 4 {
            return None;
        }
        if self.is_training() {
            self.num_batches_tracked.fetch_add(1, Ordering::Relaxed);
        }
        Some(x.batch_norm_relu_max_pool2d(
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
            kernel,
            stride,
            padding,
        ))
    }

    /// Conv2d → BatchNorm2d → ReLU → max-pool as
    /// [`Tensor::conv2d_batch_norm_relu_max_pool2d`].
    fn forward_conv_relu_max_pool2d(
        &self,
        x: &Tensor<T>,
        (weight, bias, conv): ConvParts<'_, T>,
        [kernel, stride, padding]: [[usize; 2]; 3],
    ) -> Option<Tensor<T>> {
        if self.dims != 4 || x.ndim() != 4 {
            return None;
        }
        if self.is_training() {
            self.num_batches_tracked.fetch_add(1, Ordering::Relaxed);
        }
        Some(x.conv2d_batch_norm_relu_max_pool2d(
            weight,
            bias,
            conv,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            self.is_training(),
            self.options,
            kernel,
            stride,
            padding,
        ))
    }

    fn describe(&self) -> String {
        format!("BatchNorm{}d({})", self.dims - 2, self.weight.numel())
    }

    fn own_parameters(&self) -> Vec<(&str, Tensor<T>)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }

    fn own_buffers(&self) -> Vec<(&str, Tensor<T>)> {
        vec![
            ("running_mean", self.running_mean.clone()),
            ("running_var", self.running_var.clone()),
        ]
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn own_counters(&self) -> Vec<(&str, u64)> {
        vec![("num_batches_tracked", self.num_batches_tracked())]
    }

    fn set_own_counter(&self, name: &str, value: u64) {
        if name == "num_batches_tracked" {
            self.num_batches_tracked.store(value, Ordering::Relaxed);
        }
    }
}
