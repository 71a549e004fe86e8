//! `Dropout(p)`: inverted dropout in training mode, the identity in evaluation mode.
//!
//! Each forward call in training mode draws a fresh 64-bit mask key from the layer's seed
//! and a call counter (SplitMix64 of seed + counter), so the masks follow from the seed
//! alone and do not depend on threads or timing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Module;
use crate::{Real, Tensor};

/// Inverted dropout with probability `p`, its masks drawn from a seed and a call counter.
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
    training: AtomicBool,
    seed: u64,
    calls: AtomicU64,
}

/// SplitMix64's output function: a bijection that scatters nearby inputs.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dropout {
    /// Panics unless 0 ≤ p < 1.
    #[track_caller]
    pub fn new(p: f64, seed: u64) -> Self {
        if let Err(e) = stitch_kernels::dropout::validate_p(p) {
            panic!("{e}");
        }
        Dropout {
            p,
            training: AtomicBool::new(true),
            seed,
            calls: AtomicU64::new(0),
        }
    }

    /// Forward calls made in training mode so far (the state that picks the next mask).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Whether the layer drops (training mode) or is the identity.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// Sets the call counter (to resume a run exactly).
    pub fn set_calls(&self, calls: u64) {
        self.calls.store(calls, Ordering::Relaxed);
    }
}

impl<T: Real> Module<T> for Dropout {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if !self.is_training() || self.p == 0.0 {
            return x.clone();
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        x.dropout(self.p, splitmix64(self.seed ^ splitmix64(call)))
    }

    fn describe(&self) -> String {
        format!("Dropout(p={})", self.p)
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn own_random_state(&self) -> Vec<u64> {
        vec![self.calls()]
    }

    fn set_own_random_state(&self, state: &[u64]) {
        self.set_calls(state[0]);
    }
}
