//! Helpers for the tests that run the `stitch` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stitch::data::write_idx;

pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stitch-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny learnable dataset: class k is a bright horizontal band at rows 2k..2k+3.
pub fn synthetic_dataset(dir: &Path, n_train: u32, n_test: u32) {
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let mut px = Vec::new();
        let mut lab = Vec::new();
        for i in 0..n {
            let k = (i % 10) as usize;
            for r in 0..28 {
                for c in 0..28 {
                    let band = r >= 2 * k + 2 && r < 2 * k + 5;
                    px.push(if band {
                        200 + (c % 50) as u8
                    } else {
                        ((i as usize * 7 + r * 3 + c) % 40) as u8
                    });
                }
            }
            lab.push(k as u8);
        }
        write_idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &[n, 28, 28],
            &px,
            true,
        )
        .unwrap();
        write_idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &lab,
            false,
        )
        .unwrap();
    }
}

pub fn stitch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stitch"))
        .args(args)
        .env_remove("STITCH_DATA")
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails unless the command failed with exactly one line on stderr, containing `want`.
pub fn fails_with(args: &[&str], want: &str) {
    let o = stitch(args);
    let e = stderr(&o);
    assert!(!o.status.success(), "{args:?} must fail");
    assert_eq!(
        e.trim_end().lines().count(),
        1,
        "{args:?}: one line, got:\n{e}"
    );
    assert!(
        !e.contains("panicked") && !e.contains("backtrace"),
        "{args:?}: {e}"
    );
    assert!(e.contains(want), "{args:?}: expected '{want}' in: {e}");
}

/// The `data-name`s of the series groups in an SVG document, which must parse as XML.
pub fn series_names(doc: &str) -> Vec<String> {
    let xml = roxmltree::Document::parse(doc).expect("the SVG parses as XML");
    assert_eq!(xml.root_element().tag_name().name(), "svg");
    xml.descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .map(|n| n.attribute("data-name").unwrap().to_string())
        .collect()
}
