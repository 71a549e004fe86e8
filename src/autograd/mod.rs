//! Reverse-mode automatic differentiation, define-by-run.
//!
//! Every op that runs while gradients are enabled ([`is_grad_enabled`]) on at least one
//! input that requires grad attaches a [`GradNode`] to its output: the op's [`Backward`]
//! rule and handles to its inputs. The graph is therefore built by simply running the
//! forward pass. [`Tensor::backward`](crate::Tensor::backward) walks it once from a scalar in
//! reverse topological order (see `backward.rs`), accumulates gradients into the leaves that
//! require grad, and frees each node's rule (and so the tensors it saved) as it goes.

mod backward;
mod grad_mode;
mod memory;
pub mod trace;

pub use backward::BackwardError;
pub use grad_mode::{is_grad_enabled, no_grad, with_no_grad, NoGradGuard};
pub use memory::{SavedRow, UNREAD};
pub use trace::{trace, OpRecord};

use crate::{Real, Tensor};

/// The backward rule of one op.
///
/// `backward` receives the gradient of the loss with respect to the op's output (`d_out`,
/// flat, in the output's shape) and the op's inputs, and returns one entry per input: the
/// gradient with respect to that input (flat, in the input's shape), or `None` where
/// `needs[i]` is false.
pub trait Backward<T: Real>: Send + Sync {
    /// The op's name, shown in errors, graphs and the profiler.
    fn name(&self) -> &'static str;
    /// The gradients with respect to the inputs, given the gradient of the output.
    fn backward(&self, d_out: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>>;

    /// As `backward`, taking ownership of `d_out`: a rule that can compute an input's
    /// gradient in the same buffer overrides this and saves an allocation at the peak.
    fn backward_owned(
        &self,
        d_out: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let grads = self.backward(&d_out, inputs, needs);
        crate::tensor::recycle::give(d_out);
        grads
    }

    /// The analytic floating-point operations and the bytes moved of one backward call
    /// computing the gradients `needs` asks for, for the profiler (0 where not counted).
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 0)
    }

    /// Whether `backward` reads the elements of input `i` (not only its shape). Ops that
    /// answer false let `Tensor::release_unneeded` free an intermediate only they hold.
    fn reads_input(&self, _i: usize) -> bool {
        true
    }

    /// Bytes the rule holds itself (indices, masks, statistics), beyond its inputs: what
    /// `stitch profile --memory` reports per op.
    fn saved_bytes(&self) -> usize {
        0
    }

    /// Whether the gradient of input `i` is the output's gradient G itself (same shape, same
    /// values), as for both inputs of a same-shape `add`. The backward walk then hands that
    /// input a shared handle to G's buffer instead of asking the rule for a copy.
    fn forwards_gradient(&self, _i: usize) -> bool {
        false
    }

    /// Multiply-adds of the forward pass (convolutions, linear layers, matrix products; 0
    /// for the rest), for `summary`.
    fn mult_adds(&self) -> u64 {
        0
    }
}

/// A recorded op: its rule and its inputs.
///
/// While it lives, each input counts it as a graph edge, and as a reader when the rule
/// reads that input's elements ([`Backward::reads_input`]). An intermediate whose last
/// user handle goes while only edges that never read it remain has its elements freed at
/// once (see `Drop for Tensor`): the output of a batch norm feeding a ReLU (which keeps a
/// mask) or a residual sum (which reads nothing) is not kept alive until backward by the
/// graph alone, whatever model built it.
pub struct GradNode<T: Real> {
    /// The op's backward rule.
    pub op: Box<dyn Backward<T>>,
    /// The op's inputs, in the order the rule expects.
    pub inputs: Vec<Tensor<T>>,
    /// Which inputs the rule reads (counted in their nodes' readers while this lives).
    reads: Vec<bool>,
}

impl<T: Real> GradNode<T> {
    /// A node over `inputs`, counted in each input's edges and, where `op` reads it, readers.
    pub(crate) fn new(op: Box<dyn Backward<T>>, inputs: Vec<Tensor<T>>) -> Self {
        let reads: Vec<bool> = (0..inputs.len()).map(|i| op.reads_input(i)).collect();
        for (t, &r) in inputs.iter().zip(&reads) {
            t.node
                .edges
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if r {
                t.node
                    .readers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        GradNode { op, inputs, reads }
    }
}

impl<T: Real> Drop for GradNode<T> {
    /// Uncounts the edges first; the input handles then drop (and may free what only
    /// non-reading edges still hold).
    fn drop(&mut self) {
        for (t, &r) in self.inputs.iter().zip(&self.reads) {
            t.node
                .edges
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if r {
                t.node
                    .readers
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

impl<T: Real> Tensor<T> {
    /// The output of an op: records `op` in the graph if gradients are enabled and any
    /// input requires grad, else makes a plain tensor.
    pub(crate) fn from_op(
        data: Vec<T>,
        shape: &[usize],
        inputs: &[&Tensor<T>],
        op: impl Backward<T> + 'static,
    ) -> Tensor<T> {
        debug_assert_eq!(
            data.len(),
            crate::tensor::numel(shape),
            "{}: output length",
            op.name()
        );
        let record = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        let storage = std::sync::Arc::new(std::sync::RwLock::new(data));
        let traced = trace::is_tracing().then(|| (op.name(), op.mult_adds()));
        let out = if record {
            let node = GradNode::new(Box::new(op), inputs.iter().map(|t| (*t).clone()).collect());
            Tensor::from_parts(storage, shape.to_vec(), true, Some(node))
        } else {
            Tensor::from_parts(storage, shape.to_vec(), false, None)
        };
        if let Some((name, macs)) = traced {
            trace::record(name, macs, &out, inputs);
        }
        out
    }

    /// A recorded intermediate whose elements are never computed, because no backward rule
    /// reads them (the sum inside the fused `add_relu`): a graph node with an empty buffer.
    /// Without a graph to record it is not needed, and the inputs' first handle stands in.
    pub(crate) fn unmaterialized_from_op(
        shape: &[usize],
        inputs: &[&Tensor<T>],
        op: impl Backward<T> + 'static,
    ) -> Tensor<T> {
        let storage = std::sync::Arc::new(std::sync::RwLock::new(Vec::new()));
        let record = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        let node = record.then(|| {
            GradNode::new(
                Box::new(op) as Box<dyn Backward<T>>,
                inputs.iter().map(|t| (*t).clone()).collect(),
            )
        });
        Tensor::from_parts(storage, shape.to_vec(), record, node)
    }

    /// A view: an op output that shares the input's storage (reshape, flatten).
    pub(crate) fn view_from_op(
        input: &Tensor<T>,
        shape: &[usize],
        op: impl Backward<T> + 'static,
    ) -> Tensor<T> {
        let traced = trace::is_tracing().then(|| op.name());
        let out = if is_grad_enabled() && input.requires_grad() {
            let node = GradNode::new(Box::new(op), vec![input.clone()]);
            Tensor::from_parts(input.storage(), shape.to_vec(), true, Some(node))
        } else {
            Tensor::from_parts(input.storage(), shape.to_vec(), false, None)
        };
        if let Some(name) = traced {
            trace::record(name, 0, &out, &[input]);
        }
        out
    }
}

impl<T: Real> Tensor<T> {
    /// Frees this intermediate's elements when nothing can read them any more: when the
    /// only other handle is the graph edge from `consumer`, whose backward does not read
    /// them, and no view shares the storage. Returns whether it freed them.
    ///
    /// `Sequential::forward` calls this on each layer's input once the next output exists:
    /// the output of a batch norm feeding a max-pool, say, is then not kept alive until
    /// backward by a rule that only needs the pool's argmax. The tensor keeps its shape and
    /// its place in the graph; only its elements go (`data()` then reads an empty slice).
    pub(crate) fn release_unneeded(&self, consumer: &Tensor<T>) -> bool {
        if self.is_leaf() || std::sync::Arc::strong_count(&self.node) != 2 {
            return false;
        }
        if std::sync::Arc::strong_count(&self.node.storage) != 1 {
            return false; // a view shares the elements
        }
        let graph = consumer
            .node
            .grad_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(node) = graph.as_ref() else {
            return false;
        };
        let mut held = node
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, t)| std::sync::Arc::ptr_eq(&t.node, &self.node));
        let all_unread = held.clone().count() > 0 && held.all(|(i, _)| !node.op.reads_input(i));
        if all_unread {
            crate::tensor::recycle::give(std::mem::take(&mut *self.data_mut()));
        }
        all_unread
    }
}
