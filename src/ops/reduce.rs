//! Reductions: `sum` and `mean` over all elements or over one axis.
//!
//! Over an axis, view the input as [outer, n, inner] (n the reduced axis):
//!   forward:  y[o, i] = s · Σⱼ x[o, j, i]      (s = 1 for sum, 1/n for mean)
//!   backward: ∂x[o, j, i] = s · G[o, i]         (every element fed the sum once)
//! Over all elements the same holds with outer = inner = 1; that sum runs the deterministic
//! SIMD kernel.

use stitch_kernels::reduce;

use crate::autograd::Backward;
use crate::{Real, Tensor};

struct ReduceBackward<T> {
    name: &'static str,
    outer: usize,
    n: usize,
    inner: usize,
    scale: T,
}

impl<T: Real> Backward<T> for ReduceBackward<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = Vec::with_capacity(self.outer * self.n * self.inner);
            for o in 0..self.outer {
                let row = &g[o * self.inner..(o + 1) * self.inner];
                for _ in 0..self.n {
                    dx.extend(row.iter().map(|&v| v * self.scale));
                }
            }
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// Σ of all elements, as a scalar tensor (shape `[]`).
    pub fn sum(&self) -> Tensor<T> {
        let _p = crate::profile::scope("sum", crate::profile::Pass::Forward);
        let s = reduce::sum(&self.data());
        let op = ReduceBackward {
            name: "sum",
            outer: 1,
            n: self.numel(),
            inner: 1,
            scale: T::ONE,
        };
        Tensor::from_op(vec![s], &[], &[self], op)
    }

    /// Mean of all elements, as a scalar tensor. NaN for an empty tensor.
    pub fn mean(&self) -> Tensor<T> {
        let _p = crate::profile::scope("mean", crate::profile::Pass::Forward);
        let n = self.numel();
        let scale = T::ONE / T::from_f64(n as f64);
        let s = reduce::sum(&self.data()) * scale;
        let op = ReduceBackward {
            name: "mean",
            outer: 1,
            n,
            inner: 1,
            scale,
        };
        Tensor::from_op(vec![s], &[], &[self], op)
    }

    /// Σ over `axis`; `keepdim` keeps it as a dimension of size 1.
    #[track_caller]
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Tensor<T> {
        self.reduce_axis(axis, keepdim, "sum_axis", false)
    }

    /// Mean over `axis`; `keepdim` keeps it as a dimension of size 1.
    #[track_caller]
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Tensor<T> {
        self.reduce_axis(axis, keepdim, "mean_axis", true)
    }

    #[track_caller]
    fn reduce_axis(&self, axis: usize, keepdim: bool, name: &'static str, mean: bool) -> Tensor<T> {
        let _p = crate::profile::scope(name, crate::profile::Pass::Forward);
        let shape = self.shape();
        assert!(
            axis < shape.len(),
            "{name}: axis {axis} out of range for shape {shape:?}"
        );
        let outer: usize = shape[..axis].iter().product();
        let n = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let scale = if mean {
            T::ONE / T::from_f64(n as f64)
        } else {
            T::ONE
        };
        let x = self.data();
        let mut y = vec![T::ZERO; outer * inner];
        for o in 0..outer {
            let acc = &mut y[o * inner..(o + 1) * inner];
            for j in 0..n {
                let row = &x[(o * n + j) * inner..(o * n + j + 1) * inner];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
            for a in acc.iter_mut() {
                *a *= scale;
            }
        }
        drop(x);
        let mut out_shape = shape.to_vec();
        if keepdim {
            out_shape[axis] = 1;
        } else {
            out_shape.remove(axis);
        }
        Tensor::from_op(
            y,
            &out_shape,
            &[self],
            ReduceBackward {
                name,
                outer,
                n,
                inner,
                scale,
            },
        )
    }
}
