//! Elementwise functions of one tensor: `relu`, `exp`, `log`.
//!
//!   relu: y = max(x, 0)   ∂x = G · [x > 0]   (0 at x = 0, as PyTorch)
//!   exp:  y = eˣ          ∂x = G · eˣ
//!   log:  y = ln x        ∂x = G / x

use stitch_kernels::elementwise;

use crate::autograd::Backward;
use crate::{Real, Tensor};

#[derive(Clone, Copy)]
enum Unary {
    Relu,
    Exp,
    Log,
}

struct UnaryBackward(Unary);

impl<T: Real> Backward<T> for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.0 {
            Unary::Relu => "relu",
            Unary::Exp => "exp",
            Unary::Log => "log",
        }
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let x = inputs[0].data();
            let mut dx = vec![T::ZERO; g.len()];
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
        let mut y = vec![T::ZERO; self.numel()];
        elementwise::relu_forward(&mut y, &self.data());
        Tensor::from_op(y, self.shape(), &[self], UnaryBackward(Unary::Relu))
    }

    /// `eˣ` elementwise.
    pub fn exp(&self) -> Tensor<T> {
        let _p = crate::profile::scope("exp", crate::profile::Pass::Forward);
        let y = self.data().iter().map(|v| v.exp()).collect();
        Tensor::from_op(y, self.shape(), &[self], UnaryBackward(Unary::Exp))
    }

    /// Natural logarithm elementwise.
    pub fn log(&self) -> Tensor<T> {
        let _p = crate::profile::scope("log", crate::profile::Pass::Forward);
        let y = self.data().iter().map(|v| v.ln()).collect();
        Tensor::from_op(y, self.shape(), &[self], UnaryBackward(Unary::Log))
    }
}
