//! Trust in a long run: `--resume` continues exactly, Ctrl-C keeps the last complete
//! checkpoint, and a diverging run stops with one line naming where it went non-finite.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{stderr, stitch, synthetic_dataset, tmpdir};

#[test]
fn two_epochs_plus_a_resume_to_four_equal_four_straight_epochs() {
    let d = tmpdir("resume");
    synthetic_dataset(&d, 300, 50);
    let data = d.to_str().unwrap();
    let (a, b) = (d.join("a.ck"), d.join("b.ck"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (ma, mb) = (d.join("a.jsonl"), d.join("b.jsonl"));
    let (ma, mb) = (ma.to_str().unwrap(), mb.to_str().unwrap());
    // cnn: dropout masks, batch-norm running statistics and Adam moments all carry over.
    let recipe = ["--model", "cnn", "--batch", "64", "--seed", "7", "--quiet"];
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--data", data];
        args.extend(extra);
        let o = stitch(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&[
        &recipe[..],
        &["--epochs", "2", "--save", a, "--metrics", ma],
    ]
    .concat());
    // Only --epochs is given: the recipe comes from the checkpoint.
    let out = run(&["--resume", a, "--epochs", "4", "--save", a, "--metrics", ma]);
    assert!(out.contains("resuming"), "{out}");
    assert!(
        out.contains("epoch  3") && out.contains("epoch  4"),
        "{out}"
    );
    assert!(!out.contains("epoch  1"), "{out}");
    run(&[
        &recipe[..],
        &["--epochs", "4", "--save", b, "--metrics", mb],
    ]
    .concat());
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "resumed checkpoint differs from the straight run's"
    );
    // The per-epoch figures agree too (timings aside).
    let figures = |p: &str| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| l.split(", \"epoch_seconds\"").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(figures(ma), figures(mb));
    assert_eq!(figures(ma).len(), 4);

    // Nothing left to do, a different model, or a file that is not a checkpoint: one line.
    let o = stitch(&["train", "--data", data, "--resume", a, "--epochs", "4"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("already trained 4 of 4 epochs"),
        "{}",
        stderr(&o)
    );
    let o = stitch(&[
        "train", "--data", data, "--resume", a, "--model", "dnn", "--epochs", "5",
    ]);
    assert!(
        stderr(&o).contains("--model dnn differs from the model cnn"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
}

#[test]
fn a_diverging_run_stops_with_the_step_and_the_first_non_finite_op() {
    let d = tmpdir("diverge");
    synthetic_dataset(&d, 600, 50);
    let data = d.to_str().unwrap();
    let ck = d.join("last.ck");
    let ck = ck.to_str().unwrap();
    // One good epoch first, then a recipe that explodes on resume.
    let o = stitch(&[
        "train",
        "--data",
        data,
        "--epochs",
        "1",
        "--optimizer",
        "sgd",
        "--save",
        ck,
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = stitch(&[
        "train", "--data", data, "--resume", ck, "--epochs", "3", "--lr", "1e6", "--save", ck,
        "--quiet",
    ]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("training diverged at epoch "), "{e}");
    assert!(
        e.contains("first non-finite op") || e.contains("the gradient of"),
        "{e}"
    );
    assert!(e.contains("try a lower --lr"), "{e}");
    // The checkpoint left on disk is the last complete epoch the message names, and it
    // holds only finite numbers.
    let saved = stitch::checkpoint::Checkpoint::load(std::path::Path::new(ck)).unwrap();
    let epoch = saved.get("epoch").unwrap();
    assert!(
        e.contains(&format!("last complete checkpoint is {ck} (epoch {epoch})")),
        "{e}"
    );
    let diverged_at: usize = e["error: training diverged at epoch ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(epoch.parse::<usize>().unwrap() + 1, diverged_at, "{e}");
    assert!(saved
        .tensors
        .iter()
        .all(|t| t.data.iter().all(|v| v.is_finite())));
}

#[test]
fn ctrl_c_stops_after_the_batch_and_keeps_the_last_checkpoint() {
    let d = tmpdir("sigint");
    synthetic_dataset(&d, 2000, 20);
    let data = d.to_str().unwrap();
    let ck = d.join("run.ck");
    let child = Command::new(env!("CARGO_BIN_EXE_stitch"))
        .args([
            "train",
            "--model",
            "conv-pool",
            "--epochs",
            "1000",
            "--quiet",
            "--data",
            data,
        ])
        .args(["--save", ck.to_str().unwrap()])
        .env_remove("STITCH_DATA")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first checkpoint, then interrupt.
    let start = Instant::now();
    while !ck.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{e}");
    assert!(e.contains("interrupted during epoch"), "{e}");
    assert!(e.contains("the last complete checkpoint is"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    // What is left on disk is a whole checkpoint, and it resumes.
    let saved = stitch::checkpoint::Checkpoint::load(&ck).unwrap();
    let epoch: usize = saved.get("epoch").unwrap().parse().unwrap();
    assert!(epoch >= 1 && e.contains(&format!("(epoch {epoch})")), "{e}");
    let more = (epoch + 1).to_string();
    let o = stitch(&[
        "train",
        "--data",
        data,
        "--resume",
        ck.to_str().unwrap(),
        "--epochs",
        &more,
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn ctrl_c_during_the_ladder_prints_the_steps_finished_so_far() {
    use std::io::{BufRead, BufReader};
    let d = tmpdir("ladder-sigint");
    synthetic_dataset(&d, 400, 20);
    let mut child = Command::new(env!("CARGO_BIN_EXE_stitch"))
        .args([
            "ladder",
            "--epochs",
            "1000",
            "--quiet",
            "--data",
            d.to_str().unwrap(),
        ])
        .env_remove("STITCH_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // dnn's 1000 epochs pass quickly on 400 images; interrupt once conv (step 2) starts.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let start = Instant::now();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the ladder ended early:\n{seen}"
        );
        seen += &line;
        if line.starts_with("== step 2 of 4") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "step 2 never started"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(
        e.contains("interrupted during step 2 (conv); the steps finished so far:"),
        "{e}"
    );
    // The table: its header and dnn's row, nothing for conv.
    assert!(
        rest.contains("step  model") && rest.lines().any(|l| l.starts_with("1     dnn")),
        "{rest}"
    );
    assert!(!rest.lines().any(|l| l.starts_with("2     conv")), "{rest}");
}
