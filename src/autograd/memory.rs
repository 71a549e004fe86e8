//! What a recorded graph keeps alive for its backward pass, op by op.
//!
//! Walking the graph from a loss, each op node holds (a) the inputs its backward reads
//! ([`Backward::reads_input`]): intermediate activations whose elements stay allocated until
//! backward frees the node, and (b) what the rule saved itself ([`Backward::saved_bytes`]:
//! argmax indices, ReLU masks, softmax probabilities, batch statistics). Parameters are not
//! counted (they exist with or without a graph), and a storage shared by several nodes is
//! counted once, for the first op that reads it on the walk from the loss. An intermediate
//! that the graph holds although no rule reads it (a model that kept a handle to it, or a
//! view sharing its storage) is reported in a last row named [`UNREAD`].

use std::collections::HashSet;
use std::sync::Arc;

use super::Backward;
use crate::{Real, Tensor};

/// The name of the row for intermediates held but read by no backward rule.
pub const UNREAD: &str = "(held, unread)";

/// One op's share of the memory a graph holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedRow {
    /// The op's name ([`Backward::name`]).
    pub op: &'static str,
    /// Nodes of this op in the graph.
    pub nodes: usize,
    /// Bytes of input activations kept because the backward reads them.
    pub input_bytes: usize,
    /// Bytes the rule saved itself.
    pub own_bytes: usize,
}

impl<T: Real> Tensor<T> {
    /// The memory this tensor's graph keeps for backward, one row per op name in the order
    /// met walking from `self` towards the inputs.
    pub fn saved_for_backward(&self) -> Vec<SavedRow> {
        let mut rows: Vec<SavedRow> = Vec::new();
        let mut seen_nodes = HashSet::new();
        let mut seen_storage = HashSet::new();
        // Storages of intermediates that no rule reads through this node: unread unless some
        // other node over the same storage (a view) is read.
        let mut unread = std::collections::HashMap::new();
        let mut stack = vec![self.clone()];
        while let Some(t) = stack.pop() {
            if !seen_nodes.insert(Arc::as_ptr(&t.node) as usize) {
                continue;
            }
            let guard = t.node.grad_fn.lock().unwrap_or_else(|e| e.into_inner());
            let Some(node) = guard.as_ref() else { continue };
            let op: &dyn Backward<T> = node.op.as_ref();
            let mut input_bytes = 0;
            for (i, x) in node.inputs.iter().enumerate() {
                let parameter = x.is_leaf() && x.requires_grad();
                let storage = Arc::as_ptr(&x.node.storage) as usize;
                let bytes = x.node.storage.read().map_or(0, |v| v.len()) * std::mem::size_of::<T>();
                if op.reads_input(i) && !parameter && seen_storage.insert(storage) {
                    input_bytes += bytes;
                }
                let no_reader = x.node.readers.load(std::sync::atomic::Ordering::Relaxed) == 0;
                if !x.is_leaf() && no_reader && bytes > 0 {
                    unread.insert(storage, bytes);
                }
                stack.push(x.clone());
            }
            let own_bytes = op.saved_bytes();
            match rows.iter_mut().find(|r| r.op == op.name()) {
                Some(r) => {
                    r.nodes += 1;
                    r.input_bytes += input_bytes;
                    r.own_bytes += own_bytes;
                }
                None => rows.push(SavedRow {
                    op: op.name(),
                    nodes: 1,
                    input_bytes,
                    own_bytes,
                }),
            }
        }
        unread.retain(|storage, _| !seen_storage.contains(storage));
        if !unread.is_empty() {
            rows.push(SavedRow {
                op: UNREAD,
                nodes: unread.len(),
                input_bytes: unread.values().sum(),
                own_bytes: 0,
            });
        }
        rows
    }
}
