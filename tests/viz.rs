//! Pictures and summaries for learners: the PNG encoder against an independent decoder,
//! the SVG charts against an XML parser, the summary's counts against PyTorch's, the DOT
//! graph's shape, and the CLI commands end to end.

mod common;

use common::cli::{series_names, stderr, stitch, synthetic_dataset, tmpdir};
use stitch::viz::png::{Color, Image};
use stitch::viz::svg;

/// Decodes with the `png` crate (not stitch's code): dimensions, colour type and pixels.
fn decode(bytes: &[u8]) -> (u32, u32, png::ColorType, Vec<u8>) {
    let mut r = png::Decoder::new(bytes).read_info().expect("a valid PNG");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("a valid frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type, buf)
}

#[test]
fn png_encoder_round_trips_through_an_independent_decoder() {
    for (w, h, color) in [
        (1, 1, Color::Grey),
        (7, 3, Color::Grey),
        (17, 5, Color::Rgb),
        (28, 28, Color::Grey),
    ] {
        let mut img = Image::new(w, h, color);
        for (i, p) in img.pixels.iter_mut().enumerate() {
            *p = (i * 37 % 256) as u8;
        }
        let (dw, dh, ct, px) = decode(&img.to_png());
        assert_eq!((dw as usize, dh as usize), (w, h));
        assert_eq!(
            ct,
            if color == Color::Grey {
                png::ColorType::Grayscale
            } else {
                png::ColorType::Rgb
            }
        );
        assert_eq!(px, img.pixels);
    }
    // Upscaling repeats pixels.
    let mut img = Image::new(2, 1, Color::Grey);
    img.pixels = vec![10, 200];
    let (w, h, _, px) = decode(&img.upscale(3).to_png());
    assert_eq!((w, h), (6, 3));
    assert_eq!(&px[..6], &[10, 10, 10, 200, 200, 200]);
}

#[test]
fn every_png_chunk_has_the_right_crc() {
    let bytes = Image::new(5, 4, Color::Rgb).to_png();
    assert_eq!(&bytes[..8], &stitch::viz::png::SIGNATURE);
    let mut pos = 8;
    let mut kinds = Vec::new();
    while pos < bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let body = &bytes[pos + 4..pos + 8 + len];
        let crc = u32::from_be_bytes(bytes[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(crc, stitch::checkpoint::crc32(body));
        kinds.push(String::from_utf8(body[..4].to_vec()).unwrap());
        pos += 12 + len;
    }
    assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
}

#[test]
fn svg_charts_parse_as_xml_with_one_series_per_curve() {
    let m = |e: usize, l: f64| stitch::train::EpochMetrics {
        epoch: e,
        train_loss: l,
        train_acc: 100.0 - l * 10.0,
        test_loss: l * 1.1,
        test_acc: 99.0 - l * 10.0,
        epoch_seconds: 1.0,
        samples_per_second: 1.0,
        val: None,
    };
    let doc = svg::training_curves(
        "a <run> & more",
        &[("dnn".into(), vec![m(1, 0.5), m(2, 0.4), m(3, 0.35)])],
    );
    assert_eq!(series_names(&doc), ["train", "test", "train", "test"]);
    let two = svg::training_curves(
        "ladder",
        &[
            ("dnn".into(), vec![m(1, 0.5)]),
            ("cnn".into(), vec![m(1, 0.3)]),
        ],
    );
    assert_eq!(
        series_names(&two),
        [
            "dnn train",
            "cnn train",
            "dnn test",
            "cnn test",
            "dnn train",
            "cnn train",
            "dnn test",
            "cnn test"
        ]
    );
    let bars = svg::bar_chart(
        "p",
        "probability",
        &["a".into(), "b".into()],
        &[("p".into(), vec![0.25, 0.75])],
    );
    assert_eq!(series_names(&bars), ["p"]);
    assert_eq!(
        roxmltree::Document::parse(&bars)
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("rect")
                && n.attribute("height").is_some()
                && n.children().count() > 0)
            .count(),
        2
    );
}

#[test]
fn summary_counts_equal_pytorchs() {
    for (name, params) in [
        ("dnn", 101_770),
        ("conv", 3_213_002),
        ("conv-pool", 50_186),
        ("cnn", 50_378),
    ] {
        let m = stitch::models::build(name, 0).unwrap();
        let s = stitch::summary::summarize(m.as_ref(), 4);
        assert_eq!(s.parameters(), params, "{name}");
        assert!(s.saved_bytes > 0, "{name}");
    }
    let cnn = stitch::models::build("cnn", 0).unwrap();
    let s = stitch::summary::summarize(cnn.as_ref(), 128);
    // conv1: 32·1·9 · 28·28, conv2: 64·32·9 · 14·14, linear 3136·10.
    assert_eq!(s.mult_adds(), 32 * 9 * 784 + 64 * 32 * 9 * 196 + 3136 * 10);
    assert_eq!(s.layers[8].output_shape, [64, 7, 7]);
    // Batch norm keeps the conv outputs: 128 · (32·784 + 64·196) floats, plus the rest.
    assert!(s.saved_bytes > 128 * (32 * 784 + 64 * 196) * 4);
}

#[test]
fn the_cli_draws_summary_graph_pictures_curves_and_diagnostics() {
    let d = tmpdir("viz");
    synthetic_dataset(&d, 200, 30);
    let data = d.to_str().unwrap();
    let ok = |args: &[&str]| {
        let o = stitch(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(ok(&["summary", "--model", "conv"]).contains("total parameters: 3,213,002"));

    let dot = ok(&["graph", "--model", "cnn", "--grads"]);
    assert!(dot.starts_with("digraph stitch {") && dot.trim_end().ends_with('}'));
    // Each block conv → batch norm → ReLU → pool is one node where the CPU has the fused
    // convolution backward for it, else the convolution and the fused rest.
    let blocks = if dot.contains("label=\"conv2d_batch_norm_relu_max_pool2d\"") {
        vec!["conv2d_batch_norm_relu_max_pool2d"]
    } else {
        vec!["conv2d", "batch_norm_relu_max_pool2d"]
    };
    for op in blocks
        .into_iter()
        .chain(["dropout", "linear", "cross_entropy"])
    {
        assert!(dot.contains(&format!("label=\"{op}\"")), "no {op} node");
    }
    // Ten parameters, each with its gradient norm; edges labelled with shapes.
    assert_eq!(dot.matches("|grad| = ").count(), 10);
    assert!(dot.contains("[label=\"[2, 32, 14, 14]\"]"));

    let ck = d.join("m.ck");
    let plot = d.join("curves.svg");
    let out = ok(&[
        "train",
        "--model",
        "cnn",
        "--epochs",
        "2",
        "--data",
        data,
        "--quiet",
        "--save",
        ck.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--diagnostics",
    ]);
    assert!(
        out.contains("update/weight") && out.contains("units never active"),
        "{out}"
    );
    assert_eq!(out.matches("0.weight ").count(), 2, "{out}");
    let names = series_names(&std::fs::read_to_string(&plot).unwrap());
    assert_eq!(names, ["train", "test", "train", "test"]);

    let pics = d.join("pics");
    let out = ok(&[
        "show",
        "--load",
        ck.to_str().unwrap(),
        "--data",
        data,
        "--index",
        "7",
        "--out",
        pics.to_str().unwrap(),
    ]);
    assert!(out.contains("test image 7: predicted"), "{out}");
    for f in [
        "input.png",
        "filters.png",
        "features-3.png",
        "features-8.png",
    ] {
        let (w, h, _, _) = decode(&std::fs::read(pics.join(f)).unwrap());
        assert!(w > 0 && h > 0, "{f}");
    }
    let (w, h, _, _) = decode(&std::fs::read(pics.join("input.png")).unwrap());
    assert_eq!((w, h), (8 * 30, 8 * 30)); // 28 + a 1-pixel border each side, 8×.
    assert_eq!(
        series_names(&std::fs::read_to_string(pics.join("probabilities.svg")).unwrap()),
        ["probability"]
    );

    let o = stitch(&[
        "show",
        "--load",
        ck.to_str().unwrap(),
        "--data",
        data,
        "--index",
        "30",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("--index 30 is outside the test set (0..30)")
    );
}
