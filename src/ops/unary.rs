//! Elementwise functions of one tensor: `relu`, `exp`, `log`.
//!
//!   relu: y = max(x, 0)   ∂x = G · [x > 0]   (0 at x = 0, as PyTorch)
//!   exp:  y = eˣ          ∂x = G · eˣ
//!   log:  y = ln x        ∂x = G / x

use stitch_kernels::elementwise;

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

#[derive(Clone, Copy)]
enum Unary {
    Exp,
    Log,
}

/// The op and its element count (for the profiler's byte count).
struct UnaryBackward(Unary, usize);

impl<T: Real> Backward<T> for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.0 {
            Unary::Exp => "exp",
            Unary::Log => "log",
        }
    }

    /// Reads G and x, writes ∂x: 12 bytes per element.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 12 * self.1 as u64)
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let x = inputs[0].data();
            let mut dx = take(g.len(), T::ZERO);
            match self.0 {
                Unary::Exp => {
                    for ((d, &g), &x) in dx.iter_mut().zip(g).zip(x.iter()) {
                        *d = g * x.exp();
                    }
                }
                Unary::Log => {
                    for ((d, &g), &x) in dx.iter_mut().zip(g).zip(x.iter()) {
                        *d = g / x;
                    }
                }
            }
            dx
        })]
    }
}

/// ReLU's rule: ∂x = G · \[x > 0\] from the mask kept by the forward pass, in G's own
/// buffer when the walk hands it over. Also the ReLU half of the fused `add_relu`.
pub(super) struct ReluBackward {
    /// The op's name for the graph and the profiler (`relu`, `add_relu`).
    pub(super) op: &'static str,
    /// \[y > 0\], one byte per element.
    pub(super) positive: Vec<bool>,
}

impl<T: Real> Backward<T> for ReluBackward {
    fn name(&self) -> &'static str {
        self.op
    }

    fn saved_bytes(&self) -> usize {
        self.positive.len()
    }

    /// Reads G and the mask, writes ∂x: 9 bytes per element.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 9 * self.positive.len() as u64)
    }

    /// Only the mask is needed.
    fn reads_input(&self, _i: usize) -> bool {
        false
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut d = take(g.len(), T::ZERO);
            d.copy_from_slice(g);
            elementwise::mask_in_place(&mut d, &self.positive);
            d
        })]
    }

    fn backward_owned(
        &self,
        mut g: Vec<T>,
        _: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        if !needs[0] {
            crate::tensor::recycle::give(g);
            return vec![None];
        }
        elementwise::mask_in_place(&mut g, &self.positive);
        vec![Some(g)]
    }
}

impl Drop for ReluBackward {
    fn drop(&mut self) {
        crate::tensor::recycle::give(std::mem::take(&mut self.positive));
    }
}

impl<T: Real> Tensor<T> {
    /// `max(x, 0)` elementwise. Keeps a 1-byte mask \[x > 0\] for backward rather than x,
    /// so x itself (often a batch norm's output) need not live until backward.
    pub fn relu(&self) -> Tensor<T> {
        let n = self.numel();
        let _p = crate::profile::scope_with("relu", crate::profile::Pass::Forward, 0, 9 * n as u64);
        let mut y = take(n, T::ZERO);
        let mut positive = take(n, false);
        elementwise::relu_mask(&mut y, &mut positive, &self.data());
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            ReluBackward {
                op: "relu",
                positive,
            },
        )
    }

    /// `eˣ` elementwise.
    pub fn exp(&self) -> Tensor<T> {
        let _p = crate::profile::scope("exp", crate::profile::Pass::Forward);
        let y = self.data().iter().map(|v| v.exp()).collect();
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            UnaryBackward(Unary::Exp, self.numel()),
        )
    }

    /// Natural logarithm elementwise.
    pub fn log(&self) -> Tensor<T> {
        let _p = crate::profile::scope("log", crate::profile::Pass::Forward);
        let y = self.data().iter().map(|v| v.ln()).collect();
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            UnaryBackward(Unary::Log, self.numel()),
        )
    }
}
