//! A small residual network written as a user writes one, against the public API only
//! (shared by `tests/residual.rs` and `benches/user_model.rs`).

use stitch::nn::{init, BatchNorm2d, Conv2d, GlobalAvgPool2d, Linear, Module, Sequential};
use stitch::{Conv2dOptions, Real, Tensor};

/// conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.
pub struct Block<T: Real = f32> {
    conv1: Conv2d<T>,
    bn1: BatchNorm2d<T>,
    conv2: Conv2d<T>,
    bn2: BatchNorm2d<T>,
    shortcut: Sequential<T>,
}

impl<T: Real> Block<T> {
    pub fn new(cin: usize, cout: usize, stride: usize, rng: &mut impl stitch::rand::Rng) -> Self {
        let conv = |i, o, k, s, p, rng: &mut _| {
            Conv2d::no_bias(i, o, k, Conv2dOptions::square(s, p, 1), rng)
        };
        let mut shortcut = Sequential::new();
        if stride != 1 || cin != cout {
            shortcut = shortcut
                .add(conv(cin, cout, 1, stride, 0, rng))
                .add(BatchNorm2d::new_2d(cout));
        }
        Block {
            conv1: conv(cin, cout, 3, stride, 1, rng),
            bn1: BatchNorm2d::new_2d(cout),
            conv2: conv(cout, cout, 3, 1, 1, rng),
            bn2: BatchNorm2d::new_2d(cout),
            shortcut,
        }
    }
}

impl<T: Real> Module<T> for Block<T> {
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        stitch::children!(self: conv1, bn1, conv2, bn2, shortcut)
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let h = self.bn1.forward(&self.conv1.forward(x)).relu();
        self.bn2
            .forward(&self.conv2.forward(&h))
            .add_relu(&self.shortcut.forward(x))
    }
}

/// Stem (conv 1→16, BN, ReLU), two identity blocks, a stride-2 block to 32 channels with a
/// 1×1 projection, global average pooling, Linear(32, 10).
pub struct MiniResNet<T: Real = f32> {
    stem: Sequential<T>,
    layers: Sequential<T>,
    pool: GlobalAvgPool2d,
    fc: Linear<T>,
}

impl<T: Real> MiniResNet<T> {
    pub fn new(seed: u64) -> Self {
        let mut rng = init::rng(seed);
        let stem = Sequential::new()
            .add(Conv2d::no_bias(1, 16, 3, Conv2dOptions::same(3), &mut rng))
            .add(BatchNorm2d::new_2d(16))
            .add(stitch::nn::ReLU);
        let layers = Sequential::new()
            .add(Block::new(16, 16, 1, &mut rng))
            .add(Block::new(16, 16, 1, &mut rng))
            .add(Block::new(16, 32, 2, &mut rng));
        MiniResNet {
            stem,
            layers,
            pool: GlobalAvgPool2d::global(),
            fc: Linear::new(32, 10, &mut rng),
        }
    }
}

impl<T: Real> Module<T> for MiniResNet<T> {
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        stitch::children!(self: stem, layers, pool, fc)
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let h = self
            .pool
            .forward(&self.layers.forward(&self.stem.forward(x)));
        self.fc.forward(&h.flatten_from(1))
    }
}
