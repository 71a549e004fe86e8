//! Checkpoints: round trip, atomic writes, and damaged files rejected with their own errors.

use std::path::{Path, PathBuf};

use stitch::checkpoint::{Checkpoint, CheckpointError};
use stitch::models;
use stitch::nn::Module;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stitch-ck-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn saved_dnn(path: &Path, seed: u64) -> Checkpoint {
    let m = models::build("dnn", seed).unwrap();
    let ck = Checkpoint::from_module(
        &m,
        vec![("model".into(), "dnn".into()), ("epoch".into(), "3".into())],
    );
    ck.save(path).unwrap();
    ck
}

#[test]
fn round_trip_restores_every_parameter() {
    let d = tmpdir("rt");
    let p = d.join("dnn.ckpt");
    let ck = saved_dnn(&p, 1);
    let back = Checkpoint::load(&p).unwrap();
    assert_eq!(back, ck);
    assert_eq!(back.get("model"), Some("dnn"));
    let fresh = models::build("dnn", 2).unwrap();
    back.load_into(&fresh, &p).unwrap();
    let orig = models::build("dnn", 1).unwrap();
    for ((n1, a), (n2, b)) in fresh.named_parameters().iter().zip(orig.named_parameters()) {
        assert_eq!(n1, &n2);
        assert_eq!(a.to_vec(), b.to_vec(), "{n1}");
    }
    // Nothing but the checkpoint is left in the directory (the temporary file was renamed).
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("dnn.ckpt")]);
}

#[test]
fn a_truncated_checkpoint_is_rejected() {
    let d = tmpdir("trunc");
    let p = d.join("c");
    saved_dnn(&p, 1);
    let b = std::fs::read(&p).unwrap();
    match Checkpoint::from_bytes(&b[..b.len() / 2], &p) {
        Err(CheckpointError::Checksum { .. }) => {}
        other => panic!("expected a checksum error, got {other:?}"),
    }
    match Checkpoint::from_bytes(&b[..5], &p) {
        Err(CheckpointError::NotACheckpoint { .. }) => {}
        other => panic!("expected not-a-checkpoint, got {other:?}"),
    }
}

#[test]
fn a_bit_flip_is_caught_by_the_checksum() {
    let d = tmpdir("flip");
    let p = d.join("c");
    saved_dnn(&p, 1);
    let mut b = std::fs::read(&p).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    let e = Checkpoint::from_bytes(&b, &p).unwrap_err();
    assert!(matches!(e, CheckpointError::Checksum { .. }), "{e}");
    assert!(e.to_string().contains("checksum mismatch"));
}

#[test]
fn a_wrong_version_is_rejected() {
    let d = tmpdir("ver");
    let p = d.join("c");
    saved_dnn(&p, 1);
    let mut b = std::fs::read(&p).unwrap();
    b[8] = 7;
    let e = Checkpoint::from_bytes(&b, &p).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: checkpoint format version 7, this stitch reads version 1",
            p.display()
        )
    );
}

#[test]
fn lengths_are_checked_against_the_bytes_left() {
    // A valid checksum over a body whose tensor claims 2^32-1 elements.
    let mut body = b"STITCHCK".to_vec();
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&1u32.to_le_bytes());
    body.push(b'w');
    body.push(0);
    body.push(2);
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    let crc = stitch::checkpoint::crc32(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    let e = Checkpoint::from_bytes(&body, Path::new("c"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs more data than the file holds"), "{e}");
}

#[test]
fn shapes_must_match_the_model() {
    let d = tmpdir("shape");
    let p = d.join("c");
    let mut ck = saved_dnn(&p, 1);
    ck.tensors[0].shape = vec![784, 128];
    let m = models::build("dnn", 0).unwrap();
    let e = ck.load_into(&m, &p).unwrap_err().to_string();
    assert!(
        e.contains("tensor 1.weight has shape [784, 128], the model expects [128, 784]"),
        "{e}"
    );
    ck.tensors[0].shape = vec![128, 784];
    ck.tensors.pop();
    let e = ck.load_into(&m, &p).unwrap_err().to_string();
    assert!(e.contains("3.bias") && e.contains("missing"), "{e}");
}
