//! Recycled buffers (`stitch::tensor::recycle`) change no result: training with every
//! recycled buffer poisoned (NaN, `u32::MAX`, `true`) before use, and with recycled buffers
//! holding their stale values, equals training with recycling off, bit for bit, for every
//! model of the ladder, with the fast kernels and with the reference ones; and
//! `recycle::release` empties the shelves.
//!
//! One test function in its own binary: the switches are process-wide.

use stitch::tensor::recycle;
use stitch::train::{TrainConfig, Trainer};
use stitch::Tensor;
use stitch_kernels::{set_mode, Mode};

/// Batch `step` of `n` synthetic images and labels, different at every step.
fn batch(n: usize, step: usize) -> (Tensor<f32>, Vec<usize>) {
    let x = (0..n * 784)
        .map(|i| ((i * 37 + step * 101) % 255) as f32 / 255.0 - 0.3)
        .collect();
    let y = (0..n).map(|i| (i * 7 + step) % 10).collect();
    (Tensor::from_vec(x, &[n, 1, 28, 28]), y)
}

/// The losses of `steps` training steps and the checkpoint bytes after them.
fn train(model: &str, batch_size: usize, steps: usize) -> (Vec<u64>, Vec<u8>) {
    let config = TrainConfig {
        model: model.into(),
        batch: batch_size,
        seed: 3,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(config).expect("a ladder model");
    let losses = (0..steps)
        .map(|s| {
            let (x, y) = batch(batch_size, s);
            trainer.train_step(&x, &y).expect("finite").0.to_bits()
        })
        .collect();
    (losses, trainer.checkpoint(None).to_bytes())
}

#[test]
fn poisoned_and_stale_recycled_buffers_give_the_same_bits_as_no_recycling() {
    // Batch 128 with the fast kernels (every activation of the models is then above the
    // recycling threshold); batch 32 with the reference kernels (slow loops), which
    // still recycles the convolution outputs and gradients.
    for (mode, batch_size, steps) in [(Mode::Fast, 128, 3), (Mode::Reference, 32, 2)] {
        set_mode(mode);
        for model in ["dnn", "conv", "conv-pool", "cnn"] {
            recycle::set_enabled(false);
            let plain = train(model, batch_size, steps);
            recycle::set_enabled(true);
            recycle::set_poison(true);
            let poisoned = train(model, batch_size, steps);
            assert!(
                recycle::shelved_bytes() > 0,
                "{model}: buffers were recycled"
            );
            recycle::set_poison(false);
            // `release` (the trainer's, between an epoch's steps and evaluation) empties
            // the shelves and changes nothing either.
            recycle::release();
            assert_eq!(recycle::shelved_bytes(), 0, "{model}: released");
            let stale = train(model, batch_size, steps);
            assert_eq!(plain.0, poisoned.0, "{model} {mode:?}: losses, poisoned");
            assert!(plain.1 == poisoned.1, "{model} {mode:?}: weights, poisoned");
            assert_eq!(plain.0, stale.0, "{model} {mode:?}: losses, stale");
            assert!(plain.1 == stale.1, "{model} {mode:?}: weights, stale");
        }
    }
    set_mode(Mode::Fast);
}
