//! The malformed-file corpus (`tests/corpus/`, written by `make_corpus.py`): every file
//! must give its own one-line error naming the file, and nothing may panic.

use std::path::{Path, PathBuf};

use stitch::checkpoint::Checkpoint;
use stitch::data::{read_idx, IdxKind};
use stitch::train::{TrainConfig, Trainer};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The error reading `path` as `kind` gives.
fn error_of(path: &Path, kind: &str) -> String {
    let idx = |k| read_idx(path, k).map(|_| ()).map_err(|e| e.to_string());
    let result = match kind {
        "labels" => idx(IdxKind::Labels),
        "images" => idx(IdxKind::Images),
        "checkpoint" => Checkpoint::load(path)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "checkpoint-into-dnn" => Checkpoint::load(path)
            .map_err(|e| e.to_string())
            .and_then(|ck| {
                let m = stitch::models::build("dnn", 0).unwrap();
                ck.load_into(&m, path).map_err(|e| e.to_string())
            }),
        "checkpoint-resume" => Checkpoint::load(path)
            .map_err(|e| e.to_string())
            .and_then(|ck| {
                let c = TrainConfig::from_checkpoint(&ck, path)?;
                Trainer::resume(&ck, path, c).map(|_| ())
            }),
        "safetensors" => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                stitch::safetensors::SafeTensors::parse(&b, path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        "safetensors-into-dnn" => {
            let m = stitch::models::build("dnn", 0).unwrap();
            stitch::safetensors::load_module(m.as_ref(), path)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        other => panic!("expected.tsv: unknown kind {other}"),
    };
    match result {
        Ok(()) => panic!("{}: read as {kind} without an error", path.display()),
        Err(e) => e,
    }
}

#[test]
fn every_corpus_file_gets_its_own_one_line_error() {
    let manifest = std::fs::read_to_string(corpus().join("expected.tsv")).unwrap();
    let mut count = 0;
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let (name, kind, want) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let path = corpus().join(name);
        let e = error_of(&path, kind);
        assert!(!e.contains('\n'), "{name}: more than one line: {e}");
        assert!(
            e.contains(name),
            "{name}: the error does not name the file: {e}"
        );
        assert!(e.contains(want), "{name}: expected {want:?} in: {e}");
        count += 1;
    }
    assert!(count >= 20, "the corpus has only {count} files");
    // Every file in the directory is listed (none silently untested).
    let files = std::fs::read_dir(corpus())
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n != "expected.tsv" && n != "make_corpus.py"
        })
        .count();
    assert_eq!(files, count);
}
