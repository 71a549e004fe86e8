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
    /// The graph was already walked (and freed) by an earlier `backward`.
    GraphFreed {
        /// The op's name, or its backward rule.
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
        if !self.requires_grad() {
            return Err(BackwardError::NoGraph);
        }
        if self.is_leaf() {
            accumulate_leaf(self, vec![T::ONE]);
            return Ok(());
        }
        let order = topological_order(self)?;
        let mut pending: HashMap<u64, Vec<T>> = HashMap::new();
        pending.insert(self.id(), vec![T::ONE]);
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
            let needs: Vec<bool> = node.inputs.iter().map(|i| i.requires_grad()).collect();
            let grads = {
                let (flops, bytes) = if crate::profile::is_enabled() {
                    node.op.cost(&needs)
                } else {
                    (0, 0)
                };
                let _p = crate::profile::scope_with(
                    node.op.name(),
                    crate::profile::Pass::Backward,
                    flops,
                    bytes,
                );
                node.op.backward_owned(d_out, &node.inputs, &needs)
            };
            debug_assert_eq!(
                grads.len(),
                node.inputs.len(),
                "{}: one gradient per input",
                node.op.name()
            );
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
                    match pending.get_mut(&input.id()) {
                        Some(acc) => {
                            elementwise::axpy(acc, T::ONE, &g);
                            recycle::give(g);
                        }
                        None => {
                            pending.insert(input.id(), g);
                        }
                    }
                }
            }
            // `node` drops here: the rule and the inputs it held are freed.
        }
        Ok(())
    }
}

/// `leaf.grad += g` (or `= g` the first time, keeping g's buffer).
fn accumulate_leaf<T: Real>(leaf: &Tensor<T>, g: Vec<T>) {
    let mut grad = leaf.grad_lock();
    match grad.as_mut() {
        Some(acc) => {
            elementwise::axpy(acc, T::ONE, &g);
            recycle::give(g);
        }
        None => *grad = Some(g),
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
