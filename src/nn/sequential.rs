//! `Sequential`: modules applied in order, named `"0"`, `"1"`, … as PyTorch's
//! `nn.Sequential` names them, so a parameter of its fourth layer is `3.weight`.

use super::{LayerKind, Module};
use crate::{Real, Tensor};

/// A chain of modules. An empty chain is the identity (PyTorch's `nn.Sequential()`, the
/// shortcut of a residual block that keeps its shape).
///
/// `forward` fuses a [`Conv2d`](super::Conv2d) → [`ReLU`](super::ReLU) →
/// [`MaxPool2d`](super::MaxPool2d)`(2)` block into `conv2d_relu_max_pool2d` (per image, the
/// convolution's output never leaves the cache), a Conv2d → BatchNorm2d → ReLU → MaxPool2d
/// block into `conv2d_batch_norm_relu_max_pool2d` (batch norm's statistics taken by the
/// convolution as it writes each image), a [`BatchNorm2d`](super::BatchNorm2d) →
/// ReLU → MaxPool2d block into `batch_norm_relu_max_pool2d` (the normalized values are
/// pooled in cache), a BatchNorm → ReLU pair into `batch_norm_relu`, a Conv2d → ReLU pair
/// into `conv2d_relu` (each image rectified in cache), and a ReLU directly
/// followed by a max-pool into `max_pool2d_relu`
/// (equal results, one full-size pass and buffer fewer);
/// [`Sequential::set_fusion`]`(false)` (or [`crate::ops::set_fusion`]) runs every layer on
/// its own, and `forward_all` never fuses (it returns every layer's output).
pub struct Sequential<T: Real = f32> {
    layers: Vec<Box<dyn Module<T>>>,
    names: Vec<String>,
    fusion: bool,
}

impl<T: Real> Default for Sequential<T> {
    fn default() -> Self {
        Sequential {
            layers: Vec::new(),
            names: Vec::new(),
            fusion: true,
        }
    }
}

impl<T: Real> Sequential<T> {
    /// An empty network; add layers with [`Sequential::add`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (builder style); it is named by its position.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Module<T>>) {
        self.names.push(self.layers.len().to_string());
        self.layers.push(layer);
    }

    /// Turns the ReLU + max-pool fusion on (the default) or off.
    pub fn set_fusion(&mut self, on: bool) {
        self.fusion = on;
    }

    /// The layers in order.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain is empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
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

impl<T: Real> Module<T> for Sequential<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let fuse = self.fusion && crate::ops::fusion_enabled();
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            let mut next = None;
            let pool2 = LayerKind::MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            };
            if fuse && i + 3 < self.layers.len() && self.layers[i + 2].kind() == LayerKind::Relu {
                if let (
                    Some(conv),
                    LayerKind::MaxPool2d {
                        kernel,
                        stride,
                        padding,
                    },
                ) = (self.layers[i].as_conv2d(), self.layers[i + 3].kind())
                {
                    let pool = [kernel, stride, padding];
                    next = self.layers[i + 1].forward_conv_relu_max_pool2d(&h, conv, pool);
                    if next.is_some() {
                        i += 3;
                    }
                }
            }
            if next.is_none()
                && fuse
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
                && fuse
                && i + 2 < self.layers.len()
                && self.layers[i + 1].kind() == LayerKind::Relu
            {
                if let LayerKind::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } = self.layers[i + 2].kind()
                {
                    next = self.layers[i].forward_relu_max_pool2d(&h, kernel, stride, padding);
                    if next.is_some() {
                        i += 2;
                    }
                }
            }
            if next.is_none()
                && fuse
                && i + 1 < self.layers.len()
                && self.layers[i + 1].kind() == LayerKind::Relu
            {
                next = self.layers[i].forward_relu(&h);
                if next.is_some() {
                    i += 1;
                }
            }
            if next.is_none()
                && fuse
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
            let next = next.unwrap_or_else(|| {
                let layer: &dyn Module<T> = &self.layers[i];
                crate::autograd::trace::in_module(crate::autograd::trace::module_key(layer), || {
                    layer.forward(&h)
                })
            });
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

    /// The boxes themselves (through `Box`'s `Module` impl), so that every layer, even a
    /// zero-sized one, has an address of its own for the trace.
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        self.names
            .iter()
            .zip(&self.layers)
            .map(|(n, l)| (n.as_str(), l as &dyn Module<T>))
            .collect()
    }
}

impl<T: Real> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
