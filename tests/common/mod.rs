#![allow(dead_code)]
//! Helpers shared by the integration tests.

pub mod cli;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stitch::Tensor;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// f64 values uniform in [-1, 1).
pub fn rand64(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut rng(seed))
}

/// f64 values uniform in [lo, hi).
pub fn rand_range(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, lo, hi, &mut rng(seed))
}

/// Values at least `gap` away from 0 in absolute value (keeps ReLU away from its kink).
pub fn away_from_zero(shape: &[usize], gap: f64, seed: u64) -> Tensor<f64> {
    let t = rand64(shape, seed);
    let v = t
        .to_vec()
        .into_iter()
        .map(|x| if x >= 0.0 { x + gap } else { x - gap })
        .collect();
    Tensor::from_vec(v, shape)
}

/// The non-trivial head `(y ⊙ r).sum()` with a fixed random `r`: the upstream gradient of
/// the op under test is `r`, not all ones, so a wrong transpose or broadcast cannot hide.
pub fn head(y: &Tensor<f64>, seed: u64) -> Tensor<f64> {
    let r = rand64(y.shape(), 10_000 + seed);
    y.mul(&r).sum()
}
