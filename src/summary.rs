//! `stitch summary`: a model layer by layer, like torchinfo's `summary`: the output shape of
//! one image after each layer, its parameters and multiply-adds, and the activation memory
//! a training step keeps for backward at a given batch size (measured by walking the graph,
//! see [`Tensor::saved_for_backward`]).

use crate::nn::{Module, Sequential};
use crate::{no_grad, Tensor};

/// One layer's line.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    /// Position (of the label, or of the layer).
    pub index: usize,
    /// The layer's one-line description.
    pub description: String,
    /// Output shape for one image (without the batch dimension).
    pub output_shape: Vec<usize>,
    /// Trainable scalars.
    pub parameters: usize,
    /// Multiply-adds per image: K·C·R·S·P·Q for a convolution, in·out for a linear layer,
    /// 0 for the rest (their elementwise work is not counted, as in torchinfo).
    pub mult_adds: u64,
}

/// The whole table.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// One line per layer.
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

/// Summarises `model` for 1×28×28 images; trains one forward pass at `batch` to measure
/// the memory kept for backward (the model is left in evaluation mode).
pub fn summarize(model: &mut Sequential, batch: usize) -> Summary {
    model.eval();
    let outs = {
        let _g = no_grad();
        model.forward_all(&Tensor::zeros(&[1, 1, 28, 28]))
    };
    let layers = model
        .layers()
        .iter()
        .zip(&outs)
        .enumerate()
        .map(|(index, (layer, out))| {
            let params = layer.named_parameters();
            let mult_adds = match layer.as_conv2d() {
                // Each output value sums C·R·S products.
                Some((w, _, _)) => (w.numel() / w.shape()[0] * out.numel()) as u64,
                None => params
                    .iter()
                    .find(|(n, t)| n == "weight" && t.shape().len() == 2)
                    .map_or(0, |(_, w)| w.numel() as u64),
            };
            LayerSummary {
                index,
                description: layer.describe(),
                output_shape: out.shape()[1..].to_vec(),
                parameters: params.iter().map(|(_, t)| t.numel()).sum(),
                mult_adds,
            }
        })
        .collect();
    model.train();
    let x = Tensor::zeros(&[batch, 1, 28, 28]);
    let targets = vec![0; batch];
    let loss = model.forward(&x).cross_entropy(&targets);
    let saved_bytes = loss
        .saved_for_backward()
        .iter()
        .map(|r| r.input_bytes + r.own_bytes)
        .sum();
    model.eval();
    Summary {
        layers,
        batch,
        saved_bytes,
    }
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
        writeln!(
            f,
            "{:<3} {:<66} {:<14} {:>11} {:>13}",
            "#", "layer", "output shape", "parameters", "mult-adds"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<3} {:<66} {:<14} {:>11} {:>13}",
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
