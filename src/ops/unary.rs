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
    Relu,
    Exp,
    Log,
}

/// The op and its element count (for the profiler's byte count).
struct UnaryBackward(Unary, usize);

impl<T: Real> Backward<T> for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.0 {
            Unary::Relu => "relu",
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
                Unary::Relu => elementwise::relu_backward(&mut dx, g, &x),
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

impl<T: Real> Tensor<T> {
    /// `max(x, 0)` elementwise.
    pub fn relu(&self) -> Tensor<T> {
        let _p = crate::profile::scope_with(
            "relu",
            crate::profile::Pass::Forward,
            0,
            8 * self.numel() as u64,
        );
        let mut y = take(self.numel(), T::ZERO);
        elementwise::relu_forward(&mut y, &self.data());
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            UnaryBackward(Unary::Relu, self.numel()),
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
