//! The models of the ladder, by name, built exactly as the PyTorch reference builds them
//! (`../shared/reference/pytorch_ladder.py`), with the same parameter counts.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::nn::{
    splitmix64, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential,
};
use crate::ops::Conv2dOptions;

/// Every model name with a one-line description, in ladder order.
pub const MODELS: &[(&str, &str)] = &[
    ("dnn", "step 1: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10); 101,770 parameters"),
    (
        "conv",
        "step 2: Conv2d(1, 32, 3, padding=1) -> ReLU -> Flatten -> Linear(25088, 128) -> ReLU -> Linear(128, 10); 3,213,002 parameters",
    ),
    (
        "conv-pool",
        "step 3: [Conv2d(3x3, padding=1) -> ReLU -> MaxPool2d(2)] x2 (1->32->64) -> Flatten -> Linear(3136, 10); 50,186 parameters",
    ),
    (
        "cnn",
        "step 4: [Conv2d(3x3, padding=1) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> Dropout(0.3)] x2 (1->32->64) -> Flatten -> Linear(3136, 10); 50,378 parameters",
    ),
];

/// The accuracy the seed write-up reports for each step.
pub fn seed_accuracy(name: &str) -> &'static str {
    match name {
        "dnn" => "88.66",
        "conv" => "88.37",
        "conv-pool" => "91.22",
        "cnn" => "~93",
        _ => "-",
    }
}

/// Builds model `name` with PyTorch's default init, drawing from a generator seeded by
/// `seed`; dropout layers get mask seeds derived from it.
pub fn build(name: &str, seed: u64) -> Result<Sequential, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let same = Conv2dOptions::square(1, 1, 1);
    let m = match name {
        "dnn" => Sequential::new()
            .add(Flatten)
            .add(Linear::new(784, 128, &mut rng))
            .add(ReLU)
            .add(Linear::new(128, 10, &mut rng)),
        "conv" => Sequential::new()
            .add(Conv2d::new(1, 32, 3, same, &mut rng))
            .add(ReLU)
            .add(Flatten)
            .add(Linear::new(32 * 28 * 28, 128, &mut rng))
            .add(ReLU)
            .add(Linear::new(128, 10, &mut rng)),
        "conv-pool" => Sequential::new()
            .add(Conv2d::new(1, 32, 3, same, &mut rng))
            .add(ReLU)
            .add(MaxPool2d::new(2))
            .add(Conv2d::new(32, 64, 3, same, &mut rng))
            .add(ReLU)
            .add(MaxPool2d::new(2))
            .add(Flatten)
            .add(Linear::new(64 * 7 * 7, 10, &mut rng)),
        "cnn" => {
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
        _ => {
            let names: Vec<&str> = MODELS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown model '{name}'; the models are: {}",
                names.join(", ")
            ));
        }
    };
    Ok(m)
}
