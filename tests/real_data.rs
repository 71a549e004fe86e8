//! Training on the real Fashion-MNIST files. These tests need the Debian package
//! `dataset-fashion-mnist` (or `STITCH_DATA`); without it they fail with the install
//! command. They never pass by skipping.

use stitch::data::FashionMnist;
use stitch::train::{Silent, TrainConfig, Trainer};

fn real_data() -> FashionMnist {
    match FashionMnist::locate_and_load(None) {
        Ok(d) => d,
        Err(e) => panic!("these tests train on the real dataset: {e}"),
    }
}

#[test]
fn dnn_reaches_84_percent_after_one_epoch() {
    let data = real_data();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    let mut t = Trainer::new(TrainConfig {
        model: "dnn".into(),
        epochs: 1,
        seed: 0,
        ..TrainConfig::default()
    })
    .unwrap();
    let m = t.run_epoch(&data.train, &data.test, &mut Silent).unwrap();
    assert!(m.test_acc >= 84.0, "dnn after one epoch: {m:?}");
    // The loss falls from ln 10 ≈ 2.30 at the start to well below 0.6 on average.
    assert!(m.train_loss < 0.6, "{m:?}");
}

/// Trains `cnn` on 512 images for two epochs on a pool of `threads` threads and returns the
/// full checkpoint's bytes (weights, buffers, optimizer state, dropout counters) and the
/// per-epoch metrics without their timings.
fn cnn_512(data: &FashionMnist, threads: usize) -> (Vec<u8>, Vec<[f64; 4]>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let cfg = TrainConfig {
            model: "cnn".into(),
            epochs: 2,
            seed: 3,
            limit_train: Some(512),
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(cfg).unwrap();
        let train = data.train.truncated(512);
        let test = data.test.truncated(256);
        let metrics = (0..2)
            .map(|_| {
                let m = t.run_epoch(&train, &test, &mut Silent).unwrap();
                [m.train_loss, m.train_acc, m.test_loss, m.test_acc]
            })
            .collect();
        (t.checkpoint(None).to_bytes(), metrics)
    })
}

#[test]
fn cnn_training_is_bitwise_identical_on_1_2_4_and_8_threads() {
    let data = real_data();
    let (one, metrics) = cnn_512(&data, 1);
    assert!(
        metrics.iter().flatten().all(|v| v.is_finite()),
        "{metrics:?}"
    );
    for threads in [2, 4, 8] {
        let (other, m) = cnn_512(&data, threads);
        assert_eq!(
            m, metrics,
            "metrics after {threads} threads differ from 1 thread"
        );
        assert!(
            one == other,
            "checkpoint after {threads} threads differs from 1 thread"
        );
    }
}
