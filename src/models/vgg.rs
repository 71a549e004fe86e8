//! `vgg-small`: a VGG-style net for 1×28×28 images, as `../shared/reference/pytorch_deep.py`
//! builds it (an `nn.Sequential`, so its parameters are named `0.weight`, `1.running_mean`,
//! …):
//!
//! ```text
//! per stage, widths 32, 64, 128: 2 × [Conv2d(3×3, padding=1, no bias) → BatchNorm2d → ReLU],
//!                                then MaxPool2d(2)        (28 → 14 → 7 → 3)
//! AdaptiveAvgPool2d(1) → Flatten → Linear(128, 10)
//! ```
//! 288,170 parameters.

use crate::nn::{
    init, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use crate::ops::Conv2dOptions;
use crate::Real;

/// VGG-small with PyTorch's default init from `seed`.
pub fn vgg_small<T: Real>(seed: u64) -> Sequential<T> {
    let mut rng = init::rng(seed);
    let mut net = Sequential::new();
    let mut cin = 1;
    for width in [32, 64, 128] {
        for _ in 0..2 {
            net = net
                .add(Conv2d::no_bias(
                    cin,
                    width,
                    3,
                    Conv2dOptions::same(3),
                    &mut rng,
                ))
                .add(BatchNorm2d::new_2d(width))
                .add(ReLU);
            cin = width;
        }
        net = net.add(MaxPool2d::new(2));
    }
    net.add(AdaptiveAvgPool2d::new(1))
        .add(Flatten)
        .add(Linear::new(128, 10, &mut rng))
}
