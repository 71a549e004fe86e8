//! The ladder's models: PyTorch's parameter counts, the train/eval switch, batch-norm
//! buffers in checkpoints, and dropout's masks.

use stitch::checkpoint::Checkpoint;
use stitch::models;
use stitch::nn::{Dropout, Module};
use stitch::{no_grad, Tensor};

fn batch(n: usize) -> Tensor<f32> {
    Tensor::from_vec(
        (0..n * 784)
            .map(|i| ((i * 37) % 255) as f32 / 255.0 - 0.3)
            .collect(),
        &[n, 1, 28, 28],
    )
}

#[test]
fn parameter_counts_equal_pytorch() {
    for (name, count) in [
        ("dnn", 101_770),
        ("conv", 3_213_002),
        ("conv-pool", 50_186),
        ("cnn", 50_378),
    ] {
        let m = models::build(name, 0).unwrap();
        assert_eq!(m.num_parameters(), count, "{name}");
        let _g = no_grad();
        assert_eq!(m.forward(&batch(3)).shape(), &[3, 10], "{name}");
    }
    assert!(models::build("vgg", 0)
        .unwrap_err()
        .contains("unknown model 'vgg'"));
}

#[test]
fn cnn_parameter_and_buffer_names_follow_pytorch() {
    let m = models::build("cnn", 0).unwrap();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "5.weight",
            "5.bias",
            "6.weight",
            "6.bias",
            "11.weight",
            "11.bias"
        ]
    );
    let buffers: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "1.running_mean",
            "1.running_var",
            "6.running_mean",
            "6.running_var"
        ]
    );
}

#[test]
fn eval_mode_reaches_every_layer() {
    let m = models::build("cnn", 0).unwrap();
    let x = batch(8);
    // Training: dropout draws a new mask each call and batch norm moves its running stats.
    let a = m.forward(&x).to_vec();
    let b = m.forward(&x).to_vec();
    assert_ne!(a, b, "training mode: two calls, two dropout masks");
    let rm = m.named_buffers()[0].1.to_vec();
    assert!(rm.iter().any(|&v| v != 0.0), "running mean moved");
    m.eval();
    let c = m.forward(&x).to_vec();
    let d = m.forward(&x).to_vec();
    assert_eq!(c, d, "evaluation mode is deterministic");
    assert_eq!(
        m.named_buffers()[0].1.to_vec(),
        rm,
        "evaluation leaves the running stats alone"
    );
    m.train();
    assert_ne!(m.forward(&x).to_vec(), c);
}

#[test]
fn checkpoints_carry_batch_norm_running_statistics() {
    let m = models::build("cnn", 0).unwrap();
    m.forward(&batch(16));
    let dir = std::env::temp_dir().join(format!("stitch-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("cnn.ckpt");
    Checkpoint::from_module(&m, vec![("model".into(), "cnn".into())])
        .save(&p)
        .unwrap();
    let fresh = models::build("cnn", 1).unwrap();
    Checkpoint::load(&p).unwrap().load_into(&fresh, &p).unwrap();
    for ((n1, a), (_, b)) in fresh.named_buffers().iter().zip(m.named_buffers()) {
        assert_eq!(a.to_vec(), b.to_vec(), "{n1}");
    }
    let orig = m;
    orig.eval();
    fresh.eval();
    assert_eq!(
        orig.forward(&batch(4)).to_vec(),
        fresh.forward(&batch(4)).to_vec()
    );
}

#[test]
fn dropout_is_the_identity_in_eval_and_seeded_in_training() {
    let x = Tensor::<f32>::ones(&[1000]);
    let d = Dropout::new(0.3, 5);
    let y1 = Module::<f32>::forward(&d, &x).to_vec();
    let kept = y1.iter().filter(|&&v| v != 0.0).count();
    assert!((600..800).contains(&kept), "{kept}");
    assert!(y1.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    let d2 = Dropout::new(0.3, 5);
    assert_eq!(
        Module::<f32>::forward(&d2, &x).to_vec(),
        y1,
        "same seed, same first mask"
    );
    Module::<f32>::eval(&d);
    assert_eq!(Module::<f32>::forward(&d, &x).to_vec(), x.to_vec());
}

#[test]
fn sequential_frees_intermediates_without_changing_gradients() {
    use stitch::nn::{BatchNorm2d, MaxPool2d, ReLU, Sequential};
    use stitch::ops::BatchNormOptions;
    let x = Tensor::<f64>::from_vec(
        (0..2 * 3 * 6 * 6)
            .map(|i| ((i * 7919) % 97) as f64 / 50.0 - 1.0)
            .collect(),
        &[2, 3, 6, 6],
    )
    .requires_grad_();
    let net: Sequential<f64> = Sequential::new()
        .add(BatchNorm2d::new_2d(3))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Dropout::new(0.3, 9));
    let r = Tensor::<f64>::from_vec(
        (0..2 * 3 * 9).map(|i| (i % 5) as f64 - 2.0).collect(),
        &[2, 3, 3, 3],
    );
    net.forward(&x).mul(&r).sum().backward();
    let via_sequential = x.grad().unwrap().to_vec();
    x.zero_grad();
    // The same ops by hand: nothing is released early.
    let (w, b) = (
        Tensor::<f64>::ones(&[3]).requires_grad_(),
        Tensor::<f64>::zeros(&[3]).requires_grad_(),
    );
    let (rm, rv) = (Tensor::<f64>::zeros(&[3]), Tensor::<f64>::ones(&[3]));
    let h = x
        .batch_norm(&w, &b, &rm, &rv, true, BatchNormOptions::default())
        .relu()
        .max_pool2d([2, 2], [2, 2], [0, 0]);
    let key = stitch::nn::splitmix64(9 ^ stitch::nn::splitmix64(0));
    h.dropout(0.3, key).mul(&r).sum().backward();
    assert_eq!(via_sequential, x.grad().unwrap().to_vec());
}
