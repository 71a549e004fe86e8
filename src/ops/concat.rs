//! Concatenation along one dimension as an autograd op, PyTorch's `torch.cat(xs, dim)`;
//! the copies are `stitch_kernels::concat`.
//!   y = [x₀ | x₁ | …] along `dim`      ∂xₖ = the slice of G that xₖ filled
//! Viewing each input as [outer, Cₖ, inner] (outer = the dimensions before `dim`, inner
//! those after it) makes every `dim` the kernels' channel concatenation.

use stitch_kernels::concat::{concat_channels, slice_channels};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

struct CatBackward {
    outer: usize,
    inner: usize,
    sizes: Vec<usize>,
}

impl<T: Real> Backward<T> for CatBackward {
    fn name(&self) -> &'static str {
        "cat"
    }
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        let total: usize = self.sizes.iter().sum();
        (0, 8 * (self.outer * total * self.inner) as u64)
    }
    fn reads_input(&self, _i: usize) -> bool {
        false
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let total: usize = self.sizes.iter().sum();
        let mut start = 0;
        self.sizes
            .iter()
            .zip(needs)
            .map(|(&c, &need)| {
                let first = start;
                start += c;
                need.then(|| {
                    let mut d = take(self.outer * c * self.inner, T::ZERO);
                    slice_channels(&mut d, g, self.outer, total, first, c, self.inner);
                    d
                })
            })
            .collect()
    }
}

impl<T: Real> Tensor<T> {
    /// The tensors side by side along `dim` (every other dimension equal), PyTorch's
    /// `torch.cat(tensors, dim)`: `dim = 1` concatenates the channels of NCHW batches, as a
    /// DenseNet or Inception block does.
    #[track_caller]
    pub fn cat(tensors: &[&Tensor<T>], dim: usize) -> Tensor<T> {
        assert!(!tensors.is_empty(), "cat: needs at least one tensor");
        let first = tensors[0].shape();
        assert!(
            dim < first.len(),
            "cat: dim {dim} out of range for shape {first:?}"
        );
        for (k, t) in tensors.iter().enumerate() {
            let s = t.shape();
            let same = s.len() == first.len()
                && s.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(d, (a, b))| d == dim || a == b);
            assert!(
                same,
                "cat: tensor {k} has shape {s:?}, which differs from tensor 0's {first:?} outside dim {dim}"
            );
        }
        let outer: usize = first[..dim].iter().product();
        let inner: usize = first[dim + 1..].iter().product();
        let sizes: Vec<usize> = tensors.iter().map(|t| t.shape()[dim]).collect();
        let total: usize = sizes.iter().sum();
        let _p = crate::profile::scope_with(
            "cat",
            crate::profile::Pass::Forward,
            0,
            8 * (outer * total * inner) as u64,
        );
        let mut y = take(outer * total * inner, T::ZERO);
        {
            let guards: Vec<_> = tensors.iter().map(|t| t.data()).collect();
            let slices: Vec<&[T]> = guards.iter().map(|g| &g[..]).collect();
            concat_channels(&mut y, &slices, &sizes, outer, inner);
        }
        let mut shape = first.to_vec();
        shape[dim] = total;
        Tensor::from_op(
            y,
            &shape,
            tensors,
            CatBackward {
                outer,
                inner,
                sizes,
            },
        )
    }
}
