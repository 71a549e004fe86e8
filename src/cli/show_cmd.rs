//! `stitch show`: what a trained model does with one test image, as pictures.

use std::path::PathBuf;

use crate::autograd::OpRecord;
use crate::data::{FashionMnist, CLASS_NAMES};
use crate::nn::lookup::ModuleMap;
use crate::nn::{LayerKind, Module};
use crate::viz::{grid, svg};

use super::{setup, ShowArgs};

/// The feature maps worth drawing, as (file label, record index): the end of each block.
///
/// In order of preference: the outputs of max-pool layers; else of ReLU layers; else the
/// last 4-D output of each composite layer a `Sequential` runs (a residual block); else
/// every 4-D `relu` / `add_relu` op. Only 4-D (feature-map) outputs count.
pub(crate) fn block_ends(model: &dyn Module<f32>, records: &[OpRecord]) -> Vec<(String, usize)> {
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
    let relus = of_kind(|k| k == LayerKind::Relu);
    if !relus.is_empty() {
        return relus;
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
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| four_d(r) && matches!(r.op, "relu" | "add_relu"))
        .map(|(i, r)| (format!("op{i}-{}", r.op), i))
        .collect()
}

/// The first layer's weights as maps: 3×3 filters of the first convolution (input channels
/// averaged), or 28×28 weight maps of a linear layer on the flattened pixels.
pub(crate) fn first_filters(model: &dyn Module<f32>) -> Option<crate::viz::png::Image> {
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

pub(crate) fn run(a: ShowArgs) -> Result<(), String> {
    setup(&a.run)?;
    let (_, _, model) = super::export_cmd::load_model(&a.load, a.model.as_deref())?;
    let data = FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
    if a.index >= data.test.len() {
        return Err(format!(
            "--index {} is outside the test set (0..{})",
            a.index,
            data.test.len()
        ));
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("{}: cannot create: {e}", a.out.display()))?;
    let (x, y) = data.test.batch(&[a.index]);
    model.eval();
    let (logits, records) = {
        let _g = crate::no_grad();
        let _f = crate::ops::no_fusion();
        crate::autograd::trace(|| model.forward(&x))
    };
    let mut written: Vec<PathBuf> = Vec::new();
    let mut write = |file: &str, bytes: &[u8]| -> Result<(), String> {
        let p = a.out.join(file);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
        written.push(p);
        Ok(())
    };

    // The input image, 8× so each pixel is visible.
    write(
        "input.png",
        &grid::tile(&x.to_vec(), 1, 28, 28, 1, 8).to_png(),
    )?;
    if let Some(img) = first_filters(model.as_ref()) {
        write("filters.png", &img.to_png())?;
    }
    for (label, i) in block_ends(model.as_ref(), &records) {
        let Some(out) = records[i].output::<f32>() else {
            continue;
        };
        let s = out.shape();
        write(
            &format!("features-{label}.png"),
            &grid::tile(&out.to_vec(), s[1], s[2], s[3], 8, 4).to_png(),
        )?;
    }

    // Class probabilities.
    let probs: Vec<f64> = logits
        .softmax()
        .to_vec()
        .iter()
        .map(|&p| p as f64)
        .collect();
    let pred = logits.argmax()[0];
    let labels: Vec<String> = CLASS_NAMES.iter().map(|s| s.to_string()).collect();
    let chart = svg::bar_chart(
        &format!(
            "test image {}: predicted {}, true {}",
            a.index, CLASS_NAMES[pred], CLASS_NAMES[y[0]]
        ),
        "probability",
        &labels,
        &[("probability".to_string(), probs.clone())],
    );
    write("probabilities.svg", chart.as_bytes())?;

    for p in &written {
        println!("wrote {}", p.display());
    }
    println!(
        "test image {}: predicted {} ({:.1}%), true class {}",
        a.index,
        CLASS_NAMES[pred],
        100.0 * probs[pred],
        CLASS_NAMES[y[0]]
    );
    Ok(())
}
