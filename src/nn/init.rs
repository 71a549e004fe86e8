//! PyTorch's default initialisations.
//!
//! `nn.Linear` and `nn.Conv2d` call `kaiming_uniform_(weight, a=√5)`: uniform in ±bound with
//! bound = gain · √(3 / fan_in) and gain = √(2 / (1 + a²)) = √(1/3), which simplifies to
//! bound = 1 / √fan_in. Their bias is uniform in ±1 / √fan_in as well.
//!
//! ## Which random number generator
//! Layer constructors take `&mut impl rand::Rng` of the `rand` crate stitch is built with,
//! re-exported as [`stitch::rand`](crate::rand) (and [`stitch::rand_chacha`](crate::rand_chacha)):
//! use those paths, or [`rng`] below, rather than a `rand` of your own, whose version may
//! differ (two versions of `rand_core` do not mix, and the compiler then reports "multiple
//! different versions of crate rand_core"). The built-in models draw from [`rng`]`(seed)`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator the built-in models draw their initial weights from: ChaCha8 seeded with
/// `seed`, the same stream on every machine.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

use crate::{Real, Tensor};

/// The bound of PyTorch's default weight and bias init for a layer with `fan_in` inputs
/// per output (in_features, or in_channels · kernel area).
pub fn default_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in.max(1) as f64).sqrt()
}

/// Uniform in ±[`default_bound`]`(fan_in)`, requiring grad.
pub fn default_uniform<T: Real>(shape: &[usize], fan_in: usize, rng: &mut impl Rng) -> Tensor<T> {
    let b = default_bound(fan_in);
    Tensor::rand_uniform(shape, -b, b, rng).requires_grad_()
}
