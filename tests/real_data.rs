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
