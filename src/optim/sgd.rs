//! Stochastic gradient descent, `torch.optim.SGD`.
//!
//! For each parameter p with gradient g:
//!   g ← g + λ p                                  (weight decay λ, an L2 term)
//!   b ← g on the first step, else μ b + g        (momentum μ; no dampening)
//!   g ← g + μ b  (Nesterov)   or   g ← b          (when μ ≠ 0)
//!   p ← p − η g

use super::{Optimizer, OptimizerState};
use crate::{Real, Tensor};

/// SGD with optional momentum, Nesterov momentum and weight decay.
pub struct Sgd<T: Real = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    /// The momentum buffer of each parameter, created on its first step.
    momentum_buffer: Vec<Option<Vec<T>>>,
}

impl<T: Real> Sgd<T> {
    /// Plain SGD with learning rate `lr`.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let n = params.len();
        Sgd {
            params,
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            momentum_buffer: vec![None; n],
        }
    }

    /// Momentum μ (0 turns it off).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Nesterov momentum instead of the classical one.
    pub fn nesterov(mut self, on: bool) -> Self {
        self.nesterov = on;
        self
    }

    /// L2 weight decay λ added to the gradient.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
}

impl<T: Real> Optimizer for Sgd<T> {
    fn step(&mut self) {
        let _p = crate::profile::scope("sgd", crate::profile::Pass::Optimizer);
        let (lr, mu, wd) = (
            T::from_f64(self.lr),
            T::from_f64(self.momentum),
            T::from_f64(self.weight_decay),
        );
        for (p, buf) in self.params.iter().zip(self.momentum_buffer.iter_mut()) {
            let grad = p.grad_lock();
            let Some(g) = grad.as_ref() else { continue };
            let mut w = p.data_mut();
            let mut d: Vec<T> = g.iter().zip(w.iter()).map(|(&g, &w)| g + wd * w).collect();
            if self.momentum != 0.0 {
                let b = match buf {
                    Some(b) => {
                        for (b, &d) in b.iter_mut().zip(&d) {
                            *b = mu * *b + d;
                        }
                        b
                    }
                    None => buf.insert(d.clone()),
                };
                if self.nesterov {
                    for (d, &b) in d.iter_mut().zip(b.iter()) {
                        *d += mu * b;
                    }
                } else {
                    d.copy_from_slice(b);
                }
            }
            for (w, d) in w.iter_mut().zip(d) {
                *w -= lr * d;
            }
        }
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(|p| p.zero_grad());
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn set_momentum(&mut self, momentum: f64) {
        self.momentum = momentum;
    }

    fn state(&self) -> OptimizerState {
        let slots = self
            .momentum_buffer
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let b = b.as_ref()?;
                Some((
                    "momentum_buffer".into(),
                    i,
                    b.iter().map(|x| x.to_f64()).collect(),
                ))
            })
            .collect();
        OptimizerState { steps: 0, slots }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        state.check_indices(self.params.len())?;
        let mut bufs = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let s = state.slot("momentum_buffer", i, p.numel())?;
            bufs.push(s.map(|s| s.iter().map(|&x| T::from_f64(x)).collect()));
        }
        self.momentum_buffer = bufs;
        Ok(())
    }
}
