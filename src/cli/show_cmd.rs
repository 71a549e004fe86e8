//! `stitch show`: what a trained model does with one test image, as pictures.

use std::path::PathBuf;

use stitch::checkpoint::Checkpoint;
use stitch::data::{FashionMnist, CLASS_NAMES};
use stitch::nn::{LayerKind, Module};
use stitch::viz::{grid, svg};

use super::{setup, ShowArgs};

pub fn run(a: ShowArgs) -> Result<(), String> {
    setup(&a.run)?;
    let ck = Checkpoint::load(&a.load).map_err(|e| e.to_string())?;
    let name = ck
        .get("model")
        .ok_or_else(|| format!("{}: the checkpoint names no model", a.load.display()))?;
    let mut model =
        stitch::models::build(name, 0).map_err(|e| format!("{}: {e}", a.load.display()))?;
    ck.load_into(&model, &a.load).map_err(|e| e.to_string())?;
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
    let outs = {
        let _g = stitch::no_grad();
        model.forward_all(&x)
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

    // The first layer's weights: 3×3 filters of a convolution, or 28×28 weight maps of
    // a linear layer on the flattened pixels.
    if let Some((w, _, _)) = model.layers().iter().find_map(|l| l.as_conv2d()) {
        let s = w.shape().to_vec();
        // Input channels are averaged (the first convolution has one).
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
        write("filters.png", &grid::tile(&maps, k, r, q, 8, 16).to_png())?;
    } else if let Some((_, w)) = model
        .named_parameters()
        .into_iter()
        .find(|(_, t)| t.shape().len() == 2 && t.shape()[1] == 784)
    {
        let k = w.shape()[0];
        write(
            "filters.png",
            &grid::tile(&w.to_vec(), k, 28, 28, 16, 2).to_png(),
        )?;
    }

    // Feature maps at the end of each block: after each max-pool, or after each ReLU of
    // a model without pooling; 4-D outputs only.
    let has_pool = model
        .layers()
        .iter()
        .any(|l| matches!(l.kind(), LayerKind::MaxPool2d { .. }));
    for (i, (layer, out)) in model.layers().iter().zip(&outs).enumerate() {
        let end_of_block = match layer.kind() {
            LayerKind::MaxPool2d { .. } => true,
            LayerKind::Relu => !has_pool,
            LayerKind::Other => false,
        };
        if end_of_block && out.shape().len() == 4 {
            let s = out.shape();
            let file = format!("features-layer{i}.png");
            write(
                &file,
                &grid::tile(&out.to_vec(), s[1], s[2], s[3], 8, 4).to_png(),
            )?;
        }
    }

    // Class probabilities.
    let logits = outs.last().cloned().unwrap_or(x);
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
