//! The plain Adam loop.

use super::AdamStep;
use crate::Real;

/// See the module docs for the formula; one element at a time.
pub fn adam_step<T: Real>(
    weight: &mut [T],
    exp_avg: &mut [T],
    exp_avg_sq: &mut [T],
    grad: &[T],
    h: &AdamStep<T>,
) {
    for i in 0..weight.len() {
        let g = grad[i] + h.l2 * weight[i];
        let w = weight[i] * h.decay;
        let m = exp_avg[i] + h.one_minus_beta1 * (g - exp_avg[i]);
        let v = h.beta2 * exp_avg_sq[i] + h.one_minus_beta2 * g * g;
        let denom = v.sqrt() / h.bias_correction2_sqrt + h.eps;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        weight[i] = w - h.step_size * (m / denom);
    }
}
