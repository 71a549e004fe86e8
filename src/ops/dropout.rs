//! Inverted dropout as an autograd op; the mask is a function of `key` and the element
//! index (see `stitch_kernels::dropout`), so the backward pass recomputes it from the key
//! and nothing but the key is kept.
//!   y = x · keep / (1 − p)      ∂x = G · keep / (1 − p)

use stitch_kernels::dropout::{
    dropout_backward, dropout_backward_in_place, dropout_forward, validate_p,
};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

struct DropoutBackward {
    p: f64,
    key: u64,
    len: usize,
}

impl<T: Real> Backward<T> for DropoutBackward {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 8 * self.len as u64)
    }

    /// The mask comes back from the key: the input's values are not needed.
    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut dx = take(g.len(), T::ZERO);
            dropout_backward(&mut dx, g, self.p, self.key);
            dx
        })]
    }

    /// ∂x in G's own buffer: no allocation, no zero fill, one stream fewer.
    fn backward_owned(
        &self,
        mut g: Vec<T>,
        _: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            dropout_backward_in_place(&mut g, self.p, self.key);
            g
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// Training-mode dropout with probability `p` ∈ [0, 1) and mask key `key`.
    #[track_caller]
    pub fn dropout(&self, p: f64, key: u64) -> Tensor<T> {
        let _p = crate::profile::scope_with(
            "dropout",
            crate::profile::Pass::Forward,
            0,
            8 * self.numel() as u64,
        );
        if let Err(e) = validate_p(p) {
            panic!("{e}");
        }
        let mut y = take(self.numel(), T::ZERO);
        dropout_forward(&mut y, &self.data(), p, key);
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            DropoutBackward {
                p,
                key,
                len: self.numel(),
            },
        )
    }
}
