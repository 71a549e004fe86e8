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
        Err(CheckpointError::Malformed { what, .. }) if what.contains("the tensors need") => {}
        other => panic!("expected the data to be found short, got {other:?}"),
    }
    // The earlier format's truncation is caught by its checksum.
    let old = Checkpoint::load(&p).unwrap().to_stitchck_bytes();
    match Checkpoint::from_bytes(&old[..old.len() / 2], &p) {
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
    let mut b = saved_dnn(&p, 1).to_stitchck_bytes();
    b[8] = 7;
    let e = Checkpoint::from_bytes(&b, &p).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: checkpoint format version 7, this stitch reads versions 1 and 2",
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

#[test]
fn version_1_files_without_optimizer_state_still_load() {
    let d = tmpdir("v1");
    let p = d.join("c");
    let ck = saved_dnn(&p, 1);
    let mut b = ck.to_stitchck_bytes();
    b[8] = 1;
    let n = b.len() - 4;
    let crc = stitch::checkpoint::crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    let back = Checkpoint::from_bytes(&b, &p).unwrap();
    assert_eq!(back.meta, ck.meta);
    assert_eq!(back.tensors, ck.tensors);
    assert_eq!(back.optimizer_state(&p).unwrap(), None);
}

#[test]
fn optimizer_state_round_trips_and_is_checked_against_the_model() {
    use stitch::optim::{Adam, Optimizer, Sgd};
    let d = tmpdir("opt");
    let p = d.join("c");
    let m = models::build("dnn", 1).unwrap();
    let mut adam = Adam::new(m.parameters(), 1e-3);
    // Two real steps so the moments are not zero.
    for _ in 0..2 {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5);
        let x = stitch::Tensor::<f32>::randn(&[4, 1, 28, 28], 0.0, 1.0, &mut rng);
        let loss = m.forward(&x).cross_entropy(&[1, 2, 3, 4]);
        adam.zero_grad();
        loss.backward();
        adam.step();
    }
    let state = adam.state();
    assert_eq!(state.steps, 2);
    Checkpoint::from_module(&m, vec![("model".into(), "dnn".into())])
        .with_optimizer_state(&state)
        .save(&p)
        .unwrap();
    let back = Checkpoint::load(&p).unwrap();
    // Optimizer tensors do not get in the way of loading the model.
    back.load_into(&m, &p).unwrap();
    let restored = back.optimizer_state(&p).unwrap().unwrap();
    assert_eq!(restored, state);
    let mut other = Adam::new(m.parameters(), 1e-3);
    other.load_state(&restored).unwrap();
    assert_eq!(other.state(), state);
    // A state for another model is refused with the slot named.
    let small = models::build("cnn", 1).unwrap();
    let e = Adam::new(small.parameters(), 1e-3)
        .load_state(&restored)
        .unwrap_err();
    assert!(
        e.contains("optimizer state exp_avg of parameter 0 holds"),
        "{e}"
    );
    // SGD without momentum buffers yet has an empty state; with them, one slot each.
    let mut sgd = Sgd::new(m.parameters(), 0.1).momentum(0.9);
    assert!(sgd.state().slots.is_empty());
    sgd.step();
    assert_eq!(sgd.state().slots.len(), m.parameters().len());
}
