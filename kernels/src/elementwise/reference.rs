//! The plain loops: one line of math each, the version a learner reads.
//! Callers have checked that every slice has the output's length.

use crate::Real;

/// out = a + b
pub fn add<T: Real>(out: &mut [T], a: &[T], b: &[T]) {
    for i in 0..out.len() {
        out[i] = a[i] + b[i];
    }
}

/// out = a ⊙ b
pub fn mul<T: Real>(out: &mut [T], a: &[T], b: &[T]) {
    for i in 0..out.len() {
        out[i] = a[i] * b[i];
    }
}

/// y = y + α x
pub fn axpy<T: Real>(y: &mut [T], alpha: T, x: &[T]) {
    for i in 0..y.len() {
        y[i] += alpha * x[i];
    }
}

/// out = α x
pub fn scale<T: Real>(out: &mut [T], alpha: T, x: &[T]) {
    for i in 0..out.len() {
        out[i] = alpha * x[i];
    }
}

/// out = max(x, 0); a NaN input stays NaN.
pub fn relu_forward<T: Real>(out: &mut [T], x: &[T]) {
    for i in 0..out.len() {
        out[i] = if x[i] > T::ZERO || x[i].is_nan_value() {
            x[i]
        } else {
            T::ZERO
        };
    }
}

/// ∂L/∂x = ∂L/∂y · \[x > 0\]   (the derivative at x = 0 is taken as 0)
pub fn relu_backward<T: Real>(d_input: &mut [T], d_out: &[T], x: &[T]) {
    for i in 0..d_input.len() {
        d_input[i] = if x[i] > T::ZERO { d_out[i] } else { T::ZERO };
    }
}
