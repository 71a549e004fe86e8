//! Ops that only change how elements are indexed: `reshape`, `flatten`, `flatten_from`
//! (views over the same storage: no copy) and the 2-D transpose `t` (a copy, since storage
//! is always contiguous). Their backward rules undo the re-indexing on the gradient.

use crate::autograd::Backward;
use crate::tensor::shape::numel;
use crate::{Real, Tensor};

struct ReshapeBackward;

impl<T: Real> Backward<T> for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    /// The gradient's elements are in the same row-major order; only the shape differs.
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| g.to_vec())]
    }

    /// Hands the gradient buffer on as it is: no copy.
    fn backward_owned(&self, g: Vec<T>, _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then_some(g)]
    }

    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn forwards_gradient(&self, _i: usize) -> bool {
        true
    }
}

struct TransposeBackward {
    rows: usize,
    cols: usize,
}

impl<T: Real> Backward<T> for TransposeBackward {
    fn name(&self) -> &'static str {
        "t"
    }
    /// ∂x = Gᵀ: the output was [cols, rows], the input [rows, cols].
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| transpose(g, self.cols, self.rows))]
    }
}

/// The transpose of a row-major `rows × cols` matrix.
fn transpose<T: Real>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = x[i * cols + j];
        }
    }
    out
}

impl<T: Real> Tensor<T> {
    /// The same elements under a new shape with the same element count; shares storage.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor<T> {
        assert!(
            numel(shape) == self.numel(),
            "reshape: cannot view {:?} ({} elements) as {:?} ({} elements)",
            self.shape(),
            self.numel(),
            shape,
            numel(shape)
        );
        Tensor::view_from_op(self, shape, ReshapeBackward)
    }

    /// All elements in one dimension.
    pub fn flatten(&self) -> Tensor<T> {
        self.reshape(&[self.numel()])
    }

    /// Dimensions `dim..` merged into one, as `torch.flatten(x, dim)`; `flatten_from(1)` is
    /// what `nn.Flatten` does to `[N, C, H, W]`.
    #[track_caller]
    pub fn flatten_from(&self, dim: usize) -> Tensor<T> {
        assert!(
            dim <= self.ndim(),
            "flatten_from: dim {dim} out of range for shape {:?}",
            self.shape()
        );
        let mut shape = self.shape()[..dim].to_vec();
        shape.push(self.shape()[dim..].iter().product());
        self.reshape(&shape)
    }

    /// The transpose of a 2-D tensor.
    #[track_caller]
    pub fn t(&self) -> Tensor<T> {
        let _p = crate::profile::scope("t", crate::profile::Pass::Forward);
        let (rows, cols) = match self.shape() {
            &[r, c] => (r, c),
            s => panic!("t: needs a 2-D tensor, got shape {s:?}"),
        };
        let data = transpose(&self.data(), rows, cols);
        Tensor::from_op(
            data,
            &[cols, rows],
            &[self],
            TransposeBackward { rows, cols },
        )
    }
}
