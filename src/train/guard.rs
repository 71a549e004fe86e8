//! Stopping early: Ctrl-C ([`request_stop`]) and the non-finite guard, which names the
//! first op whose output went NaN or infinite (by tracing the batch again, so it works for
//! any model) or the first parameter whose gradient did.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::nn::lookup::ModuleMap;
use crate::nn::Module;
use crate::{no_grad, Tensor};

/// Why training stopped early.
#[derive(Debug)]
pub enum TrainError {
    /// A loss or gradient went NaN or infinite; `culprit` names where it first appeared
    /// (a layer's output, the loss, or a parameter's gradient).
    NonFinite {
        /// The epoch (from 1).
        epoch: usize,
        /// The step within the epoch (from 1).
        step: usize,
        /// The learning rate.
        lr: f64,
        /// Where the non-finite value first appeared.
        culprit: String,
    },
    /// [`request_stop`] was called (Ctrl-C): the epoch stopped after its current batch.
    Interrupted {
        /// The epoch (from 1).
        epoch: usize,
        /// The step within the epoch (from 1).
        step: usize,
    },
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::NonFinite {
                epoch,
                step,
                lr,
                culprit,
            } => write!(
                f,
                "training diverged at epoch {epoch} step {step} (lr {lr}): {culprit}; try a lower --lr"
            ),
            TrainError::Interrupted { epoch, step } => {
                write!(f, "interrupted during epoch {epoch} after step {step}")
            }
        }
    }
}

impl std::error::Error for TrainError {}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks a running epoch to stop after its current batch (the CLI's Ctrl-C handler calls
/// this); the epoch then returns [`TrainError::Interrupted`].
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether [`request_stop`] has been called.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Where a non-finite loss first appears: runs the batch again without a graph or fusions,
/// tracing every op, and names the first op whose output holds a NaN or an infinity, with
/// its module when it has one.
pub(crate) fn first_non_finite_op(model: &dyn Module<f32>, x: &Tensor<f32>) -> String {
    let _g = no_grad();
    let _f = crate::ops::no_fusion();
    let (_, records) = crate::autograd::trace(|| model.forward(x));
    let map = ModuleMap::new(model);
    for (i, rec) in records.iter().enumerate() {
        let Some(out) = rec.output::<f32>() else {
            continue;
        };
        if let Some(bad) = out.data().iter().find(|v| !v.is_finite()) {
            let module = match map.owner(rec) {
                Some((path, m)) if !path.is_empty() => format!(" in {path} {}", m.describe()),
                _ => String::new(),
            };
            return format!(
                "the output of op {i} {}{module} {:?} holds {bad} (first non-finite op)",
                rec.op, rec.shape
            );
        }
    }
    "every op's output is finite, the cross-entropy loss is not".into()
}

/// The first parameter whose gradient holds a NaN or an infinity.
///
/// Runs every step, so the common case is one SIMD, multi-threaded sum per parameter: a sum
/// of finite terms is finite (unless it overflows, which the element scan then clears), and
/// only a non-finite sum pays for the scan that finds the value.
pub(crate) fn first_non_finite_grad(model: &dyn Module<f32>) -> Option<String> {
    for (name, p) in model.named_parameters() {
        let g = p.grad_lock();
        let Some(g) = g.as_ref() else { continue };
        if stitch_kernels::reduce::sum(g).is_finite() {
            continue;
        }
        if let Some(bad) = g.iter().find(|v| !v.is_finite()) {
            return Some(format!("the gradient of {name} holds {bad}"));
        }
    }
    None
}
