//! An exponential moving average of the weights (`--ema D`), evaluated instead of the
//! trained weights (timm's `ModelEmaV2`):
//!
//!   after every optimizer step, for every parameter and buffer v:  ē ← D · ē + (1 − D) · v
//!
//! starting from the weights before the first step. Buffers (batch norm's running
//! statistics) are averaged too, so the averaged weights and the statistics they are
//! evaluated with belong together.

use crate::nn::Module;
use crate::optim::OptimizerState;
use crate::Tensor;

/// The averages, in the order of the model's parameters, then its buffers.
pub struct Ema {
    decay: f64,
    average: Vec<Vec<f32>>,
}

fn tensors(model: &dyn Module<f32>) -> Vec<Tensor<f32>> {
    let mut t = model.parameters();
    t.extend(model.named_buffers().into_iter().map(|(_, b)| b));
    t
}

impl Ema {
    /// The average of `model`'s weights as they are now, with decay `decay`.
    pub fn new(model: &dyn Module<f32>, decay: f64) -> Ema {
        Ema {
            decay,
            average: tensors(model).iter().map(|t| t.to_vec()).collect(),
        }
    }

    /// One update from the model's current weights.
    pub fn update(&mut self, model: &dyn Module<f32>) {
        let d = self.decay as f32;
        for (avg, t) in self.average.iter_mut().zip(tensors(model)) {
            for (a, &v) in avg.iter_mut().zip(t.data().iter()) {
                *a = d * *a + (1.0 - d) * v;
            }
        }
    }

    /// Runs `f` with the averages in the model's tensors, then puts the weights back.
    pub fn with_average<R>(&self, model: &dyn Module<f32>, f: impl FnOnce() -> R) -> R {
        let ts = tensors(model);
        let saved: Vec<Vec<f32>> = ts.iter().map(|t| t.to_vec()).collect();
        for (t, avg) in ts.iter().zip(&self.average) {
            t.data_mut().copy_from_slice(avg);
        }
        let r = f();
        for (t, s) in ts.iter().zip(saved) {
            t.data_mut().copy_from_slice(&s);
        }
        r
    }

    /// Adds the averages to an optimizer state as slots `ema.<i>` (what a checkpoint saves).
    pub fn save_into(&self, state: &mut OptimizerState) {
        for (i, a) in self.average.iter().enumerate() {
            state
                .slots
                .push(("ema".into(), i, a.iter().map(|&v| v as f64).collect()));
        }
    }

    /// Restores the averages from `state`'s `ema` slots; an error names the first missing
    /// or wrong-sized one.
    pub fn load_from(&mut self, state: &OptimizerState) -> Result<(), String> {
        for (i, a) in self.average.iter_mut().enumerate() {
            match state.slot("ema", i, a.len())? {
                Some(v) => a.iter_mut().zip(v).for_each(|(a, &v)| *a = v as f32),
                None => return Err(format!("the checkpoint holds no ema slot {i}")),
            }
        }
        Ok(())
    }
}
