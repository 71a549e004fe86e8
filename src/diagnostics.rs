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
use crate::safetensors::json::Cursor;

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

    /// The epoch's figures; resets the counters for the next epoch.
    pub fn finish(&mut self) -> EpochDiagnostics {
        let params = self
            .params
            .iter()
            .map(|p| {
                let k = p.steps.max(1) as f64;
                ParamDiagnostics {
                    name: p.name.clone(),
                    grad_norm: p.grad_norm_sum / k,
                    weight_norm: p.weight_norm,
                    update_ratio: p.ratio_sum / k,
                }
            })
            .collect();
        let relus = self
            .relus
            .iter()
            .map(|(label, seen)| ReluDiagnostics {
                label: label.clone(),
                dead: seen.iter().filter(|a| !**a).count(),
                units: seen.len(),
            })
            .collect();
        *self = Diagnostics::default();
        EpochDiagnostics { params, relus }
    }

    /// The epoch's report, one line per parameter and per ReLU layer; resets the counters.
    pub fn report(&mut self) -> String {
        self.finish().to_string()
    }
}

/// One parameter tensor's figures over an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDiagnostics {
    /// The parameter's dotted name (`layers.3.conv1.weight`).
    pub name: String,
    /// Mean L2 norm of its gradient over the epoch's steps.
    pub grad_norm: f64,
    /// Its L2 norm at the end of the epoch.
    pub weight_norm: f64,
    /// Mean ‖Δw‖ / ‖w‖ of a step.
    pub update_ratio: f64,
}

/// One ReLU's dead units over an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct ReluDiagnostics {
    /// Which ReLU, and what it rectifies.
    pub label: String,
    /// Units never positive for any image of the epoch.
    pub dead: usize,
    /// Units in all.
    pub units: usize,
}

impl ReluDiagnostics {
    /// Dead units in percent.
    pub fn dead_percent(&self) -> f64 {
        100.0 * self.dead as f64 / self.units.max(1) as f64
    }
}

/// What [`Diagnostics::finish`] gives for one epoch; `stitch train --diagnostics --metrics`
/// writes it as the `"diagnostics"` member of the epoch's JSON line ([`Self::to_json`]) and
/// `stitch report` reads it back ([`Self::parse`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochDiagnostics {
    /// One entry per parameter tensor, in `named_parameters` order.
    pub params: Vec<ParamDiagnostics>,
    /// One entry per ReLU, in forward order.
    pub relus: Vec<ReluDiagnostics>,
}

impl EpochDiagnostics {
    /// As one JSON object: `{"params": [{"name", "grad_norm", "weight_norm",
    /// "update_ratio"}…], "relus": [{"label", "dead", "units"}…]}`.
    pub fn to_json(&self) -> String {
        use crate::safetensors::json::quote;
        // Full precision: ratios of 1e-7 must not round to 0 (JSON allows the exponent form).
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v:e}")
            } else {
                "null".to_string()
            }
        };
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                format!(
                    "{{\"name\": {}, \"grad_norm\": {}, \"weight_norm\": {}, \"update_ratio\": {}}}",
                    quote(&p.name),
                    num(p.grad_norm),
                    num(p.weight_norm),
                    num(p.update_ratio)
                )
            })
            .collect();
        let relus: Vec<String> = self
            .relus
            .iter()
            .map(|r| {
                format!(
                    "{{\"label\": {}, \"dead\": {}, \"units\": {}}}",
                    quote(&r.label),
                    r.dead,
                    r.units
                )
            })
            .collect();
        format!(
            "{{\"params\": [{}], \"relus\": [{}]}}",
            params.join(", "),
            relus.join(", ")
        )
    }

    /// Reads the object [`Self::to_json`] writes, at the cursor (unknown members skipped).
    pub fn parse(c: &mut Cursor) -> Result<EpochDiagnostics, String> {
        let mut d = EpochDiagnostics::default();
        c.object(|c, key| {
            match key {
                "params" => c.array(|c| {
                    let mut p = ParamDiagnostics {
                        name: String::new(),
                        grad_norm: f64::NAN,
                        weight_norm: f64::NAN,
                        update_ratio: f64::NAN,
                    };
                    c.object(|c, key| {
                        match key {
                            "name" => p.name = c.string(true)?,
                            "grad_norm" => p.grad_norm = c.number_or_null()?,
                            "weight_norm" => p.weight_norm = c.number_or_null()?,
                            "update_ratio" => p.update_ratio = c.number_or_null()?,
                            _ => c.skip_value(0)?,
                        }
                        Ok(())
                    })?;
                    d.params.push(p);
                    Ok(())
                })?,
                "relus" => c.array(|c| {
                    let mut r = ReluDiagnostics {
                        label: String::new(),
                        dead: 0,
                        units: 0,
                    };
                    c.object(|c, key| {
                        match key {
                            "label" => r.label = c.string(true)?,
                            "dead" => r.dead = c.u64()? as usize,
                            "units" => r.units = c.u64()? as usize,
                            _ => c.skip_value(0)?,
                        }
                        Ok(())
                    })?;
                    d.relus.push(r);
                    Ok(())
                })?,
                _ => c.skip_value(0)?,
            }
            Ok(())
        })?;
        Ok(d)
    }
}

impl std::fmt::Display for EpochDiagnostics {
    /// The text `stitch train --diagnostics` prints after each epoch.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  {:<16} {:>12} {:>12} {:>14}",
            "parameter", "grad norm", "weight norm", "update/weight"
        )?;
        for p in &self.params {
            writeln!(
                f,
                "  {:<16} {:>12.4e} {:>12.4e} {:>14.3e}",
                p.name, p.grad_norm, p.weight_norm, p.update_ratio
            )?;
        }
        for r in &self.relus {
            writeln!(
                f,
                "  {}: {} of {} units never active ({:.2}% dead)",
                r.label,
                r.dead,
                r.units,
                r.dead_percent()
            )?;
        }
        Ok(())
    }
}
