//! `Sequential`: modules applied in order, parameters named `"<index>.<name>"`.

use super::{LayerKind, Module};
use crate::{Real, Tensor};

/// A chain of modules.
///
/// `forward` fuses a [`Conv2d`](super::Conv2d) → [`ReLU`](super::ReLU) →
/// [`MaxPool2d`](super::MaxPool2d)`(2)` block into `conv2d_relu_max_pool2d` (per image, the
/// convolution's output never leaves the cache), and a ReLU directly followed by a max-pool
/// into `max_pool2d_relu` (equal results, one full-size pass and buffer fewer); [`Sequential::set_fusion`]`(false)` runs every
/// layer on its own, and `forward_all` never fuses (it returns every layer's output).
pub struct Sequential<T: Real = f32> {
    layers: Vec<Box<dyn Module<T>>>,
    fusion: bool,
}

impl<T: Real> Default for Sequential<T> {
    fn default() -> Self {
        Sequential {
            layers: Vec::new(),
            fusion: true,
        }
    }
}

impl<T: Real> Sequential<T> {
    /// An empty network; add layers with [`Sequential::add`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Turns the ReLU + max-pool fusion on (the default) or off.
    pub fn set_fusion(&mut self, on: bool) {
        self.fusion = on;
    }

    /// The layers in order.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// The output of every layer in turn (the last one is `forward`'s result).
    pub fn forward_all(&self, x: &Tensor<T>) -> Vec<Tensor<T>> {
        let mut outs: Vec<Tensor<T>> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let next = l.forward(outs.last().unwrap_or(x));
            outs.push(next);
        }
        outs
    }
}

fn prefixed<T: Real>(
    i: usize,
    named: Vec<(String, Tensor<T>)>,
) -> impl Iterator<Item = (String, Tensor<T>)> {
    named.into_iter().map(move |(n, t)| (format!("{i}.{n}"), t))
}

impl<T: Real> Module<T> for Sequential<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            let mut next = None;
            let pool2 = LayerKind::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            };
            if self.fusion
                && i + 2 < self.layers.len()
                && self.layers[i + 1].kind() == LayerKind::Relu
                && self.layers[i + 2].kind() == pool2
            {
                if let Some((w, b, opts)) = self.layers[i].as_conv2d() {
                    next = Some(h.conv2d_relu_max_pool2d(w, b, opts));
                    i += 2;
                }
            }
            if next.is_none()
                && self.fusion
                && i + 1 < self.layers.len()
                && self.layers[i].kind() == LayerKind::Relu
            {
                if let LayerKind::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } = self.layers[i + 1].kind()
                {
                    next = Some(h.max_pool2d_relu(kernel, stride, padding));
                    i += 1;
                }
            }
            let next = next.unwrap_or_else(|| self.layers[i].forward(&h));
            i += 1;
            // An intermediate that only the next op's graph edge holds, and that edge's
            // backward does not read, is freed now rather than after backward.
            h.release_unneeded(&next);
            h = next;
        }
        h
    }

    fn describe(&self) -> String {
        let inner: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("Sequential({})", inner.join(" -> "))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(i, l.named_parameters()))
            .collect()
    }

    fn named_buffers(&self) -> Vec<(String, Tensor<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(i, l.named_buffers()))
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }

    fn random_state(&self) -> Vec<u64> {
        self.layers.iter().flat_map(|l| l.random_state()).collect()
    }

    fn set_random_state(&self, state: &[u64]) {
        let mut pos = 0;
        for l in &self.layers {
            let n = l.random_state().len();
            l.set_random_state(&state[pos..pos + n]);
            pos += n;
        }
    }
}

impl<T: Real> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
