//! `stitch show`: what a trained model does with one test image, as pictures.

use std::path::PathBuf;

use crate::data::{FashionMnist, CLASS_NAMES};
use crate::viz::features::{block_ends, first_filters};
use crate::viz::{grid, svg};

use super::{setup, ShowArgs};

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
