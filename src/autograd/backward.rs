//! The backward pass: one walk of the graph in reverse topological order.
//!
//! 1. Collect every recorded node reachable from the loss (depth-first, iterative), giving
//!    a post-order: each node comes after all the nodes it was computed from.
//! 2. Seed ∂loss/∂loss = 1, then visit the nodes in reverse post-order. A node is visited
//!    only once every consumer of it has already added its share of the gradient, so when
//!    its rule runs, its gradient is complete (the chain rule's sum over paths).
//! 3. Each rule's outputs are added to its inputs' pending gradients, or, for leaves that
//!    require grad, to their `.grad` buffers: a tensor used twice receives the sum.
//! 4. Each node's rule is taken out of the graph as it runs, which frees the tensors it saved;
//!    a second backward through the same nodes is therefore an error, not a wrong answer.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use stitch_kernels::elementwise;

use crate::tensor::recycle;
use crate::{Real, Tensor};

/// Why `backward` could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackwardError {
    /// The tensor is not a one-element (scalar) tensor.
    NotScalar {
        /// The shape.
        shape: Vec<usize>,
    },
    /// Nothing that produced the tensor requires grad.
    NoGraph,
    /// `backward_with`'s gradient does not have the tensor's shape.
    GradShape {
        /// The tensor's shape.
        shape: Vec<usize>,
        /// The gradient's shape.
        grad: Vec<usize>,
    },
    /// The graph was already walked (and freed) by an earlier `backward`.
    GraphFreed {
        /// The op's name.
        op: String,
    },
}

impl fmt::Display for BackwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackwardError::NotScalar { shape } => write!(
                f,
                "backward: called on a tensor of shape {shape:?}; it needs a scalar (one element), e.g. reduce with sum() or mean() first"
            ),
            BackwardError::NoGraph => write!(
                f,
                "backward: the tensor does not require grad (no input required grad, or it was computed under no_grad)"
            ),
            BackwardError::GradShape { shape, grad } => write!(
                f,
                "backward_with: the gradient has shape {grad:?}, the tensor {shape:?}; they must be equal"
            ),
            BackwardError::GraphFreed { op } => write!(
                f,
                "backward: the graph through `{op}` was already freed by an earlier backward; run the forward pass again"
            ),
        }
    }
}

impl std::error::Error for BackwardError {}

impl<T: Real> Tensor<T> {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad
    /// and adds it to their `.grad()`. Panics with a clear message on a non-scalar, a tensor
    /// without a graph, or a graph already freed; see [`Tensor::try_backward`].
    #[track_caller]
    pub fn backward(&self) {
        if let Err(e) = self.try_backward() {
            panic!("{e}");
        }
    }

    /// As [`Tensor::backward`], returning the error instead of panicking.
    pub fn try_backward(&self) -> Result<(), BackwardError> {
        if self.numel() != 1 {
            return Err(BackwardError::NotScalar {
                shape: self.shape().to_vec(),
            });
        }
        self.run_backward(vec![T::ONE])
    }

    /// Backward from a tensor of any shape with a given gradient `grad` of the same shape
    /// (PyTorch's `y.backward(gradient=g)`): every leaf's `.grad()` gains
    /// Σᵢ gradᵢ · ∂yᵢ/∂leaf. Panics on a shape mismatch or a tensor without a graph.
    #[track_caller]
    pub fn backward_with(&self, grad: &Tensor<T>) {
        if let Err(e) = self.try_backward_with(grad) {
            panic!("{e}");
        }
    }

    /// As [`Tensor::backward_with`], returning the error instead of panicking.
    pub fn try_backward_with(&self, grad: &Tensor<T>) -> Result<(), BackwardError> {
        if grad.shape() != self.shape() {
            return Err(BackwardError::GradShape {
                shape: self.shape().to_vec(),
                grad: grad.shape().to_vec(),
            });
        }
        self.run_backward(grad.to_vec())
    }

    fn run_backward(&self, seed: Vec<T>) -> Result<(), BackwardError> {
        if !self.requires_grad() {
            return Err(BackwardError::NoGraph);
        }
        if self.is_leaf() {
            accumulate_leaf(self, Arc::new(seed));
            return Ok(());
        }
        let order = topological_order(self)?;
        let mut pending: HashMap<u64, Grad<T>> = HashMap::new();
        pending.insert(self.id(), Arc::new(seed));
        for t in order.iter().rev() {
            let Some(d_out) = pending.remove(&t.id()) else {
                continue; // no path from the loss carries gradient here
            };
            let node = t
                .node
                .grad_fn
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let Some(node) = node else {
                return Err(BackwardError::GraphFreed { op: "?".into() });
            };
            let n = node.inputs.len();
            let needs: Vec<bool> = node.inputs.iter().map(|i| i.requires_grad()).collect();
            // Inputs whose gradient is G itself get a shared handle to it: no copy.
            let forwarded: Vec<bool> = (0..n)
                .map(|i| {
                    needs[i]
                        && node.op.forwards_gradient(i)
                        && node.inputs[i].numel() == d_out.len()
                })
                .collect();
            let rule_needs: Vec<bool> = (0..n).map(|i| needs[i] && !forwarded[i]).collect();
            let mut d_out = Some(d_out);
            let mut grads: Vec<Option<Grad<T>>> = vec![None; n];
            if rule_needs.iter().any(|&b| b) {
                let (flops, bytes) = if crate::profile::is_enabled() {
                    node.op.cost(&rule_needs)
                } else {
                    (0, 0)
                };
                let _p = crate::profile::scope_with(
                    node.op.name(),
                    crate::profile::Pass::Backward,
                    flops,
                    bytes,
                );
                let shared = d_out.take().expect("d_out is still here");
                // The rule may take G's buffer when nobody else holds it.
                let out = if forwarded.iter().any(|&f| f) {
                    let out = node.op.backward(&shared, &node.inputs, &rule_needs);
                    d_out = Some(shared);
                    out
                } else {
                    match Arc::try_unwrap(shared) {
                        Ok(owned) => node.op.backward_owned(owned, &node.inputs, &rule_needs),
                        Err(shared) => {
                            let out = node.op.backward(&shared, &node.inputs, &rule_needs);
                            d_out = Some(shared);
                            out
                        }
                    }
                };
                debug_assert_eq!(out.len(), n, "{}: one gradient per input", node.op.name());
                for (slot, g) in grads.iter_mut().zip(out) {
                    *slot = g.map(Arc::new);
                }
            }
            if let Some(shared) = &d_out {
                for (slot, &f) in grads.iter_mut().zip(&forwarded) {
                    if f {
                        *slot = Some(Arc::clone(shared));
                    }
                }
            }
            if let Some(unused) = d_out {
                give_if_unique(unused);
            }
            for ((input, grad), need) in node.inputs.iter().zip(grads).zip(needs) {
                let Some(g) = grad else { continue };
                if !need {
                    continue;
                }
                debug_assert_eq!(
                    g.len(),
                    input.numel(),
                    "{}: gradient length",
                    node.op.name()
                );
                if input.is_leaf() {
                    accumulate_leaf(input, g);
                } else {
                    accumulate(&mut pending, input.id(), g);
                }
            }
            // `node` drops here: the rule and the inputs it held are freed.
        }
        Ok(())
    }
}

/// A gradient in flight. Usually the only handle to its buffer; an op whose input's
/// gradient is its output's (same-shape `add`, views) passes on another handle to the same
/// buffer instead of a copy, and whoever ends up alone with it may then write into it.
type Grad<T> = Arc<Vec<T>>;

/// Returns a gradient's buffer for recycling if this was its last handle.
fn give_if_unique<T: Real>(g: Grad<T>) {
    if let Ok(v) = Arc::try_unwrap(g) {
        recycle::give(v);
    }
}

/// `pending[id] += g` without copying either buffer: the sum goes into whichever of the two
/// nobody else holds (a + b = b + a, one rounding, so the bits do not depend on which), or
/// into a new buffer when both are shared.
fn accumulate<T: Real>(pending: &mut HashMap<u64, Grad<T>>, id: u64, g: Grad<T>) {
    use std::collections::hash_map::Entry;
    match pending.entry(id) {
        Entry::Vacant(e) => {
            e.insert(g);
        }
        Entry::Occupied(mut e) => {
            let acc = e.get_mut();
            if let Some(a) = Arc::get_mut(acc) {
                elementwise::axpy(a, T::ONE, &g);
                give_if_unique(g);
                return;
            }
            match Arc::try_unwrap(g) {
                Ok(mut own) => {
                    elementwise::axpy(&mut own, T::ONE, acc);
                    *acc = Arc::new(own);
                }
                Err(g) => {
                    let mut sum = recycle::take(g.len(), T::ZERO);
                    elementwise::add(&mut sum, acc, &g);
                    *acc = Arc::new(sum);
                }
            }
        }
    }
}

/// `leaf.grad += g` (or `= g` the first time, keeping g's buffer when it is g's only handle).
fn accumulate_leaf<T: Real>(leaf: &Tensor<T>, g: Grad<T>) {
    let mut grad = leaf.grad_lock();
    match grad.as_mut() {
        Some(acc) => {
            elementwise::axpy(acc, T::ONE, &g);
            give_if_unique(g);
        }
        None => *grad = Some(Arc::try_unwrap(g).unwrap_or_else(|g| (*g).clone())),
    }
}

/// Every recorded (non-leaf, requiring grad) tensor reachable from `root`, in post-order.
fn topological_order<T: Real>(root: &Tensor<T>) -> Result<Vec<Tensor<T>>, BackwardError> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // (tensor, whether its inputs were already pushed)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        let inputs: Vec<Tensor<T>> = {
            let g = t.node.grad_fn.lock().unwrap_or_else(|e| e.into_inner());
            match g.as_ref() {
                Some(node) => node.inputs.clone(),
                None => {
                    let op = if t.id() == root.id() {
                        "the loss".to_string()
                    } else {
                        format!("tensor {:?}", t.shape())
                    };
                    return Err(BackwardError::GraphFreed { op });
                }
            }
        };
        stack.push((t, true));
        for i in inputs {
            if i.requires_grad() && !i.is_leaf() && !seen.contains(&i.id()) {
                stack.push((i, false));
            }
        }
    }
    Ok(order)
}
