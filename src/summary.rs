//! `stitch summary`: a model op by op, like torchinfo's `summary`: the output shape of one
//! image after each op, the module it belongs to, its parameters and multiply-adds, and the
//! activation memory a training step keeps for backward at a given batch size (measured by
//! walking the graph, see [`Tensor::saved_for_backward`]).
//!
//! It works for any [`Module`]: one forward pass is traced ([`crate::autograd::trace()`]) in
//! training mode with fusion off, so every op of the model shows, dropout included; the
//! model's buffers (batch norm's running statistics) and random counters are put back
//! afterwards, so summarizing changes nothing.

use crate::autograd::trace;
use crate::nn::lookup::ModuleMap;
use crate::nn::Module;
use crate::{no_grad, Tensor};

/// One op's line.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    /// Position in the forward pass.
    pub index: usize,
    /// The op's name (`conv2d`, `relu`, …).
    pub op: String,
    /// The dotted path of the module it belongs to ("" when the model's own forward ran it
    /// on tensors directly).
    pub module: String,
    /// The module's one-line description ("path Description"), or the op's name.
    pub description: String,
    /// Output shape for one image (without the batch dimension).
    pub output_shape: Vec<usize>,
    /// Trainable scalars the op consumed (each parameter counted at its first use).
    pub parameters: usize,
    /// Multiply-adds per image: K·C·R·S·P·Q for a convolution, in·out for a linear layer,
    /// 0 for the rest (their elementwise work is not counted, as in torchinfo).
    pub mult_adds: u64,
}

/// The whole table.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// One line per op.
    pub layers: Vec<LayerSummary>,
    /// Images per batch.
    pub batch: usize,
    /// Bytes a training forward pass at `batch` keeps for backward (activations, indices,
    /// masks), from the recorded graph.
    pub saved_bytes: usize,
}

impl Summary {
    /// Trainable scalars of the whole model.
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(|l| l.parameters).sum()
    }

    /// Multiply-adds per image of the whole model.
    pub fn mult_adds(&self) -> u64 {
        self.layers.iter().map(|l| l.mult_adds).sum()
    }
}

/// Runs `f` and puts the model's buffers, random state and counters back as they were.
fn keeping_state<R>(model: &dyn Module<f32>, f: impl FnOnce() -> R) -> R {
    let buffers: Vec<Vec<f32>> = model
        .named_buffers()
        .iter()
        .map(|(_, t)| t.to_vec())
        .collect();
    let random = model.random_state();
    let counters = model.named_counters();
    let r = f();
    for ((_, t), saved) in model.named_buffers().iter().zip(buffers) {
        t.data_mut().copy_from_slice(&saved);
    }
    model.set_random_state(&random);
    for (name, v) in counters {
        model.set_counter(&name, v);
    }
    r
}

/// The images a summary is drawn on: Fashion-MNIST's 1×28×28.
const IMAGE: [usize; 3] = [1, 28, 28];

/// Summarises `model` for 1×28×28 images (tracing a batch of two, so batch norm has
/// statistics to compute), then trains one forward pass at `batch` to measure the memory
/// kept for backward. The model is left in evaluation mode with its state unchanged.
pub fn summarize(model: &dyn Module<f32>, batch: usize) -> Summary {
    const TRACED: usize = 2;
    let map = ModuleMap::new(model);
    let records = keeping_state(model, || {
        model.train();
        let _g = no_grad();
        let _f = crate::ops::no_fusion();
        let x = Tensor::zeros(&[TRACED, IMAGE[0], IMAGE[1], IMAGE[2]]);
        trace(|| model.forward(&x)).1
    });
    let mut counted = std::collections::HashSet::new();
    let layers = records
        .iter()
        .enumerate()
        .map(|(index, rec)| {
            let params: usize = map
                .params_of(rec)
                .into_iter()
                .filter(|(name, _)| counted.insert(name.clone()))
                .map(|(_, n)| n)
                .sum();
            let (module, description) = match map.owner(rec) {
                Some((path, m)) if m.children().is_empty() && !path.is_empty() => {
                    (path.clone(), format!("{path} {}", m.describe()))
                }
                Some((path, _)) if !path.is_empty() => (path.clone(), format!("{path} {}", rec.op)),
                _ => (String::new(), rec.op.to_string()),
            };
            LayerSummary {
                index,
                op: rec.op.to_string(),
                module,
                description,
                output_shape: rec.shape.get(1..).unwrap_or(&[]).to_vec(),
                parameters: params,
                mult_adds: rec.mult_adds / TRACED as u64,
            }
        })
        .collect();
    let saved_bytes = keeping_state(model, || {
        model.train();
        let x = Tensor::zeros(&[batch, IMAGE[0], IMAGE[1], IMAGE[2]]);
        let targets = vec![0; batch];
        let loss = model.forward(&x).cross_entropy(&targets);
        loss.saved_for_backward()
            .iter()
            .map(|r| r.input_bytes + r.own_bytes)
            .sum()
    });
    model.eval();
    Summary {
        layers,
        batch,
        saved_bytes,
    }
}

/// Multiply-adds of one 1×28×28 image through `model` (a traced forward pass in evaluation
/// mode; nothing about the model changes).
pub fn mult_adds_per_image(model: &dyn Module<f32>) -> u64 {
    model.eval();
    let _g = no_grad();
    let _f = crate::ops::no_fusion();
    let x = Tensor::zeros(&[1, IMAGE[0], IMAGE[1], IMAGE[2]]);
    trace(|| model.forward(&x))
        .1
        .iter()
        .map(|r| r.mult_adds)
        .sum()
}

/// Thousands separated by commas, as PyTorch users read parameter counts.
pub fn with_commas(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self
            .layers
            .iter()
            .map(|l| l.description.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:<3} {:<width$} {:<14} {:>11} {:>13}",
            "#", "layer", "output shape", "parameters", "mult-adds"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<3} {:<width$} {:<14} {:>11} {:>13}",
                l.index,
                l.description,
                format!("{:?}", l.output_shape),
                with_commas(l.parameters as u64),
                with_commas(l.mult_adds)
            )?;
        }
        writeln!(
            f,
            "total parameters: {}",
            with_commas(self.parameters() as u64)
        )?;
        writeln!(
            f,
            "total mult-adds per image: {}",
            with_commas(self.mult_adds())
        )?;
        write!(
            f,
            "activations kept for backward at batch {}: {:.2} MB",
            self.batch,
            self.saved_bytes as f64 / 1e6
        )
    }
}
