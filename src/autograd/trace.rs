//! Op tracing: what ran, in order, on the calling thread.
//!
//! [`trace`] runs a closure and returns, besides its result, one [`OpRecord`] per op that
//! produced a tensor while it ran: the op's name, the output (a handle, kept alive by the
//! record), the ids of the inputs and the op's multiply-adds. It works for any model,
//! however its `forward` is written, because it sits where every op creates its output:
//! `summary` reads the shapes and the parameters each op consumed from it, `show` the
//! feature maps, `--diagnostics` the ReLU outputs, and the non-finite guard the first op
//! whose output went NaN. Ops that return their input unchanged (dropout in evaluation
//! mode) make no record. Tracing costs one thread-local check per op when off.

use std::any::Any;
use std::cell::{Cell, RefCell};

use crate::{Real, Tensor};

/// One op that ran under [`trace`].
pub struct OpRecord {
    /// The op's name (its backward rule's, as in the profiler and the graph).
    pub op: &'static str,
    /// The output's shape.
    pub shape: Vec<usize>,
    /// The output's id ([`Tensor::id`]).
    pub id: u64,
    /// The ids of the inputs, in the op's order (parameters among them).
    pub inputs: Vec<u64>,
    /// Multiply-adds of the op (convolutions, linear layers, products; else 0).
    pub mult_adds: u64,
    /// The modules whose `forward` was running, outermost first, as the addresses
    /// [`module_key`] gives: the layers a [`Sequential`](crate::nn::Sequential) ran (it
    /// announces each child with [`in_module`]). Empty for ops a model runs itself.
    pub modules: Vec<usize>,
    output: Box<dyn Any>,
}

impl OpRecord {
    /// The output tensor, if its element type is `T`.
    pub fn output<T: Real>(&self) -> Option<&Tensor<T>> {
        self.output.downcast_ref::<Tensor<T>>()
    }
}

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static RECORDS: RefCell<Vec<OpRecord>> = const { RefCell::new(Vec::new()) };
    static SCOPES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The identity of a module in a trace: the address of the `&dyn Module` that its parent's
/// [`children`](crate::nn::Module::children) hands out (a `Sequential` hands out its
/// boxes, so even two zero-sized `ReLU` layers have different keys).
pub fn module_key<T: Real>(m: &dyn crate::nn::Module<T>) -> usize {
    m as *const dyn crate::nn::Module<T> as *const () as usize
}

/// Runs `f` with the module `key` on the trace's stack of running modules (only while
/// tracing; otherwise it just runs `f`).
pub fn in_module<R>(key: usize, f: impl FnOnce() -> R) -> R {
    if !is_tracing() {
        return f();
    }
    SCOPES.with(|s| s.borrow_mut().push(key));
    let r = f();
    SCOPES.with(|s| s.borrow_mut().pop());
    r
}

/// Runs `f` and returns its result with the ops it ran, in order. Nested traces each get
/// their own records.
pub fn trace<R>(f: impl FnOnce() -> R) -> (R, Vec<OpRecord>) {
    let was_on = ON.with(|c| c.replace(true));
    let outer = RECORDS.with(|r| std::mem::take(&mut *r.borrow_mut()));
    let result = f();
    let records = RECORDS.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
    ON.with(|c| c.set(was_on));
    (result, records)
}

/// Called by every op as it creates its output.
pub(crate) fn record<T: Real>(
    op: &'static str,
    mult_adds: u64,
    out: &Tensor<T>,
    inputs: &[&Tensor<T>],
) {
    if !ON.with(|c| c.get()) {
        return;
    }
    let rec = OpRecord {
        op,
        shape: out.shape().to_vec(),
        id: out.id(),
        inputs: inputs.iter().map(|t| t.id()).collect(),
        mult_adds,
        modules: SCOPES.with(|s| s.borrow().clone()),
        output: Box::new(out.clone()),
    };
    RECORDS.with(|r| r.borrow_mut().push(rec));
}

/// Whether a trace is running on this thread.
pub fn is_tracing() -> bool {
    ON.with(|c| c.get())
}
