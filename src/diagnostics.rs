//! Training diagnostics (`stitch train --diagnostics`), per epoch:
//! - for each parameter tensor: the mean L2 norm of its gradient over the epoch's steps, its
//!   L2 norm at the end, and the mean update-to-weight ratio ‖Δw‖ / ‖w‖ of a step (a healthy
//!   run sits near 1e-3; far above, the learning rate is too high; far below, too low);
//! - for each ReLU (a `ReLU` layer, or a `relu` / fused `add_relu` op in any model's
//!   forward; steps run traced with fusion off, bitwise the same as fused): the fraction of
//!   its units (features, or channel × position for a feature map) that were never
//!   positive for any image of the epoch: dead ReLUs.

use crate::autograd::OpRecord;
use crate::nn::lookup::ModuleMap;
use crate::nn::Module;

/// One parameter's figures over an epoch.
#[derive(Clone, Debug, Default)]
struct ParamStats {
    name: String,
    grad_norm_sum: f64,
    ratio_sum: f64,
    steps: u64,
    weight_norm: f64,
}

/// Accumulates the figures of one epoch.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    params: Vec<ParamStats>,
    /// (label, per-unit "was ever active"), by the ReLU's position among a step's ReLUs
    relus: Vec<(String, Vec<bool>)>,
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

impl Diagnostics {
    /// Records which units of each ReLU were positive in this batch. `records` are the
    /// ops of one traced forward pass of `model` (with fusion off).
    pub fn observe_activations(&mut self, model: &dyn Module<f32>, records: &[OpRecord]) {
        let map = ModuleMap::new(model);
        let mut k = 0;
        for (i, rec) in records.iter().enumerate() {
            if rec.op != "relu" {
                continue;
            }
            let Some(out) = rec.output::<f32>() else {
                continue;
            };
            let n = out.shape().first().copied().unwrap_or(1).max(1);
            let units = out.numel() / n;
            if self.relus.len() <= k {
                // What it rectifies: the op that produced its input.
                let source = records[..i]
                    .iter()
                    .rev()
                    .find(|r| r.id == rec.inputs[0])
                    .map(|r| map.label(r))
                    .unwrap_or_else(|| "the input".into());
                let label = match map.owner(rec) {
                    Some((path, _)) if !path.is_empty() => format!("ReLU {path}, after {source}"),
                    _ => format!("relu {k}, after {source}"),
                };
                self.relus.push((label, vec![false; units]));
            }
            let seen = &mut self.relus[k].1;
            let v = out.data();
            for img in v.chunks(units.max(1)) {
                for (s, &x) in seen.iter_mut().zip(img) {
                    *s |= x > 0.0;
                }
            }
            k += 1;
        }
    }

    /// Records one optimizer step: the gradients now, and the weights before and after.
    pub fn observe_step(&mut self, model: &dyn Module<f32>, before: &[Vec<f32>]) {
        let named = model.named_parameters();
        if self.params.is_empty() {
            self.params = named
                .iter()
                .map(|(n, _)| ParamStats {
                    name: n.clone(),
                    ..ParamStats::default()
                })
                .collect();
        }
        for ((stats, (_, p)), old) in self.params.iter_mut().zip(&named).zip(before) {
            let g = p.grad_lock().as_deref().map_or(0.0, norm);
            let new = p.data();
            let delta = new
                .iter()
                .zip(old)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            stats.grad_norm_sum += g;
            stats.weight_norm = norm(&new);
            // ‖Δw‖ over the larger of ‖w‖ before and after: defined from a zero init too.
            stats.ratio_sum += delta / norm(old).max(stats.weight_norm).max(1e-30);
            stats.steps += 1;
        }
    }

    /// The epoch's report, one line per parameter and per ReLU layer; resets the counters.
    pub fn report(&mut self) -> String {
        let mut s = format!(
            "  {:<16} {:>12} {:>12} {:>14}\n",
            "parameter", "grad norm", "weight norm", "update/weight"
        );
        for p in &self.params {
            let k = p.steps.max(1) as f64;
            s += &format!(
                "  {:<16} {:>12.4e} {:>12.4e} {:>14.3e}\n",
                p.name,
                p.grad_norm_sum / k,
                p.weight_norm,
                p.ratio_sum / k
            );
        }
        for (label, seen) in &self.relus {
            let dead = seen.iter().filter(|a| !**a).count();
            s += &format!(
                "  {label}: {dead} of {} units never active ({:.2}% dead)\n",
                seen.len(),
                100.0 * dead as f64 / seen.len().max(1) as f64
            );
        }
        *self = Diagnostics::default();
        s
    }
}
