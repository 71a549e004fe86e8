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

/// y = max(x, 0) (NaN stays NaN) and positive\[i\] = \[y\[i\] > 0\] = \[x\[i\] > 0\]: the ReLU
/// with the 1-byte mask its backward needs (∂x = G · \[x > 0\]) instead of x itself.
pub fn relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], x: &[T]) {
    for i in 0..y.len() {
        let keep = x[i] > T::ZERO || x[i].is_nan_value();
        y[i] = if keep { x[i] } else { T::ZERO };
        positive[i] = y[i] > T::ZERO;
    }
}

/// y = max(y, 0) in place (NaN stays NaN) and positive\[i\] = \[y\[i\] > 0\]: the ReLU of a
/// fused op together with the mask its backward needs, ∂x = G · \[y > 0\].
pub fn relu_in_place_mask<T: Real>(y: &mut [T], positive: &mut [bool]) {
    for (v, p) in y.iter_mut().zip(positive) {
        let keep = *v > T::ZERO || v.is_nan_value();
        *v = if keep { *v } else { T::ZERO };
        *p = *v > T::ZERO;
    }
}

/// g\[i\] = g\[i\] where positive\[i\], else 0: the ReLU's backward with its saved mask.
pub fn mask_in_place<T: Real>(g: &mut [T], positive: &[bool]) {
    // A select, not a branch: the signs are as good as random.
    for (v, &p) in g.iter_mut().zip(positive) {
        *v = if p { *v } else { T::ZERO };
    }
}

/// y = max(a + b, 0) (NaN stays NaN) and positive\[i\] = \[y\[i\] > 0\]: the end of a
/// residual block, `relu(a + b)`, with the mask its backward needs, ∂a = ∂b = G · \[y > 0\].
pub fn add_relu_mask<T: Real>(y: &mut [T], positive: &mut [bool], a: &[T], b: &[T]) {
    for i in 0..y.len() {
        let s = a[i] + b[i];
        let keep = s > T::ZERO || s.is_nan_value();
        y[i] = if keep { s } else { T::ZERO };
        positive[i] = y[i] > T::ZERO;
    }
}
