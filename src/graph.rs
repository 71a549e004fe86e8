//! `stitch graph`: the autograd graph of one forward pass and loss as Graphviz DOT.
//!
//! One box per op (its [`Backward::name`](crate::autograd::Backward::name)), one ellipse per
//! leaf: parameters in green with their name and shape, the input batch in grey. Each edge
//! carries the shape of the tensor that flows along it, from the producer to the op that
//! consumes it. Render with `dot -Tsvg graph.dot > graph.svg`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::{Real, Tensor};

/// A node of the drawn graph.
struct DotNode {
    label: String,
    /// The parameter's name, for leaves that are parameters.
    parameter: Option<String>,
    is_op: bool,
}

/// The graph behind `loss`, captured before a backward pass frees it.
pub struct Graph<T: Real> {
    nodes: Vec<DotNode>,
    /// (from, to, shape of the tensor on the edge)
    edges: Vec<(usize, usize, Vec<usize>)>,
    /// Parameter tensors by node index, to read their gradients later.
    params: Vec<(usize, Tensor<T>)>,
}

impl<T: Real> Graph<T> {
    /// Walks the graph from `loss`; `named` gives the parameters' names.
    pub fn capture(loss: &Tensor<T>, named: &[(String, Tensor<T>)]) -> Graph<T> {
        let mut g = Graph {
            nodes: Vec::new(),
            edges: Vec::new(),
            params: Vec::new(),
        };
        let mut index: HashMap<usize, usize> = HashMap::new();
        let key = |t: &Tensor<T>| Arc::as_ptr(&t.node) as usize;
        let mut stack = vec![loss.clone()];
        while let Some(t) = stack.pop() {
            let id = *index.entry(key(&t)).or_insert_with(|| {
                g.nodes.push(describe(&t, named));
                g.nodes.len() - 1
            });
            let guard = t.node.grad_fn.lock().unwrap_or_else(|e| e.into_inner());
            let Some(node) = guard.as_ref() else { continue };
            for input in &node.inputs {
                let known = index.contains_key(&key(input));
                let from = *index.entry(key(input)).or_insert_with(|| {
                    g.nodes.push(describe(input, named));
                    if g.nodes.last().is_some_and(|n| n.parameter.is_some()) {
                        g.params.push((g.nodes.len() - 1, input.clone()));
                    }
                    g.nodes.len() - 1
                });
                g.edges.push((from, id, input.shape().to_vec()));
                if !known {
                    stack.push(input.clone());
                }
            }
        }
        g
    }

    /// The number of op nodes.
    pub fn op_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_op).count()
    }

    /// DOT text; with `grads`, each parameter shows the L2 norm of its current gradient.
    pub fn to_dot(&self, grads: bool) -> String {
        let grad_norm: HashMap<usize, f64> = self
            .params
            .iter()
            .map(|(i, t)| {
                let g = t
                    .grad()
                    .map(|g| g.to_vec().iter().map(|v| v.to_f64().powi(2)).sum::<f64>());
                (*i, g.map_or(f64::NAN, f64::sqrt))
            })
            .collect();
        let mut s = String::from("digraph stitch {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let (shape, style) = match (&n.parameter, n.is_op) {
                (_, true) => ("box", "filled, rounded\", fillcolor=\"#dbe8ff"),
                (Some(_), _) => ("ellipse", "filled\", fillcolor=\"#d9f2d9"),
                (None, _) => ("ellipse", "filled\", fillcolor=\"#eeeeee"),
            };
            let mut label = n.label.clone();
            if grads {
                if let Some(norm) = grad_norm.get(&i) {
                    let _ = write!(label, "\\n|grad| = {norm:.4e}");
                }
            }
            let _ = writeln!(
                s,
                "  n{i} [label=\"{label}\", shape={shape}, style=\"{style}\"];"
            );
        }
        for (from, to, shape) in &self.edges {
            let _ = writeln!(s, "  n{from} -> n{to} [label=\"{shape:?}\"];");
        }
        s.push_str("}\n");
        s
    }
}

fn describe<T: Real>(t: &Tensor<T>, named: &[(String, Tensor<T>)]) -> DotNode {
    let op = t
        .node
        .grad_fn
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|n| n.op.name());
    if let Some(op) = op {
        return DotNode {
            label: op.to_string(),
            parameter: None,
            is_op: true,
        };
    }
    let name = named
        .iter()
        .find(|(_, p)| Arc::ptr_eq(&p.node, &t.node))
        .map(|(n, _)| n.clone());
    match name {
        Some(n) => DotNode {
            label: format!("{n}\\n{:?}", t.shape()),
            parameter: Some(n),
            is_op: false,
        },
        None => DotNode {
            label: format!("input\\n{:?}", t.shape()),
            parameter: None,
            is_op: false,
        },
    }
}
