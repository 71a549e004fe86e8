//! The models of the ladder, by name, built exactly as the PyTorch reference builds them.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::nn::{Flatten, Linear, ReLU, Sequential};

/// Every model name with a one-line description.
pub const MODELS: &[(&str, &str)] = &[(
    "dnn",
    "step 1: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10); 101,770 parameters",
)];

/// Builds model `name` with PyTorch's default init, drawing from a generator seeded by `seed`.
pub fn build(name: &str, seed: u64) -> Result<Sequential, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    match name {
        "dnn" => Ok(Sequential::new()
            .add(Flatten)
            .add(Linear::new(784, 128, &mut rng))
            .add(ReLU)
            .add(Linear::new(128, 10, &mut rng))),
        _ => {
            let names: Vec<&str> = MODELS.iter().map(|(n, _)| *n).collect();
            Err(format!(
                "unknown model '{name}'; the models are: {}",
                names.join(", ")
            ))
        }
    }
}
