//! `stitch report`: one self-contained HTML page that shows what a trained network does,
//! beside its insides, in a learner's order: the run, its training curves, the model layer
//! by layer, what it gets wrong, what it sees, how it learned, and where the time goes.
//!
//! The page is built from the library's own pieces (no second implementation of any):
//! [`crate::summary::summarize`] for the layer table, [`crate::train::predict_with`] for
//! the test predictions, [`crate::viz::features`] for filters and feature maps,
//! [`crate::viz::svg`] for the curves and bars, [`crate::profile::table`] for the timing.
//! It works for any [`Module`], a user's own included. Everything is inline (CSS, PNG
//! images as base64 `data:` URLs, SVG charts), so the file opens offline and names no
//! address; a small inline script checks, once loaded, that every image decoded and every
//! chart has data ([`html`]).
//!
//! ```no_run
//! # fn demo(model: &dyn stitch::nn::Module<f32>, test: &stitch::data::Split) {
//! let input = stitch::report::ReportInput::new("my-net", model, test);
//! std::fs::write("report.html", stitch::report::build(&input)).unwrap();
//! # }
//! ```

pub mod charts;
pub mod html;

use std::fmt::Write;

use crate::data::{Split, CLASS_NAMES, PIXELS};
use crate::diagnostics::EpochDiagnostics;
use crate::nn::Module;
use crate::profile::Row;
use crate::summary::{summarize, with_commas};
use crate::train::{confusion_matrix, most_confused, predict_with, EpochMetrics, MetricsLine};
use crate::viz::features::{block_ends, first_filters};
use crate::viz::{grid, svg};
use charts::Block;
use html::{chart, escape, img, table, Page};

/// A profile to show: rows recorded by [`crate::profile`] and the machine's probed peaks.
#[derive(Clone, Debug)]
pub struct ProfileSection {
    /// The recorded rows ([`crate::profile::rows`]).
    pub rows: Vec<Row>,
    /// The probed FMA peak in GFLOP/s, if measured.
    pub peak_gflops: Option<f64>,
    /// The probed copy bandwidth in GB/s, if measured.
    pub bandwidth_gbs: Option<f64>,
    /// What was timed (steps, batch, where).
    pub note: String,
}

/// What a report is made of. Only the model, its name and the test split are required.
pub struct ReportInput<'a> {
    /// The model's name (a registry name, or the user's).
    pub name: String,
    /// The trained model.
    pub model: &'a dyn Module<f32>,
    /// The run's recipe and counters as key/value pairs (a checkpoint's metadata).
    pub meta: Vec<(String, String)>,
    /// Per-epoch figures (a `--metrics` file, or the running history); may be empty.
    pub history: Vec<MetricsLine>,
    /// The test split the page's predictions come from.
    pub test: &'a Split,
    /// The two test images whose feature maps are drawn; by default the first the model
    /// gets right and the first it gets wrong.
    pub images: Option<[usize; 2]>,
    /// Where the time goes, if measured.
    pub profile: Option<ProfileSection>,
}

impl<'a> ReportInput<'a> {
    /// A report of `model` on `test` with nothing else recorded.
    pub fn new(name: &str, model: &'a dyn Module<f32>, test: &'a Split) -> Self {
        ReportInput {
            name: name.to_string(),
            model,
            meta: Vec::new(),
            history: Vec::new(),
            test,
            images: None,
            profile: None,
        }
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The test split's predictions: softmax probabilities per image and the predicted class.
struct Predictions {
    probs: Vec<[f32; 10]>,
    predicted: Vec<usize>,
    confusion: [[usize; 10]; 10],
    accuracy: f64,
}

fn predictions(model: &dyn Module<f32>, test: &Split, tta: bool) -> Predictions {
    let p = predict_with(model, test, tta).softmax().to_vec();
    let mut out = Predictions {
        probs: Vec::with_capacity(test.len()),
        predicted: Vec::with_capacity(test.len()),
        confusion: [[0; 10]; 10],
        accuracy: 0.0,
    };
    for row in p.chunks(10) {
        let mut probs = [0f32; 10];
        probs.copy_from_slice(row);
        // The first of equal maxima, as `argmax` does.
        let pred = (0..10).fold(0, |b, c| if probs[c] > probs[b] { c } else { b });
        out.probs.push(probs);
        out.predicted.push(pred);
    }
    out.confusion = confusion_matrix(&out.predicted, &test.labels);
    let correct: usize = (0..10).map(|c| out.confusion[c][c]).sum();
    out.accuracy = 100.0 * correct as f64 / test.len().max(1) as f64;
    out
}

/// Test image `i` as a greyscale picture, `scale` times its size.
fn test_image(test: &Split, i: usize, scale: usize) -> crate::viz::png::Image {
    let px: Vec<f32> = test.images[i * PIXELS..(i + 1) * PIXELS]
        .iter()
        .map(|&b| b as f32)
        .collect();
    grid::tile(&px, 1, 28, 28, 1, scale)
}

/// The whole page for `input`.
pub fn build(input: &ReportInput) -> String {
    let model = input.model;
    let tta = input.meta("tta") == Some("true");
    let pred = predictions(model, input.test, tta);
    let summary = summarize(model, 128);
    let mut page = Page::new(&format!("stitch report: {}", input.name));
    page.push(&format!(
        "<h1>stitch report: {}</h1>\n<p class=\"small\">{} test images, {} kernels ({}). Built by <code>stitch report</code>; every figure below was computed when this page was written.</p>\n",
        escape(&input.name),
        input.test.len(),
        stitch_kernels::mode().name(),
        stitch_kernels::isa::isa().name()
    ));
    page.section("run", "1. The run", &run_section(input, &pred, &summary));
    page.section("curves", "2. Training curves", &curves_section(input));
    page.section(
        "layers",
        "3. The model layer by layer",
        &layers_section(&summary),
    );
    page.section(
        "mistakes",
        "4. What it gets wrong",
        &mistakes_section(input, &pred),
    );
    page.section("sees", "5. What it sees", &sees_section(input, &pred));
    page.section("learned", "6. How it learned", &learned_section(input));
    page.section("time", "7. Where the time goes", &time_section(input));
    page.finish()
}

fn run_section(
    input: &ReportInput,
    pred: &Predictions,
    summary: &crate::summary::Summary,
) -> String {
    let tta = input.meta("tta") == Some("true");
    let entry = crate::models::entry(&input.name).ok();
    let description = entry
        .as_ref()
        .map(|e| e.description.clone())
        .unwrap_or_else(|| "a model not in the registry (a user's own)".into());
    let reference = entry.as_ref().and_then(|e| e.reference_accuracy.clone());
    let source = if crate::models::LADDER.contains(&input.name.as_str()) {
        "the write-up's figure for this step"
    } else {
        "the literature's figure for this kind of net"
    };
    let mut rows = vec![
        vec!["model".into(), format!("{}: {description}", input.name)],
        vec![
            "parameters".into(),
            with_commas(summary.parameters() as u64),
        ],
        vec![
            "multiply-adds per image".into(),
            with_commas(summary.mult_adds()),
        ],
        vec![
            "test accuracy now".into(),
            format!(
                "{:.2}% on {} images{}",
                pred.accuracy,
                input.test.len(),
                if tta { " (with its mirror, --tta)" } else { "" }
            ),
        ],
        vec![
            format!("reference ({source})"),
            reference.map_or("none known".into(), |r| format!("{r}%")),
        ],
    ];
    if let Some(last) = input.history.last() {
        rows.push(vec![
            "last recorded epoch".into(),
            format!(
                "epoch {}: test accuracy {:.2}%, {:.1} s of training",
                last.metrics.epoch, last.metrics.test_acc, last.metrics.epoch_seconds
            ),
        ]);
    }
    let mut s = table(&["", ""], &rows, &[]);
    if input.meta.is_empty() {
        s += "<p class=\"note\">No recipe recorded (the model did not come from a stitch checkpoint).</p>\n";
    } else {
        let recipe: Vec<String> = input
            .meta
            .iter()
            .filter(|(k, _)| k != "random_state")
            .map(|(k, v)| format!("{} = <code>{}</code>", escape(k), escape(v)))
            .collect();
        let _ = writeln!(
            s,
            "<p>The recipe and counters, as the checkpoint records them: {}.</p>",
            recipe.join(" · ")
        );
    }
    s
}

fn curves_section(input: &ReportInput) -> String {
    if input.history.is_empty() {
        return "<p class=\"note\">No per-epoch figures: pass <code>--metrics RUN.jsonl</code> (the file <code>stitch train --metrics</code> writes), or write the page with <code>stitch train --report</code>.</p>\n".into();
    }
    let ms: Vec<EpochMetrics> = input.history.iter().map(|l| l.metrics.clone()).collect();
    chart(
        &svg::training_curves(&input.name, &[(input.name.clone(), ms)]),
        "Loss and accuracy per epoch, on the training images (during the epoch) and the test images (after it).",
    )
}

fn layers_section(summary: &crate::summary::Summary) -> String {
    // The blocks: the input, then each op that changes the shape of what flows on.
    let mut blocks = vec![Block {
        label: "input".into(),
        shape: vec![1, 28, 28],
    }];
    for l in &summary.layers {
        let shape = match l.output_shape.as_slice() {
            [c, h, w] => vec![*c, *h, *w],
            s => vec![s.iter().product()],
        };
        if blocks.last().map(|b| &b.shape) != Some(&shape) {
            let label = if l.module.is_empty() {
                l.op.clone()
            } else {
                format!("{} {}", l.module, l.op)
            };
            blocks.push(Block { label, shape });
        }
    }
    let mut s = chart(
        &charts::block_diagram(&blocks),
        &format!(
            "What one image becomes, each time its shape changes. {}",
            charts::block_diagram_scale()
        ),
    );
    let rows: Vec<Vec<String>> = summary
        .layers
        .iter()
        .map(|l| {
            vec![
                l.index.to_string(),
                l.description.clone(),
                format!("{:?}", l.output_shape),
                with_commas(l.parameters as u64),
                with_commas(l.mult_adds),
            ]
        })
        .collect();
    s += &table(
        &["#", "layer", "output shape", "parameters", "mult-adds"],
        &rows,
        &[0, 3, 4],
    );
    let _ = writeln!(
        s,
        "<p>{} parameters, {} multiply-adds per image; a training step at batch {} keeps {:.2} MB of activations for backward.</p>",
        with_commas(summary.parameters() as u64),
        with_commas(summary.mult_adds()),
        summary.batch,
        summary.saved_bytes as f64 / 1e6
    );
    s
}

fn mistakes_section(input: &ReportInput, pred: &Predictions) -> String {
    let labels: Vec<String> = CLASS_NAMES.iter().map(|s| s.to_string()).collect();
    let per_class: Vec<f64> = pred
        .confusion
        .iter()
        .enumerate()
        .map(|(c, row)| 100.0 * row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
        .collect();
    let mut s = chart(
        &svg::bar_chart(
            "test accuracy by class",
            "accuracy (%)",
            &labels,
            &[("accuracy".into(), per_class)],
        ),
        "The share of each class's test images the model classifies right.",
    );
    s += &chart(
        &charts::confusion_heat_map(&pred.confusion),
        "Each row is a true class, each column the class predicted; the number is how many test images. Colour (viridis, colour-blind safe): the square root of the row's share.",
    );
    // The pairs mixed up most often, either way round, with their most confident mistakes.
    let pairs = most_confused(&pred.confusion, 3);
    if pairs.is_empty() {
        s += "<p>No test image is misclassified.</p>\n";
        return s;
    }
    s += "<h3>The most confused pairs</h3>\n";
    for &(n, a, b) in &pairs {
        let _ = writeln!(
            s,
            "<p><b>{} and {}</b>: {n} mistakes ({} {} taken for {}, {} the other way). The most confident ones:</p>\n<div>",
            escape(CLASS_NAMES[a]),
            escape(CLASS_NAMES[b]),
            pred.confusion[a][b],
            escape(CLASS_NAMES[a]),
            escape(CLASS_NAMES[b]),
            pred.confusion[b][a],
        );
        for (t, p) in [(a, b), (b, a)] {
            let mut wrong: Vec<usize> = (0..input.test.len())
                .filter(|&i| input.test.labels[i] as usize == t && pred.predicted[i] == p)
                .collect();
            wrong.sort_by(|&i, &j| {
                pred.probs[j][p]
                    .total_cmp(&pred.probs[i][p])
                    .then(i.cmp(&j))
            });
            for &i in wrong.iter().take(3) {
                let caption = format!(
                    "#{i}: true {}, predicted {} ({:.0}%)",
                    CLASS_NAMES[t],
                    CLASS_NAMES[p],
                    100.0 * pred.probs[i][p]
                );
                let _ = writeln!(
                    s,
                    "<figure>{}<figcaption>{}</figcaption></figure>",
                    img(
                        &test_image(input.test, i, 3),
                        1,
                        &format!("test image {caption}")
                    ),
                    escape(&caption)
                );
            }
        }
        s += "</div>\n";
    }
    s
}

fn sees_section(input: &ReportInput, pred: &Predictions) -> String {
    let model = input.model;
    let mut s = String::new();
    match first_filters(model) {
        Some(f) => {
            let _ = writeln!(
                s,
                "<figure>{}<figcaption>The first layer's filters (a convolution's kernels with its input channels averaged, or a linear layer's weights over the 28×28 pixels), each scaled from its own minimum (black) to maximum (white).</figcaption></figure>",
                img(&f, 1, "the first layer's filters")
            );
        }
        None => s += "<p class=\"note\">The model has no convolution or linear layer on the pixels to draw.</p>\n",
    }
    let n = input.test.len();
    let chosen = input.images.unwrap_or_else(|| {
        let first = |right: bool| {
            (0..n)
                .find(|&i| (pred.predicted[i] == input.test.labels[i] as usize) == right)
                .unwrap_or(0)
        };
        [first(true), first(false)]
    });
    for i in chosen.into_iter().filter(|&i| i < n) {
        let (x, _) = input.test.batch(&[i]);
        model.eval();
        let records = {
            let _g = crate::no_grad();
            let _f = crate::ops::no_fusion();
            crate::autograd::trace(|| model.forward(&x)).1
        };
        let (t, p) = (input.test.labels[i] as usize, pred.predicted[i]);
        let _ = writeln!(
            s,
            "<h3>Test image #{i}: class {}, predicted {} ({:.1}%)</h3>\n<div>",
            escape(CLASS_NAMES[t]),
            escape(CLASS_NAMES[p]),
            100.0 * pred.probs[i][p]
        );
        let _ = writeln!(
            s,
            "<figure>{}<figcaption>the input</figcaption></figure>",
            img(
                &test_image(input.test, i, 4),
                1,
                &format!("test image {i}, a {}", CLASS_NAMES[t])
            )
        );
        for (label, r) in block_ends(model, &records) {
            let Some(out) = records[r].output::<f32>() else {
                continue;
            };
            let sh = out.shape().to_vec();
            let scale = (448 / (8 * (sh[3] + 1))).clamp(1, 4);
            let _ = writeln!(
                s,
                "<figure>{}<figcaption>after {} ({}, {}×{}×{})</figcaption></figure>",
                img(
                    &grid::tile(&out.to_vec(), sh[1], sh[2], sh[3], 8, scale),
                    1,
                    &format!("feature maps of test image {i} after {label}")
                ),
                escape(&label),
                records[r].op,
                sh[1],
                sh[2],
                sh[3]
            );
        }
        let probs: Vec<f64> = pred.probs[i].iter().map(|&v| v as f64).collect();
        let labels: Vec<String> = CLASS_NAMES.iter().map(|s| s.to_string()).collect();
        s += &chart(
            &svg::bar_chart(
                &format!("test image {i}: class probabilities"),
                "probability",
                &labels,
                &[("probability".into(), probs)],
            ),
            &format!("What the model gives each class for test image {i}."),
        );
        s += "</div>\n";
    }
    s
}

/// Up to `k` of `n` indices, evenly spread from the first to the last.
fn spread(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..k).map(|j| j * (n - 1) / (k - 1)).collect();
    v.dedup();
    v
}

fn learned_section(input: &ReportInput) -> String {
    let epochs: Vec<(usize, &EpochDiagnostics)> = input
        .history
        .iter()
        .filter_map(|l| l.diagnostics.as_ref().map(|d| (l.metrics.epoch, d)))
        .collect();
    let Some(&(_, last)) = epochs.last() else {
        return "<p class=\"note\">Not recorded: train with <code>--diagnostics --metrics RUN.jsonl</code> (or <code>--diagnostics --report</code>) to see each parameter's gradient norm, update-to-weight ratio and the dead ReLU units, epoch by epoch.</p>\n".into();
    };
    // The weight tensors of convolutions and linear layers (not batch norm's scale).
    let weights: Vec<String> = input
        .model
        .named_parameters()
        .into_iter()
        .filter(|(_, t)| t.ndim() >= 2)
        .map(|(n, _)| n)
        .collect();
    let picked: Vec<&String> = spread(weights.len(), 6)
        .into_iter()
        .map(|i| &weights[i])
        .collect();
    // log10 of one figure of each picked tensor, epoch by epoch.
    let by_epoch = |f: fn(&crate::diagnostics::ParamDiagnostics) -> f64| -> Vec<svg::Series> {
        picked
            .iter()
            .map(|name| svg::Series {
                name: name.to_string(),
                points: epochs
                    .iter()
                    .filter_map(|(e, d)| {
                        let p = d.params.iter().find(|p| &&p.name == name)?;
                        Some((*e as f64, f(p).max(1e-30).log10()))
                    })
                    .collect(),
            })
            .collect()
    };
    let mut s = chart(
        &svg::line_chart(
            "gradient norm",
            "epoch",
            "log10 of the mean ‖∂L/∂w‖",
            &by_epoch(|p| p.grad_norm),
        ),
        "The mean L2 norm of each weight tensor's gradient over the epoch's steps (up to six tensors from the first layer to the last).",
    );
    s += &chart(
        &svg::line_chart(
            "update / weight per step",
            "epoch",
            "log10 of the ratio",
            &by_epoch(|p| p.update_ratio),
        ),
        "The mean of ‖Δw‖ / ‖w‖ over a step, for up to six weight tensors from the first layer to the last. A healthy run sits near −3 (1e-3); far above, the learning rate is too high; far below, too low.",
    );
    let relus = spread(last.relus.len(), 6);
    let dead: Vec<svg::Series> = relus
        .iter()
        .map(|&k| svg::Series {
            name: format!("relu {k}"),
            points: epochs
                .iter()
                .filter_map(|(e, d)| Some((*e as f64, d.relus.get(k)?.dead_percent())))
                .collect(),
        })
        .collect();
    if !dead.is_empty() {
        s += &chart(
            &svg::line_chart("dead ReLU units", "epoch", "units never active (%)", &dead),
            "The share of each ReLU's units that were not positive for any training image of the epoch (up to six ReLUs; their names are in the table below).",
        );
    }
    let _ = writeln!(
        s,
        "<p>Epoch {}, every parameter:</p>",
        epochs.last().map_or(0, |e| e.0)
    );
    let rows: Vec<Vec<String>> = last
        .params
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                format!("{:.4e}", p.grad_norm),
                format!("{:.4e}", p.weight_norm),
                format!("{:.3e}", p.update_ratio),
            ]
        })
        .collect();
    s += &table(
        &["parameter", "grad norm", "weight norm", "update/weight"],
        &rows,
        &[1, 2, 3],
    );
    let rows: Vec<Vec<String>> = last
        .relus
        .iter()
        .enumerate()
        .map(|(k, r)| {
            vec![
                format!("relu {k}"),
                r.label.clone(),
                format!("{} of {}", r.dead, r.units),
                format!("{:.2}%", r.dead_percent()),
            ]
        })
        .collect();
    s += &table(&["", "ReLU", "dead units", "dead"], &rows, &[2, 3]);
    s
}

fn time_section(input: &ReportInput) -> String {
    match &input.profile {
        None => "<p class=\"note\">Not measured: <code>stitch report --profile</code> times training steps of this model op by op now, and <code>stitch train --profile --report</code> keeps the run's own.</p>\n".into(),
        Some(p) => {
            let mut s = format!("<p>{}</p>\n", escape(&p.note));
            if let (Some(peak), Some(bw)) = (p.peak_gflops, p.bandwidth_gbs) {
                let _ = writeln!(
                    s,
                    "<p>Probed this machine: FMA peak {peak:.0} GFLOP/s, copy bandwidth {bw:.1} GB/s; \"% peak\" is against the first for ops that count FLOPs and the second for the rest.</p>"
                );
            }
            let _ = writeln!(
                s,
                "<pre>{}</pre>",
                escape(&crate::profile::table(&p.rows, p.peak_gflops, p.bandwidth_gbs))
            );
            s
        }
    }
}
