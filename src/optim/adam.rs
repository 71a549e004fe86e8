//! Adam and AdamW, `torch.optim.Adam` / `torch.optim.AdamW`, written as PyTorch computes
//! them so the two agree to rounding.
//!
//! For each parameter p with gradient g, at step t (from 1):
//!   g ← g + λ p                    (Adam only: L2 weight decay folded into the gradient)
//!   p ← p (1 − η λ)                (AdamW only: decoupled weight decay)
//!   m ← m + (1 − β₁)(g − m)        (first moment; PyTorch's lerp)
//!   v ← β₂ v + (1 − β₂) g²         (second moment)
//!   p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! Defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-8.

use stitch_kernels::optim::{adam_step, AdamStep};

use super::{Optimizer, OptimizerState};
use crate::{Real, Tensor};

/// Adam with optional L2 weight decay.
pub struct Adam<T: Real = f32> {
    params: Vec<Tensor<T>>,
    lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// ε added to √v̂ in the denominator, so a tiny second moment cannot blow the step up.
    pub eps: f64,
    weight_decay: f64,
    decoupled: bool,
    step: u64,
    exp_avg: Vec<Vec<T>>,
    exp_avg_sq: Vec<Vec<T>>,
}

/// Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default decay is 0.01.
pub type AdamW<T = f32> = Adam<T>;

impl<T: Real> Adam<T> {
    /// Adam over `params` with learning rate `lr` and PyTorch's defaults.
    pub fn new(params: Vec<Tensor<T>>, lr: f64) -> Self {
        let exp_avg = params.iter().map(|p| vec![T::ZERO; p.numel()]).collect();
        let exp_avg_sq = params.iter().map(|p| vec![T::ZERO; p.numel()]).collect();
        Adam {
            params,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            step: 0,
            exp_avg,
            exp_avg_sq,
        }
    }

    /// AdamW: Adam with decoupled weight decay `weight_decay`.
    pub fn adamw(params: Vec<Tensor<T>>, lr: f64, weight_decay: f64) -> Self {
        let mut a = Self::new(params, lr);
        a.weight_decay = weight_decay;
        a.decoupled = true;
        a
    }

    /// L2 weight decay added to the gradient (Adam's `weight_decay`).
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }

    /// The number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl<T: Real> Optimizer for Adam<T> {
    fn step(&mut self) {
        // Reads w, m, v, g and writes w, m, v: 28 bytes per parameter.
        let bytes = 28 * self.params.iter().map(|p| p.numel() as u64).sum::<u64>();
        let _p = crate::profile::scope_with("adam", crate::profile::Pass::Optimizer, 0, bytes);
        self.step += 1;
        let t = self.step as i32;
        let (decoupled, wd) = (self.decoupled, self.weight_decay);
        let h = AdamStep {
            step_size: T::from_f64(self.lr / (1.0 - self.beta1.powi(t))),
            bias_correction2_sqrt: T::from_f64((1.0 - self.beta2.powi(t)).sqrt()),
            one_minus_beta1: T::from_f64(1.0 - self.beta1),
            beta2: T::from_f64(self.beta2),
            one_minus_beta2: T::from_f64(1.0 - self.beta2),
            eps: T::from_f64(self.eps),
            l2: T::from_f64(if decoupled { 0.0 } else { wd }),
            decay: T::from_f64(if decoupled { 1.0 - self.lr * wd } else { 1.0 }),
        };
        for (i, p) in self.params.iter().enumerate() {
            let grad = p.grad_lock();
            let Some(g) = grad.as_ref() else { continue };
            adam_step(
                &mut p.data_mut(),
                &mut self.exp_avg[i],
                &mut self.exp_avg_sq[i],
                g,
                &h,
            );
        }
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(|p| p.zero_grad());
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_momentum(&mut self, beta1: f64) {
        self.beta1 = beta1;
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self) -> OptimizerState {
        let mut slots = Vec::new();
        for (i, (m, v)) in self.exp_avg.iter().zip(&self.exp_avg_sq).enumerate() {
            slots.push(("exp_avg".into(), i, m.iter().map(|x| x.to_f64()).collect()));
            slots.push((
                "exp_avg_sq".into(),
                i,
                v.iter().map(|x| x.to_f64()).collect(),
            ));
        }
        OptimizerState {
            steps: self.step,
            slots,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        state.check_indices(self.params.len())?;
        let mut m_all = Vec::with_capacity(self.params.len());
        let mut v_all = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let n = p.numel();
            let get = |name: &str| -> Result<Vec<T>, String> {
                let s = state
                    .slot(name, i, n)?
                    .ok_or_else(|| format!("optimizer state {name} of parameter {i} is missing"))?;
                Ok(s.iter().map(|&x| T::from_f64(x)).collect())
            };
            m_all.push(get("exp_avg")?);
            v_all.push(get("exp_avg_sq")?);
        }
        self.exp_avg = m_all;
        self.exp_avg_sq = v_all;
        self.step = state.steps;
        Ok(())
    }
}
