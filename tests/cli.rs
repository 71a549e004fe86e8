//! The `stitch` binary end to end on a small synthetic dataset: train, metrics, checkpoint,
//! eval, and one clear line with a non-zero exit for every bad argument.

mod common;

use common::cli::{fails_with, series_names, stderr, stitch, synthetic_dataset, tmpdir};

#[test]
fn train_writes_metrics_and_a_checkpoint_that_eval_reads() {
    let d = tmpdir("train");
    synthetic_dataset(&d, 300, 50);
    let ck = d.join("m.ckpt");
    let metrics = d.join("m.jsonl");
    let o = stitch(&[
        "train",
        "--model",
        "dnn",
        "--epochs",
        "2",
        "--batch",
        "32",
        "--data",
        d.to_str().unwrap(),
        "--save",
        ck.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("epoch ")).count(),
        2,
        "{out}"
    );
    let m = std::fs::read_to_string(&metrics).unwrap();
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let keys: Vec<&str> = l
            .trim_matches(|c| c == '{' || c == '}')
            .split(", ")
            .map(|kv| kv.split(':').next().unwrap().trim_matches('"'))
            .collect();
        assert_eq!(
            keys,
            [
                "epoch",
                "train_loss",
                "train_acc",
                "test_loss",
                "test_acc",
                "epoch_seconds",
                "samples_per_second"
            ]
        );
    }
    let o = stitch(&[
        "eval",
        "--load",
        ck.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("test accuracy")
            && out.contains("confusion matrix")
            && out.contains("Ankle boot"),
        "{out}"
    );
    // The synthetic classes are easy: the model must have learned them.
    let acc: f64 = out
        .split("test accuracy ")
        .nth(1)
        .unwrap()
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc > 80.0, "{out}");
}

#[test]
fn invalid_arguments_get_one_line_and_a_non_zero_exit() {
    let d = tmpdir("bad");
    synthetic_dataset(&d, 20, 10);
    let data = d.to_str().unwrap();
    fails_with(
        &["train", "--batch", "0", "--data", data],
        "--batch must be at least 1",
    );
    fails_with(
        &["train", "--lr", "-1", "--data", data],
        "--lr must be a positive finite number",
    );
    fails_with(
        &["train", "--lr", "NaN", "--data", data],
        "--lr must be a positive finite number",
    );
    fails_with(
        &["train", "--model", "resnet", "--data", data],
        "unknown model 'resnet'",
    );
    fails_with(
        &["train", "--threads", "0", "--data", data],
        "--threads must be at least 1",
    );
    fails_with(
        &["train", "--limit-train", "21", "--data", data],
        "--limit-train 21 is larger than the training set (20 images)",
    );
    fails_with(
        &["train", "--data", "/nonexistent/dir"],
        "/nonexistent/dir (given by --data) lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
    );
    // Negative numbers get the range error, not clap's "unexpected argument".
    fails_with(
        &["train", "--epochs", "-1", "--data", data],
        "--epochs must be at least 1, got -1",
    );
    fails_with(
        &["train", "--seed", "-1", "--data", data],
        "--seed must be a non-negative integer, got -1",
    );
    fails_with(
        &["train", "--batch", "-3", "--data", data],
        "--batch must be at least 1, got -3",
    );
    fails_with(
        &["ladder", "--epochs", "-2", "--data", data],
        "--epochs must be at least 1, got -2",
    );
    // Output paths are checked before anything trains.
    let t0 = std::time::Instant::now();
    fails_with(
        &["train", "--save", "/proc/x", "--data", data],
        "--save /proc/x: cannot write there",
    );
    fails_with(
        &["train", "--save", "/nonexistent/dir/c.ck", "--data", data],
        "--save /nonexistent/dir/c.ck: cannot write there",
    );
    fails_with(
        &["train", "--plot", "/nonexistent/dir/p.svg", "--data", data],
        "--plot /nonexistent/dir/p.svg: cannot write there",
    );
    fails_with(
        &[
            "ladder",
            "--metrics",
            "/nonexistent/m.jsonl",
            "--data",
            data,
        ],
        "--metrics /nonexistent/m.jsonl: cannot write there",
    );
    assert!(
        t0.elapsed().as_secs() < 10,
        "the path checks come before training"
    );
    let notes = d.join("notes.txt");
    std::fs::write(&notes, b"my notes").unwrap();
    fails_with(
        &["train", "--save", notes.to_str().unwrap(), "--data", data],
        "the file exists and is not a stitch checkpoint; refusing to overwrite it",
    );
    assert_eq!(std::fs::read(&notes).unwrap(), b"my notes");
    fails_with(
        &["eval", "--load", "/nonexistent/ck", "--data", data],
        "/nonexistent/ck",
    );
    let junk = d.join("junk.ckpt");
    std::fs::write(&junk, b"hello").unwrap();
    fails_with(
        &["eval", "--load", junk.to_str().unwrap(), "--data", data],
        "not a stitch checkpoint",
    );
}

#[test]
fn a_batch_larger_than_the_set_and_threads_beyond_the_cores_warn() {
    let d = tmpdir("warn");
    synthetic_dataset(&d, 20, 10);
    let o = stitch(&[
        "train",
        "--epochs",
        "1",
        "--batch",
        "64",
        "--threads",
        "64",
        "--quiet",
        "--data",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning: --batch 64 is larger than the training set (20 images)"),
        "{e}"
    );
    assert!(e.contains("warning: --threads 64 is more than the"), "{e}");
}

#[test]
fn eval_prints_whole_class_names_in_aligned_columns() {
    let d = tmpdir("confusion");
    synthetic_dataset(&d, 40, 20);
    let data = d.to_str().unwrap();
    let ck = d.join("m.ck");
    let o = stitch(&[
        "train",
        "--model",
        "dnn",
        "--epochs",
        "1",
        "--quiet",
        "--save",
        ck.to_str().unwrap(),
        "--data",
        data,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = stitch(&["eval", "--load", ck.to_str().unwrap(), "--data", data]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(1)
        .take(11)
        .collect();
    assert!(
        table.iter().any(|l| l.starts_with("9 Ankle boot ")),
        "{out}"
    );
    assert!(
        table.iter().any(|l| l.starts_with("0 T-shirt/top ")),
        "{out}"
    );
    // Every row as long as the header, and each column's last digit under its number.
    let width = table[0].len();
    for l in &table {
        assert_eq!(l.len(), width, "{l:?} in\n{out}");
    }
    let col9 = table[0].rfind('9').unwrap();
    for l in &table[1..] {
        assert!(l.as_bytes()[col9].is_ascii_digit(), "{l:?}");
    }
}

#[test]
fn a_bad_data_file_is_one_line_naming_it() {
    let d = tmpdir("badfile");
    synthetic_dataset(&d, 20, 10);
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        [0, 0, 8, 1, 0, 0, 0, 2, 4, 12],
    )
    .unwrap();
    fails_with(
        &["train", "--data", d.to_str().unwrap()],
        "t10k-labels-idx1-ubyte: label 12 at index 1 is outside 0..=9",
    );
}

#[test]
fn models_lists_every_model() {
    let o = stitch(&["models"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for name in stitch::models::LADDER {
        assert!(out.lines().any(|l| l.starts_with(name)), "{out}");
    }
}

#[test]
fn ladder_trains_every_step_and_tags_metrics_with_the_model() {
    let d = tmpdir("ladder");
    synthetic_dataset(&d, 64, 20);
    let metrics = d.join("ladder.jsonl");
    let o = stitch(&[
        "ladder",
        "--epochs",
        "1",
        "--batch",
        "32",
        "--data",
        d.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--threads",
        "2",
        "--plot",
        d.join("ladder.svg").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The plot: curves for every step, then the bars of stitch against the write-up.
    let svg = std::fs::read_to_string(d.join("ladder.svg")).unwrap();
    let names = series_names(&svg);
    assert_eq!(names.len(), 4 * 4 + 2, "{names:?}");
    assert!(
        names.iter().any(|n| n == "conv-pool test")
            && names.ends_with(&["stitch".to_string(), "write-up / literature".to_string()])
    );
    let out = String::from_utf8_lossy(&o.stdout);
    for k in 1..=4 {
        assert!(out.contains(&format!("== step {k} of 4: ")), "{out}");
    }
    assert!(
        out.contains(" left (step 1 of 4)"),
        "an estimate of the time left: {out}"
    );
    for (step, model, seed) in [
        (1, "dnn", "88.66"),
        (2, "conv", "88.37"),
        (3, "conv-pool", "91.22"),
        (4, "cnn", "~93"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{step}     {model} ")))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains(seed), "{line}");
    }
    let m = std::fs::read_to_string(&metrics).unwrap();
    let models: Vec<&str> = m.lines().map(|l| l.split('"').nth(3).unwrap()).collect();
    assert_eq!(models, ["dnn", "conv", "conv-pool", "cnn"]);
}

#[test]
fn profile_prints_the_probe_and_a_row_per_op() {
    let o = stitch(&[
        "profile",
        "--model",
        "cnn",
        "--steps",
        "2",
        "--batch",
        "8",
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("probe: ") && out.contains("GFLOP/s") && out.contains("GB/s"),
        "{out}"
    );
    for op in [
        "conv2d ",
        "batch_norm_relu_max_pool2d ",
        "dropout ",
        "linear ",
        "adam ",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(op)),
            "no {op} row in:\n{out}"
        );
    }
    fails_with(
        &["profile", "--steps", "0"],
        "--steps and --batch must be at least 1",
    );
}

#[test]
fn profile_memory_lists_what_each_op_keeps_and_the_total_matches_the_allocator() {
    let o = stitch(&[
        "profile", "--model", "cnn", "--memory", "--batch", "128", "--steps", "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let mb = |line: &str, col: usize| -> f64 {
        line.split_whitespace().nth(col).unwrap().parse().unwrap()
    };
    let row = |op: &str| {
        out.lines()
            .find(|l| l.starts_with(op))
            .unwrap_or_else(|| panic!("no {op} row:\n{out}"))
    };
    // The conv outputs are 128 × (32 × 28 × 28 + 64 × 14 × 14) floats = 19.27 MB; the
    // pool's argmax and mask a quarter of that in u32 plus a byte per pooled value: 6.02 MB.
    // No normalized tensor is kept. Where the CPU has a fused convolution backward for
    // both blocks, each block is one node that keeps its convolution's output itself (own
    // memory: 19.27 + 6.02 MB) and, as activations, its input (the batch, 0.40 MB, and
    // the first block's dropout output, 3.21 MB); elsewhere the fused batch norm + ReLU +
    // pool keeps the conv outputs as its input and the argmax and mask as its own.
    if out.contains("conv2d_batch_norm_relu_max_pool2d ") {
        let block = row("conv2d_batch_norm_relu_max_pool2d ");
        assert!((mb(block, 2) - 3.612672).abs() < 0.01, "{out}");
        assert!((mb(block, 3) - 25.29).abs() < 0.01, "{out}");
        assert!(!out.lines().any(|l| l.starts_with("conv2d ")), "{out}");
    } else {
        let fused = row("batch_norm_relu_max_pool2d");
        assert!((mb(fused, 2) - 19.267584).abs() < 0.01, "{out}");
        assert!((mb(fused, 3) - 6.02).abs() < 0.01, "{out}");
    }
    assert!(!out.lines().any(|l| l.starts_with("batch_norm ")), "{out}");
    let total = mb(row("total"), 4);
    let live: f64 = out
        .lines()
        .find(|l| l.starts_with("allocator") && l.contains("after the forward"))
        .unwrap()
        .split_whitespace()
        .nth(7)
        .unwrap()
        .parse()
        .unwrap();
    // The allocator counts blocks of 256 KiB and more made during the forward pass: not the
    // batch (0.4 MB, made before), but the convolution's scratch buffers on first use.
    assert!(live >= total - 0.5 && live < total + 3.0, "{out}");
    assert!(out.contains("peak resident memory"), "{out}");
}

#[test]
fn profile_overhead_compares_alternating_blocks() {
    let o = stitch(&[
        "profile",
        "--model",
        "dnn",
        "--overhead",
        "--batch",
        "16",
        "--steps",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("profiler overhead, 3 alternating pairs") && out.contains("median pair ratio"),
        "{out}"
    );
}

#[test]
fn no_fusion_trains_the_same_checkpoint_bit_for_bit() {
    // cnn and vgg-small fuse batch norm → ReLU → max-pool (and cnn's ReLU → pool),
    // conv-pool conv → ReLU → max-pool (its second layer on Winograd's route where `auto`
    // gives Winograd the forward: AVX2, Zen 4), conv conv → ReLU (each image rectified in
    // cache on AVX-512's direct kernels); with --no-fusion every layer runs as its own op.
    // Same seed, same bytes.
    let d = tmpdir("fusion");
    synthetic_dataset(&d, 96, 10);
    for model in ["cnn", "vgg-small", "conv-pool", "conv"] {
        let mut files = Vec::new();
        for flag in [None, Some("--no-fusion")] {
            let ck = d.join(format!("{model}-{}.ckpt", flag.is_some()));
            let mut args = vec![
                "train",
                "--model",
                model,
                "--epochs",
                "1",
                "--batch",
                "32",
                "--quiet",
                "--data",
                d.to_str().unwrap(),
                "--save",
                ck.to_str().unwrap(),
            ];
            args.extend(flag);
            let o = stitch(&args);
            assert!(o.status.success(), "{}", stderr(&o));
            files.push(std::fs::read(&ck).unwrap());
        }
        assert!(
            files[0] == files[1],
            "{model}: --no-fusion changed the checkpoint"
        );
    }
}
