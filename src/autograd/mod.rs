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

pub use backward::BackwardError;
pub use grad_mode::{is_grad_enabled, no_grad, with_no_grad, NoGradGuard};

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
    fn backward(&self, d_out: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>>;
}

/// A recorded op: its rule and its inputs.
pub struct GradNode<T: Real> {
    pub op: Box<dyn Backward<T>>,
    pub inputs: Vec<Tensor<T>>,
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
        if record {
            let node = GradNode {
                op: Box::new(op),
                inputs: inputs.iter().map(|t| (*t).clone()).collect(),
            };
            Tensor::from_parts(storage, shape.to_vec(), true, Some(node))
        } else {
            Tensor::from_parts(storage, shape.to_vec(), false, None)
        }
    }

    /// A view: an op output that shares the input's storage (reshape, flatten).
    pub(crate) fn view_from_op(
        input: &Tensor<T>,
        shape: &[usize],
        op: impl Backward<T> + 'static,
    ) -> Tensor<T> {
        if is_grad_enabled() && input.requires_grad() {
            let node = GradNode {
                op: Box::new(op),
                inputs: vec![input.clone()],
            };
            Tensor::from_parts(input.storage(), shape.to_vec(), true, Some(node))
        } else {
            Tensor::from_parts(input.storage(), shape.to_vec(), false, None)
        }
    }
}
