//! Cross-entropy with integer class targets, fused with log-softmax (PyTorch's
//! `F.cross_entropy` with `reduction='mean'` and its `label_smoothing`).
//!
//! For logits z [N, C], targets t (each in 0..C) and smoothing ε ∈ [0, 1) the target
//! distribution is qᵢ = (1 − ε)[i = t] + ε / C, and with log pₙ = log_softmax(zₙ):
//!   loss = −(1/N) Σₙ Σᵢ qₙᵢ log pₙᵢ = (1/N) Σₙ [(1 − ε)(−log pₙₜ) + (ε/C) Σᵢ (−log pₙᵢ)]
//!   ∂zₙᵢ = G · (pₙᵢ − qₙᵢ) / N
//! ε = 0 is plain cross-entropy.
//! Fusing the two avoids an N×C log-probability tensor in the graph and gives the short,
//! stable gradient above. The softmax is kept from the forward pass for the backward.

use crate::autograd::Backward;
use crate::ops::softmax::log_softmax_rows;
use crate::{Real, Tensor};

struct CrossEntropyBackward<T> {
    probs: Vec<T>,
    targets: Vec<usize>,
    c: usize,
    smoothing: T,
}

impl<T: Real> Backward<T> for CrossEntropyBackward<T> {
    fn saved_bytes(&self) -> usize {
        self.probs.len() * std::mem::size_of::<T>()
            + self.targets.len() * std::mem::size_of::<usize>()
    }

    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let n = self.targets.len();
            let s = g[0] / T::from_f64(n as f64);
            let spread = self.smoothing / T::from_f64(self.c as f64);
            let hit = T::ONE - self.smoothing;
            let mut dz: Vec<T> = self.probs.iter().map(|&p| (p - spread) * s).collect();
            for (i, &t) in self.targets.iter().enumerate() {
                dz[i * self.c + t] -= hit * s;
            }
            dz
        })]
    }
}

impl<T: Real> Tensor<T> {
    /// Mean cross-entropy of logits `[N, C]` against class indices `targets` (length N, each
    /// < C). Panics naming the shapes, or the first target out of range.
    #[track_caller]
    pub fn cross_entropy(&self, targets: &[usize]) -> Tensor<T> {
        self.cross_entropy_smoothed(targets, 0.0)
    }

    /// Cross-entropy against targets smoothed by `smoothing` ∈ [0, 1) (PyTorch's
    /// `F.cross_entropy(z, t, label_smoothing=ε)`): each target keeps 1 − ε and every class
    /// gets ε / C.
    #[track_caller]
    pub fn cross_entropy_smoothed(&self, targets: &[usize], smoothing: f64) -> Tensor<T> {
        assert!(
            (0.0..1.0).contains(&smoothing),
            "cross_entropy: label smoothing {smoothing} must be in [0, 1)"
        );
        let _p = crate::profile::scope("cross_entropy", crate::profile::Pass::Forward);
        let (n, c) = match self.shape() {
            &[n, c] if n == targets.len() && n > 0 && c > 0 => (n, c),
            s => panic!(
                "cross_entropy: logits {s:?} and {} targets: need logits [N, C] with N = number of targets > 0",
                targets.len()
            ),
        };
        if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= c) {
            panic!(
                "cross_entropy: target {t} at index {i} is outside 0..{c} (logits {:?})",
                self.shape()
            );
        }
        let log_p = log_softmax_rows(&self.data(), c);
        let eps = T::from_f64(smoothing);
        let mut total = T::ZERO;
        for (i, &t) in targets.iter().enumerate() {
            total -= log_p[i * c + t];
        }
        if smoothing > 0.0 {
            // (1 − ε) · target term + (ε / C) · every class's term.
            let all: T = log_p.iter().copied().sum();
            total = (T::ONE - eps) * total - eps / T::from_f64(c as f64) * all;
        }
        let loss = total / T::from_f64(n as f64);
        let probs = log_p.into_iter().map(|v| v.exp()).collect();
        let op = CrossEntropyBackward {
            probs,
            targets: targets.to_vec(),
            c,
            smoothing: eps,
        };
        Tensor::from_op(vec![loss], &[], &[self], op)
    }
}
