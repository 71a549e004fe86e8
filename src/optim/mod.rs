//! Optimizers with PyTorch's update rules: [`Sgd`] (momentum, Nesterov, weight decay),
//! [`Adam`] and [`AdamW`]. Each keeps its per-parameter state in plain vectors, updates the
//! parameters in place, and skips parameters without a gradient (as PyTorch does).

mod adam;
mod sgd;

pub use adam::{Adam, AdamW};
pub use sgd::Sgd;

/// What every optimizer does.
pub trait Optimizer {
    /// One update of every parameter from its current gradient.
    fn step(&mut self);
    /// Forgets every parameter's gradient.
    fn zero_grad(&self);
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Changes the learning rate (schedules call this before each step).
    fn set_lr(&mut self, lr: f64);
    /// Changes the momentum (SGD's μ, Adam's β₁), for schedules that cycle it (one-cycle,
    /// as PyTorch's `cycle_momentum`).
    fn set_momentum(&mut self, _momentum: f64) {}
    /// Everything the next steps depend on besides the parameters, to resume a run exactly.
    fn state(&self) -> OptimizerState;
    /// Restores [`Optimizer::state`]; an error names the slot that does not fit.
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String>;
}

/// An optimizer's state: its step counter and its per-parameter buffers by name.
///
/// A slot is `(name, parameter index, values)`, for example `("exp_avg", 3, m)` for Adam's
/// first moment of the fourth parameter. Values are f64 so f32 and f64 optimizers both
/// round-trip exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    /// Steps taken (Adam's t).
    pub steps: u64,
    /// (slot name, parameter index, values) of each buffer.
    pub slots: Vec<(String, usize, Vec<f64>)>,
}

impl OptimizerState {
    /// An error if a slot belongs to a parameter index ≥ `n_params`.
    pub fn check_indices(&self, n_params: usize) -> Result<(), String> {
        match self.slots.iter().find(|(_, i, _)| *i >= n_params) {
            Some((name, i, _)) => Err(format!(
                "optimizer state {name} of parameter {i}, but the model has {n_params} parameters"
            )),
            None => Ok(()),
        }
    }

    /// The slot `name` of parameter `index`, checked to hold `len` values.
    pub fn slot(&self, name: &str, index: usize, len: usize) -> Result<Option<&[f64]>, String> {
        match self.slots.iter().find(|(n, i, _)| n == name && *i == index) {
            None => Ok(None),
            Some((_, _, v)) if v.len() == len => Ok(Some(v)),
            Some((_, _, v)) => Err(format!(
                "optimizer state {name} of parameter {index} holds {} values, the parameter has {len}",
                v.len()
            )),
        }
    }
}
