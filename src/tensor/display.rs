//! PyTorch-like printing: `tensor([[0.1000, 2.0000], …], shape=[2, 2], dtype=f32)`.
//!
//! Tensors over 1000 elements are summarized: each dimension longer than 6 shows its first
//! three and last three entries around `...`, as `torch.set_printoptions` does by default.

use std::fmt;

use super::Tensor;
use crate::Real;

const SUMMARIZE_ABOVE: usize = 1000;
const EDGE: usize = 3;

fn write_dim<T: Real>(
    f: &mut fmt::Formatter<'_>,
    data: &[T],
    shape: &[usize],
    summarize: bool,
    depth: usize,
) -> fmt::Result {
    if shape.is_empty() {
        return write!(f, "{:.4}", data[0]);
    }
    let n = shape[0];
    let inner: usize = shape[1..].iter().product();
    let show: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain([None])
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    write!(f, "[")?;
    for (k, i) in show.iter().enumerate() {
        if k > 0 {
            if shape.len() > 1 {
                write!(f, ",\n{}", " ".repeat(depth + 8))?;
            } else {
                write!(f, ", ")?;
            }
        }
        match i {
            Some(i) => write_dim(
                f,
                &data[i * inner..(i + 1) * inner],
                &shape[1..],
                summarize,
                depth + 1,
            )?,
            None => write!(f, "...")?,
        }
    }
    write!(f, "]")
}

impl<T: Real> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data();
        write!(f, "tensor(")?;
        if data.is_empty() {
            write!(f, "[]")?;
        } else {
            write_dim(f, &data, self.shape(), data.len() > SUMMARIZE_ABOVE, 0)?;
        }
        write!(f, ", shape={:?}, dtype={}", self.shape(), T::NAME)?;
        if let Some(op) = self.grad_fn_name() {
            write!(f, ", grad_fn={op}")?;
        } else if self.requires_grad() {
            write!(f, ", requires_grad=true")?;
        }
        write!(f, ")")
    }
}

impl<T: Real> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
