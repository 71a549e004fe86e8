//! The four models of the ladder, built exactly as the PyTorch reference builds them
//! (`../shared/reference/pytorch_ladder.py`), with the same parameter counts and names.
//! Each is generic over the element type, so the same model exists in f64 for gradient
//! checks.

use crate::nn::{
    init, splitmix64, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use crate::ops::Conv2dOptions;
use crate::Real;

/// Step 1: Flatten → Linear(784, 128) → ReLU → Linear(128, 10); 101,770 parameters.
pub fn dnn<T: Real>(seed: u64) -> Sequential<T> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Flatten)
        .add(Linear::new(784, 128, &mut rng))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng))
}

/// Step 2: Conv2d(1, 32, 3, padding=1) → ReLU → Flatten → Linear(25088, 128) → ReLU →
/// Linear(128, 10); 3,213,002 parameters.
pub fn conv<T: Real>(seed: u64) -> Sequential<T> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Conv2d::new(1, 32, 3, Conv2dOptions::same(3), &mut rng))
        .add(ReLU)
        .add(Flatten)
        .add(Linear::new(32 * 28 * 28, 128, &mut rng))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng))
}

/// Step 3: [Conv2d(3×3, padding=1) → ReLU → MaxPool2d(2)] × 2 (1 → 32 → 64) → Flatten →
/// Linear(3136, 10); 50,186 parameters.
pub fn conv_pool<T: Real>(seed: u64) -> Sequential<T> {
    let mut rng = init::rng(seed);
    let same = Conv2dOptions::same(3);
    Sequential::new()
        .add(Conv2d::new(1, 32, 3, same, &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, 3, same, &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::new(64 * 7 * 7, 10, &mut rng))
}

/// Step 4, the write-up's final model: [Conv2d(3×3, padding=1) → BatchNorm2d → ReLU →
/// MaxPool2d(2) → Dropout(0.3)] × 2 (1 → 32 → 64) → Flatten → Linear(3136, 10); 50,378
/// parameters. The dropout layers' mask seeds derive from `seed`.
pub fn cnn<T: Real>(seed: u64) -> Sequential<T> {
    let mut rng = init::rng(seed);
    let same = Conv2dOptions::same(3);
    let dropout_seed = splitmix64(seed ^ 0xD80F_0D80);
    Sequential::new()
        .add(Conv2d::new(1, 32, 3, same, &mut rng))
        .add(BatchNorm2d::new_2d(32))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Dropout::new(0.3, dropout_seed))
        .add(Conv2d::new(32, 64, 3, same, &mut rng))
        .add(BatchNorm2d::new_2d(64))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Dropout::new(0.3, splitmix64(dropout_seed)))
        .add(Flatten)
        .add(Linear::new(64 * 7 * 7, 10, &mut rng))
}
