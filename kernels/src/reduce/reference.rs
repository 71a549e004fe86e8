//! The plain reduction loops.

use crate::Real;

/// s = Σᵢ xᵢ, added left to right in f64 (so a long f32 sum keeps f32's precision, as the
/// fast kernel's pieces do; for f64 input this is the plain loop).
pub fn sum<T: Real>(x: &[T]) -> T {
    let mut s = 0.0f64;
    for &v in x {
        s += v.to_f64();
    }
    T::from_f64(s)
}

/// yᵣ = (1/n) Σⱼ x\[r, j\] for each of the `y.len()` rows of `x` (row-major, n = x.len() /
/// rows): the mean over the last axes, global average pooling's forward.
pub fn mean_rows<T: Real>(y: &mut [T], x: &[T]) {
    let n = if y.is_empty() { 0 } else { x.len() / y.len() };
    let inv = T::ONE / T::from_f64(n as f64);
    for (r, out) in y.iter_mut().enumerate() {
        *out = sum(&x[r * n..(r + 1) * n]) * inv;
    }
}

/// dx\[r, j\] = g\[r\] · (1/n): the gradient of [`mean_rows`], every element of a row gets its
/// share.
pub fn mean_rows_backward<T: Real>(d_x: &mut [T], g: &[T]) {
    let n = if g.is_empty() { 0 } else { d_x.len() / g.len() };
    let inv = T::ONE / T::from_f64(n as f64);
    for (r, &gr) in g.iter().enumerate() {
        for v in &mut d_x[r * n..(r + 1) * n] {
            *v = gr * inv;
        }
    }
}
