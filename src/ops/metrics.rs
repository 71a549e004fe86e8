//! Non-differentiable helpers for evaluation: `argmax` over the last axis and `accuracy`.

use crate::{Real, Tensor};

/// The index of the largest element of each last-axis row; ties go to the first.
#[track_caller]
pub fn argmax<T: Real>(x: &Tensor<T>) -> Vec<usize> {
    let c = *x
        .shape()
        .last()
        .unwrap_or_else(|| panic!("argmax: needs at least one dimension, got a scalar"));
    assert!(c > 0, "argmax: last axis of {:?} is empty", x.shape());
    x.data()
        .chunks_exact(c)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// Percentage (0–100) of rows of `logits` whose argmax equals the target.
#[track_caller]
pub fn accuracy<T: Real>(logits: &Tensor<T>, targets: &[usize]) -> f64 {
    let pred = argmax(logits);
    assert_eq!(
        pred.len(),
        targets.len(),
        "accuracy: {} predictions for {} targets",
        pred.len(),
        targets.len()
    );
    if targets.is_empty() {
        return 0.0;
    }
    let hits = pred.iter().zip(targets).filter(|(p, t)| p == t).count();
    100.0 * hits as f64 / targets.len() as f64
}

impl<T: Real> Tensor<T> {
    /// See [`argmax`].
    pub fn argmax(&self) -> Vec<usize> {
        argmax(self)
    }
}
