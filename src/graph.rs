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

/// What a drawn node stands for.
enum Kind<T: Real> {
    Op,
    /// A parameter, kept to read its gradient after a backward pass.
    Parameter(Tensor<T>),
    Input,
}

/// A node of the drawn graph.
struct DotNode<T: Real> {
    label: String,
    kind: Kind<T>,
}

/// The graph behind `loss`, captured before a backward pass frees it.
pub struct Graph<T: Real> {
    nodes: Vec<DotNode<T>>,
    /// (from, to, shape of the tensor on the edge)
    edges: Vec<(usize, usize, Vec<usize>)>,
}

impl<T: Real> Graph<T> {
    /// Walks the graph from `loss`; `named` gives the parameters' names.
    pub fn capture(loss: &Tensor<T>, named: &[(String, Tensor<T>)]) -> Graph<T> {
        let key = |t: &Tensor<T>| Arc::as_ptr(&t.node) as usize;
        let mut g = Graph {
            nodes: vec![describe(loss, named)],
            edges: Vec::new(),
        };
        let mut index: HashMap<usize, usize> = HashMap::from([(key(loss), 0)]);
        let mut stack = vec![loss.clone()];
        while let Some(t) = stack.pop() {
            let to = index[&key(&t)];
            let guard = t.node.grad_fn.lock().unwrap_or_else(|e| e.into_inner());
            let Some(node) = guard.as_ref() else { continue };
            for input in &node.inputs {
                let from = *index.entry(key(input)).or_insert_with(|| {
                    // First meeting: draw it and walk on from it.
                    g.nodes.push(describe(input, named));
                    stack.push(input.clone());
                    g.nodes.len() - 1
                });
                g.edges.push((from, to, input.shape().to_vec()));
            }
        }
        g
    }

    /// DOT text; with `grads`, each parameter shows the L2 norm of its current gradient.
    pub fn to_dot(&self, grads: bool) -> String {
        let mut s = String::from("digraph stitch {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let mut label = n.label.clone();
            let (shape, style) = match &n.kind {
                Kind::Op => ("box", "filled, rounded\", fillcolor=\"#dbe8ff"),
                Kind::Parameter(p) => {
                    if grads {
                        let norm = p.grad_lock().as_deref().map_or(f64::NAN, |g| {
                            g.iter().map(|v| v.to_f64().powi(2)).sum::<f64>().sqrt()
                        });
                        let _ = write!(label, "\\n|grad| = {norm:.4e}");
                    }
                    ("ellipse", "filled\", fillcolor=\"#d9f2d9")
                }
                Kind::Input => ("ellipse", "filled\", fillcolor=\"#eeeeee"),
            };
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

fn describe<T: Real>(t: &Tensor<T>, named: &[(String, Tensor<T>)]) -> DotNode<T> {
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
            kind: Kind::Op,
        };
    }
    match named.iter().find(|(_, p)| Arc::ptr_eq(&p.node, &t.node)) {
        Some((n, p)) => DotNode {
            label: format!("{n}\\n{:?}", t.shape()),
            kind: Kind::Parameter(p.clone()),
        },
        None => DotNode {
            label: format!("input\\n{:?}", t.shape()),
            kind: Kind::Input,
        },
    }
}
