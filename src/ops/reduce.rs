//! Reductions: `sum` and `mean` over all elements or over one axis.
//!
//! Over an axis, view the input as [outer, n, inner] (n the reduced axis):
//!   forward:  y[o, i] = s · Σⱼ x[o, j, i]      (s = 1 for sum, 1/n for mean)
//!   backward: ∂x[o, j, i] = s · G[o, i]         (every element fed the sum once)
//! Over all elements the same holds with outer = inner = 1; that sum runs the deterministic
//! SIMD kernel.

use stitch_kernels::reduce::{self, mean_rows, mean_rows_backward};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
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

/// Backward of the mean over the trailing axes: every element of a row gets G_r / n.
struct MeanRowsBackward {
    rows: usize,
    n: usize,
}

impl<T: Real> Backward<T> for MeanRowsBackward {
    fn name(&self) -> &'static str {
        "mean_rows"
    }

    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 4 * (self.rows * (self.n + 1)) as u64)
    }

    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(self.rows * self.n, T::ZERO);
            mean_rows_backward(&mut dx, g);
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// The mean over the dimensions `dims` (each at most once, any order), PyTorch's
    /// `x.mean(dim=dims, keepdim=keepdim)`. When `dims` are the last dimensions (global
    /// average pooling's (2, 3) of NCHW), one pass of the row-mean kernel does it: each
    /// row's SIMD sum on its own thread; otherwise the axes are reduced one by one.
    #[track_caller]
    pub fn mean_dims(&self, dims: &[usize], keepdim: bool) -> Tensor<T> {
        let nd = self.ndim();
        let mut sorted = dims.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert!(
            sorted.len() == dims.len() && sorted.iter().all(|&d| d < nd),
            "mean_dims: dims {dims:?} must be distinct and below the rank of {:?}",
            self.shape()
        );
        let mut out_shape: Vec<usize> = Vec::new();
        for (d, &s) in self.shape().iter().enumerate() {
            if !sorted.contains(&d) {
                out_shape.push(s);
            } else if keepdim {
                out_shape.push(1);
            }
        }
        let trailing = sorted
            .iter()
            .enumerate()
            .all(|(i, &d)| d == nd - sorted.len() + i);
        if !trailing {
            let mut y = self.clone();
            for &d in sorted.iter().rev() {
                y = y.mean_axis(d, true);
            }
            return y.reshape(&out_shape);
        }
        let n: usize = sorted.iter().map(|&d| self.shape()[d]).product();
        let rows = self.numel() / n.max(1);
        let _p = crate::profile::scope_with(
            "mean_rows",
            crate::profile::Pass::Forward,
            0,
            4 * (self.numel() + rows) as u64,
        );
        let mut y = take(rows, T::ZERO);
        mean_rows(&mut y, &self.data());
        Tensor::from_op(y, &out_shape, &[self], MeanRowsBackward { rows, n })
    }

    /// Global average pooling: [N, C, H, W] → [N, C, 1, 1], the mean of each channel's
    /// plane (PyTorch's `F.adaptive_avg_pool2d(x, 1)`).
    #[track_caller]
    pub fn global_avg_pool2d(&self) -> Tensor<T> {
        assert!(
            self.ndim() == 4,
            "global_avg_pool2d: input {:?} must be [N, C, H, W]",
            self.shape()
        );
        self.mean_dims(&[2, 3], true)
    }

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
