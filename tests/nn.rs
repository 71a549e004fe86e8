//! Layers compose: parameter names and counts, PyTorch's init, and an MLP that learns XOR.

mod common;
use common::rng;
use stitch::nn::{Flatten, Linear, Module, ReLU, Sequential};
use stitch::optim::{Adam, Optimizer};
use stitch::Tensor;

#[test]
fn linear_has_pytorch_names_counts_and_init_bounds() {
    let net: Sequential = Sequential::new()
        .add(Flatten)
        .add(Linear::new(784, 128, &mut rng(0)))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng(1)));
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["1.weight", "1.bias", "3.weight", "3.bias"]);
    assert_eq!(
        net.num_parameters(),
        101_770,
        "the dnn of the ladder, as PyTorch counts it"
    );
    let w = net.named_parameters()[0].1.to_vec();
    let bound = 1.0 / 784f32.sqrt();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(
        w.iter().any(|v| v.abs() > 0.9 * bound),
        "uniform over the whole ±1/√fan_in range"
    );
    let y = net.forward(&Tensor::zeros(&[5, 1, 28, 28]));
    assert_eq!(y.shape(), &[5, 10]);
}

#[test]
fn an_mlp_learns_xor() {
    let x = Tensor::from_vec(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
    let y = [0usize, 1, 1, 0];
    let mut r = rng(7);
    let net: Sequential = Sequential::new()
        .add(Linear::new(2, 16, &mut r))
        .add(ReLU)
        .add(Linear::new(16, 2, &mut r));
    let mut opt = Adam::new(net.parameters(), 0.05);
    let mut loss = f32::INFINITY;
    for _ in 0..300 {
        opt.zero_grad();
        let l = net.forward(&x).cross_entropy(&y);
        loss = l.item();
        l.backward();
        opt.step();
    }
    let acc = stitch::ops::accuracy(&net.forward(&x), &y);
    assert_eq!(acc, 100.0, "loss {loss}");
    assert!(loss < 0.05, "loss {loss}");
}
