//! What a model sees, for pictures: which traced ops end its blocks (their outputs are the
//! feature maps worth drawing) and its first layer's filters as an image. `stitch show` and
//! `stitch report` draw from these.

use crate::autograd::OpRecord;
use crate::nn::lookup::ModuleMap;
use crate::nn::{LayerKind, Module};
use crate::viz::grid;
use crate::viz::png::Image;

/// The feature maps worth drawing, as (file label, record index): the end of each block.
///
/// In order of preference: the outputs of max-pool layers; else the last 4-D output of each
/// composite layer whose own `forward` runs ops (a residual block's sum and ReLU); else the
/// outputs of ReLU layers; else every 4-D `relu` / `add_relu` op. Only 4-D (feature-map)
/// outputs count.
pub fn block_ends(model: &dyn Module<f32>, records: &[OpRecord]) -> Vec<(String, usize)> {
    let map = ModuleMap::new(model);
    let four_d = |r: &OpRecord| r.shape.len() == 4;
    let of_kind = |want: fn(LayerKind) -> bool| -> Vec<(String, usize)> {
        records
            .iter()
            .enumerate()
            .filter(|(_, r)| four_d(r))
            .filter_map(|(i, r)| {
                let (path, m) = map.owner(r)?;
                want(m.kind()).then_some((path, i))
            })
            .collect()
    };
    let pools = of_kind(|k| matches!(k, LayerKind::MaxPool2d { .. }));
    if !pools.is_empty() {
        return pools;
    }
    // The last 4-D output within each run of records that one composite layer produced.
    let mut blocks: Vec<(String, usize)> = Vec::new();
    let mut current: Option<usize> = None;
    for (i, r) in records.iter().enumerate() {
        let Some(&key) = r.modules.last() else {
            current = None;
            continue;
        };
        let composite = map.by_key(key).filter(|(_, m)| !m.children().is_empty());
        let Some((path, _)) = composite else {
            continue;
        };
        if !four_d(r) {
            continue;
        }
        if current == Some(key) {
            blocks.last_mut().expect("a block is open").1 = i;
        } else {
            blocks.push((path, i));
            current = Some(key);
        }
    }
    if !blocks.is_empty() {
        return blocks;
    }
    let relus = of_kind(|k| k == LayerKind::Relu);
    if !relus.is_empty() {
        return relus;
    }
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| four_d(r) && matches!(r.op, "relu" | "add_relu"))
        .map(|(i, r)| (format!("op{i}-{}", r.op), i))
        .collect()
}

/// The first layer's weights as maps: 3×3 filters of the first convolution (input channels
/// averaged), or 28×28 weight maps of a linear layer on the flattened pixels.
pub fn first_filters(model: &dyn Module<f32>) -> Option<Image> {
    let params = model.named_parameters();
    if let Some((_, w)) = params.iter().find(|(_, t)| t.ndim() == 4) {
        let s = w.shape().to_vec();
        let (k, c, r, q) = (s[0], s[1], s[2], s[3]);
        let wv = w.to_vec();
        let maps: Vec<f32> = (0..k * r * q)
            .map(|i| {
                let (f, rest) = (i / (r * q), i % (r * q));
                (0..c)
                    .map(|ch| wv[(f * c + ch) * r * q + rest])
                    .sum::<f32>()
                    / c as f32
            })
            .collect();
        return Some(grid::tile(&maps, k, r, q, 8, 16));
    }
    let (_, w) = params
        .iter()
        .find(|(_, t)| t.ndim() == 2 && t.shape()[1] == 784)?;
    Some(grid::tile(&w.to_vec(), w.shape()[0], 28, 28, 16, 2))
}
