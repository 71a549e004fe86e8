//! `stitch report`: the page of a 1-epoch `cnn` run (through the CLI) and of a user-written
//! residual model (through the library), checked by independent readers (html5ever's
//! parser, the `png` decoder, the `base64` crate, roxmltree for the SVG) and loaded in a
//! real browser: headless Chromium, whose run of the page's own self-check script is read
//! back from the DOM, and whose screenshot must not be blank.
//!
//! Needs the real dataset (Debian package `dataset-fashion-mnist`) and Chromium (Debian
//! package `chromium`); without either the tests fail with the install command. They never
//! pass by skipping.

mod common;
#[path = "common/mini_resnet.rs"]
mod mini_resnet;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use common::cli::{stderr, stitch, tmpdir};
use stitch::data::FashionMnist;
use stitch::report::{build, ReportInput};
use stitch::train::{read_metrics, MetricsLine, Silent, TrainConfig, Trainer};

const SECTIONS: [&str; 7] = [
    "run", "curves", "layers", "mistakes", "sees", "learned", "time",
];

fn real_data() -> FashionMnist {
    match FashionMnist::locate_and_load(None) {
        Ok(d) => d,
        Err(e) => panic!("the report tests draw real test images: {e}"),
    }
}

/// Every top-level `<svg>…</svg>` of the page's text (charts may nest whole `<svg>`s).
fn top_level_svgs(page: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < page.len() {
        let rest = &page[i..];
        if rest.starts_with("<svg") {
            if depth == 0 {
                start = i;
            }
            depth += 1;
            i += 4;
        } else if rest.starts_with("</svg>") {
            depth = depth.checked_sub(1).expect("a </svg> without its <svg>");
            i += 6;
            if depth == 0 {
                out.push(&page[start..i]);
            }
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    assert_eq!(depth, 0, "an <svg> is never closed");
    out
}

/// What a page must be: parseable HTML with every section, every image a decodable PNG
/// with alt text, every chart parseable SVG with data, and no address anywhere. Returns the
/// number of images.
fn check_page(page: &str, want_diagnostics: bool, want_profile: bool) -> usize {
    let doc = scraper::Html::parse_document(page);
    assert!(
        doc.errors.is_empty(),
        "the HTML parser reports errors: {:?}",
        doc.errors
    );
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    for id in SECTIONS {
        let section = doc
            .select(&sel(&format!("section#{id}")))
            .next()
            .unwrap_or_else(|| panic!("no section {id}"));
        assert!(
            section.select(&sel("h2")).next().is_some(),
            "section {id} has no heading"
        );
    }
    // No address: no URL, no external script, stylesheet, font or frame.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert_eq!(doc.select(&sel("link, iframe, object, embed")).count(), 0);
    assert_eq!(doc.select(&sel("script[src]")).count(), 0);
    // Images: inline PNGs that decode, each with alt text.
    let mut images = 0;
    for img in doc.select(&sel("img")) {
        let alt = img.value().attr("alt").unwrap_or("");
        assert!(!alt.trim().is_empty(), "an image without alt text");
        let src = img.value().attr("src").expect("an image without src");
        let b64 = src
            .strip_prefix("data:image/png;base64,")
            .unwrap_or_else(|| panic!("not an inline PNG: {}", &src[..src.len().min(40)]));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        let mut reader = png::Decoder::new(&bytes[..]).read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("PNG pixels");
        assert!(info.width > 0 && info.height > 0);
        images += 1;
    }
    // Charts: each a figure whose SVG has at least one series; every SVG parses as XML.
    let figures = doc.select(&sel("figure.chart")).count();
    assert!(figures >= 5, "{figures} charts");
    for f in doc.select(&sel("figure.chart")) {
        assert!(
            f.select(&sel("g.series")).next().is_some(),
            "a chart without data"
        );
    }
    let svgs = top_level_svgs(page);
    assert_eq!(svgs.len(), figures, "one SVG per chart");
    for svg in svgs {
        roxmltree::Document::parse(svg)
            .unwrap_or_else(|e| panic!("an SVG that does not parse: {e}"));
    }
    let text = |id: &str| {
        doc.select(&sel(&format!("section#{id}")))
            .next()
            .unwrap()
            .text()
            .collect::<String>()
    };
    assert_eq!(!text("learned").contains("Not recorded"), want_diagnostics);
    assert_eq!(!text("time").contains("Not measured"), want_profile);
    assert!(text("run").contains("parameters"));
    images
}

/// Chromium, or a failure that says how to install it.
fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("the report tests load the page in a real browser: install it with: sudo apt-get install -y chromium");
}

/// Loads `page` from disk in headless Chromium: the DOM after the page's scripts ran, and
/// a screenshot of the first screen.
fn load_in_browser(page: &Path, shot: &Path) -> String {
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        "--timeout=30000",
    ];
    let out = Command::new(chromium())
        .args(common)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium --dump-dom: {}",
        stderr(&out)
    );
    let shot_arg = format!("--screenshot={}", shot.display());
    let o = Command::new(chromium())
        .args(common)
        .args(["--window-size=1280,900", &shot_arg])
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "chromium --screenshot: {}", stderr(&o));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The browser ran the page's self-check and found every image decoded and every chart
/// with its series; the screenshot is a real picture, not one flat colour.
fn check_in_browser(page: &Path, images: usize) {
    let shot = page.with_extension("png");
    let dom = load_in_browser(page, &shot);
    let doc = scraper::Html::parse_document(&dom);
    let sel = scraper::Selector::parse("#self-check").unwrap();
    let check = doc.select(&sel).next().expect("#self-check in the DOM");
    let attr = |k: &str| check.value().attr(k).unwrap_or("").to_string();
    assert_eq!(
        attr("data-ok"),
        "true",
        "self-check: {}",
        check.text().collect::<String>()
    );
    assert_eq!(attr("data-images"), images.to_string());
    assert_eq!(attr("data-images-bad"), "0");
    assert_eq!(attr("data-charts-empty"), "0");
    let bytes = std::fs::read(&shot).expect("the screenshot");
    let mut reader = png::Decoder::new(&bytes[..]).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 900));
    let px = &buf[..info.buffer_size()];
    let distinct: std::collections::HashSet<&[u8]> = px.chunks(info.color_type.samples()).collect();
    let dark = px
        .chunks(info.color_type.samples())
        .filter(|p| p.iter().take(3).all(|&c| c < 128))
        .count();
    assert!(
        distinct.len() > 20,
        "a blank screenshot ({} colours)",
        distinct.len()
    );
    assert!(
        dark > 1000,
        "no text or drawing on the first screen ({dark} dark pixels)"
    );
}

#[test]
fn the_report_of_a_one_epoch_cnn_run() {
    let _ = real_data();
    let d = tmpdir("report-cnn");
    let (ck, metrics, during, after) = (
        d.join("cnn.ckpt"),
        d.join("run.jsonl"),
        d.join("during.html"),
        d.join("after.html"),
    );
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = stitch(&[
        "train",
        "--model",
        "cnn",
        "--epochs",
        "1",
        "--limit-train",
        "2048",
        "--quiet",
        "--diagnostics",
        "--profile",
        "--metrics",
        &s(&metrics),
        "--save",
        &s(&ck),
        "--report",
        &s(&during),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The page written during training: its diagnostics and its own profile.
    let page = std::fs::read_to_string(&during).unwrap();
    let n = check_page(&page, true, true);
    assert!(page.contains("stitch report: cnn"));
    // The page from the checkpoint and the metrics file, with a profile measured now.
    let o = stitch(&[
        "report",
        "--load",
        &s(&ck),
        "--metrics",
        &s(&metrics),
        "--out",
        &s(&after),
        "--profile",
        "--steps",
        "2",
        "--images",
        "3,5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&after).unwrap();
    let images = check_page(&page, true, true);
    assert_eq!(
        images, n,
        "the same pictures from the checkpoint as during training"
    );
    assert!(page.contains("Test image #3") && page.contains("Test image #5"));
    assert!(
        page.contains("~93%"),
        "the write-up's figure beside the run's"
    );
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
    check_in_browser(&after, images);
    // Without a metrics file or profile, the page says what is missing.
    let bare = d.join("bare.html");
    let o = stitch(&["report", "--load", &s(&ck), "--out", &s(&bare)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&bare).unwrap();
    check_page(&page, false, false);
    assert!(page.contains("No per-epoch figures"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_report_of_a_user_written_residual_model() {
    let data = real_data();
    let config = TrainConfig {
        model: "mini-resnet".into(),
        epochs: 1,
        limit_train: Some(512),
        ..TrainConfig::default()
    };
    let mut t = Trainer::with_model(config, Box::new(mini_resnet::MiniResNet::<f32>::new(0)));
    t.diagnostics = Some(Default::default());
    let train = data.train.truncated(512);
    let test = data.test.truncated(500);
    let m = t.run_epoch(&train, &test, &mut Silent).unwrap();
    let history = vec![MetricsLine {
        metrics: m,
        diagnostics: t.diagnostics.as_mut().map(|d| d.finish()),
    }];
    let input = ReportInput {
        meta: t.meta(None),
        history,
        ..ReportInput::new("mini-resnet", t.model.as_ref(), &test)
    };
    let page = build(&input);
    let images = check_page(&page, true, false);
    assert!(page.contains("a user&#39;s own") || page.contains("a user's own"));
    // Its residual blocks' feature maps are drawn (the ends of layers.0, .1, .2).
    for b in ["layers.0", "layers.1", "layers.2"] {
        assert!(
            page.contains(&format!("after {b} ")),
            "no feature maps after {b}"
        );
    }
    let d = tmpdir("report-user");
    let path = d.join("user.html");
    std::fs::write(&path, &page).unwrap();
    check_in_browser(&path, images);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn writing_the_report_during_training_changes_no_bit_of_the_run() {
    let d = tmpdir("report-bits");
    common::cli::synthetic_dataset(&d, 300, 100);
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let run = |ck: &str, extra: &[&str]| {
        let mut args = vec![
            "train", "--model", "cnn", "--epochs", "2", "--quiet", "--data",
        ];
        let data = s(d.clone());
        args.push(&data);
        args.extend(["--save", ck]);
        args.extend(extra);
        let o = stitch(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (a, b) = (s(d.join("a.ckpt")), s(d.join("b.ckpt")));
    run(&a, &[]);
    let page = s(d.join("page.html"));
    run(&b, &["--report", &page]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("section id=\"sees\""));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn metrics_files_read_back_what_training_wrote() {
    let d = tmpdir("report-metrics");
    common::cli::synthetic_dataset(&d, 300, 100);
    let m = d.join("m.jsonl");
    let o = stitch(&[
        "train",
        "--model",
        "conv-pool",
        "--epochs",
        "2",
        "--quiet",
        "--diagnostics",
        "--data",
        d.to_str().unwrap(),
        "--metrics",
        m.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = read_metrics(&m).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].metrics.epoch, 2);
    assert!(lines[1].metrics.test_acc > 0.0 && lines[1].metrics.train_loss.is_finite());
    let diag = lines[1].diagnostics.as_ref().expect("diagnostics kept");
    assert_eq!(diag.params.len(), 6, "conv-pool has 6 parameter tensors");
    assert!(diag
        .params
        .iter()
        .all(|p| p.update_ratio > 0.0 && p.weight_norm > 0.0));
    assert!(!diag.relus.is_empty());
    // The printed text and the JSON hold the same figures (full precision in the JSON).
    let json = diag.to_json();
    let mut c = stitch::safetensors::json::Cursor::new(&json);
    assert_eq!(
        &stitch::diagnostics::EpochDiagnostics::parse(&mut c).unwrap(),
        diag
    );
    // A line that is not a metrics object: one error naming the file and the line.
    std::fs::write(
        &m,
        "{\"epoch\": 1, \"test_acc\": 50}\n{\"epoch\": 2, \"test_acc\": }\n",
    )
    .unwrap();
    let e = read_metrics(&m).unwrap_err();
    assert!(e.contains("m.jsonl: line 2:") && !e.contains('\n'), "{e}");
    std::fs::write(&m, "{\"loss\": 1}\n").unwrap();
    assert!(read_metrics(&m).unwrap_err().contains("no \"epoch\""));
    // The CLI says the same in one line.
    common::cli::fails_with(
        &[
            "report",
            "--load",
            "/nonexistent.ckpt",
            "--out",
            "/tmp/x.html",
        ],
        "/nonexistent.ckpt",
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn base64_matches_the_reference_encoder() {
    let e = base64::engine::general_purpose::STANDARD;
    for n in [0usize, 1, 2, 3, 4, 5, 17, 255, 1000] {
        let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(
            stitch::report::html::base64(&bytes),
            e.encode(&bytes),
            "{n} bytes"
        );
    }
}

#[test]
fn eval_scores_a_tta_checkpoint_as_training_did() {
    let d = tmpdir("report-tta");
    common::cli::synthetic_dataset(&d, 300, 100);
    let (data, ck) = (d.to_str().unwrap(), d.join("t.ckpt"));
    let o = stitch(&[
        "train",
        "--model",
        "conv-pool",
        "--epochs",
        "1",
        "--quiet",
        "--tta",
        "--data",
        data,
        "--save",
        ck.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let trained = String::from_utf8_lossy(&o.stdout).into_owned();
    let acc = |text: &str| -> String {
        let i = text.find("test acc").expect("a test accuracy");
        text[i..]
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches('%')
            .to_string()
    };
    let o = stitch(&["eval", "--load", ck.to_str().unwrap(), "--data", data]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evaluated = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(evaluated.contains("its mirror"), "{evaluated}");
    let line = evaluated.lines().next().unwrap();
    let i = line.find("test accuracy ").unwrap() + "test accuracy ".len();
    let got = line[i..].split('%').next().unwrap();
    assert_eq!(got, acc(&trained), "eval: {line}\ntrain: {trained}");
    std::fs::remove_dir_all(&d).ok();
}
