//! `resnet20`: the CIFAR-style ResNet-20 of He et al. (2016) for 1×28×28 images, as
//! `../shared/reference/pytorch_deep.py` builds it, with its parameter names:
//!
//! ```text
//! conv (1→16, 3×3, no bias) → bn → ReLU
//! layers.0–2  basic blocks 16 → 16 at 28×28
//! layers.3–5  32 channels at 14×14 (layers.3: stride 2, 1×1 projection shortcut)
//! layers.6–8  64 channels at 7×7   (layers.6: stride 2, 1×1 projection shortcut)
//! mean over (H, W) → fc (64 → 10)
//! ```
//! 272,186 parameters. A basic block is conv3×3 → BN → ReLU → conv3×3 → BN, plus the
//! shortcut (the identity, or conv1×1 → BN where the shape changes), then ReLU.

use crate::nn::{init, BatchNorm2d, Conv2d, Linear, Module, Sequential};
use crate::ops::Conv2dOptions;
use crate::{children, Real, Tensor};

/// He et al.'s basic block.
pub struct BasicBlock<T: Real = f32> {
    /// The first 3×3 convolution (it carries the block's stride).
    pub conv1: Conv2d<T>,
    /// Its batch norm.
    pub bn1: BatchNorm2d<T>,
    /// The second 3×3 convolution.
    pub conv2: Conv2d<T>,
    /// Its batch norm.
    pub bn2: BatchNorm2d<T>,
    /// Empty (the identity), or conv1×1 → BN where the shape changes.
    pub shortcut: Sequential<T>,
}

impl<T: Real> BasicBlock<T> {
    /// `cin` → `cout` channels, the first convolution with `stride`; PyTorch's default init
    /// drawn from `rng` in the reference's order (conv1, conv2, then the shortcut).
    pub fn new(cin: usize, cout: usize, stride: usize, rng: &mut impl rand::Rng) -> Self {
        let conv1 = Conv2d::no_bias(cin, cout, 3, Conv2dOptions::square(stride, 1, 1), rng);
        let conv2 = Conv2d::no_bias(cout, cout, 3, Conv2dOptions::same(3), rng);
        let mut shortcut = Sequential::new();
        if stride != 1 || cin != cout {
            shortcut = shortcut
                .add(Conv2d::no_bias(
                    cin,
                    cout,
                    1,
                    Conv2dOptions::square(stride, 0, 1),
                    rng,
                ))
                .add(BatchNorm2d::new_2d(cout));
        }
        BasicBlock {
            conv1,
            bn1: BatchNorm2d::new_2d(cout),
            conv2,
            bn2: BatchNorm2d::new_2d(cout),
            shortcut,
        }
    }
}

impl<T: Real> Module<T> for BasicBlock<T> {
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        children!(self: conv1, bn1, conv2, bn2, shortcut)
    }

    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let h = self.bn1.forward_conv_relu(&self.conv1, x);
        if !crate::ops::fusion_enabled() {
            // conv2 before the shortcut, in PyTorch's order (what `summary` lists).
            let y = self.conv2.forward(&h);
            return self.bn2.forward_add_relu(&y, &self.shortcut.forward(x));
        }
        // The fused op takes the shortcut ready, and batch norm's statistics from conv2.
        let shortcut = self.shortcut.forward(x);
        self.bn2.forward_conv_add_relu(&self.conv2, &h, &shortcut)
    }

    fn describe(&self) -> String {
        let s = self.conv1.weight.shape();
        format!(
            "BasicBlock({} -> {}, stride {})",
            s[1], s[0], self.conv1.options.stride[0]
        )
    }
}

/// ResNet-20 for Fashion-MNIST.
pub struct ResNet20<T: Real = f32> {
    /// The stem convolution, 1 → 16.
    pub conv: Conv2d<T>,
    /// Its batch norm.
    pub bn: BatchNorm2d<T>,
    /// The nine basic blocks.
    pub layers: Sequential<T>,
    /// The classifier, 64 → 10.
    pub fc: Linear<T>,
}

impl<T: Real> ResNet20<T> {
    /// PyTorch's default init from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = init::rng(seed);
        let conv = Conv2d::no_bias(1, 16, 3, Conv2dOptions::same(3), &mut rng);
        let mut layers = Sequential::new();
        let mut cin = 16;
        for (cout, stride) in [(16, 1), (32, 2), (64, 2)] {
            for i in 0..3 {
                let s = if i == 0 { stride } else { 1 };
                layers.push(Box::new(BasicBlock::new(cin, cout, s, &mut rng)));
                cin = cout;
            }
        }
        let fc = Linear::new(64, 10, &mut rng);
        ResNet20 {
            conv,
            bn: BatchNorm2d::new_2d(16),
            layers,
            fc,
        }
    }
}

impl<T: Real> Module<T> for ResNet20<T> {
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        children!(self: conv, bn, layers, fc)
    }

    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let h = self.bn.forward_conv_relu(&self.conv, x);
        let h = self.layers.forward(&h);
        self.fc.forward(&h.mean_dims(&[2, 3], false))
    }

    fn describe(&self) -> String {
        "ResNet20".into()
    }
}
