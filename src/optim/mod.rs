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
}
