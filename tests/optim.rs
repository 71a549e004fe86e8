//! One and three steps of each optimizer against values worked out by hand.

use stitch::optim::{Adam, AdamW, Optimizer, Sgd};
use stitch::Tensor;

/// A one-element parameter at 1.0.
fn param() -> Tensor<f64> {
    Tensor::from_vec(vec![1.0], &[1]).requires_grad_()
}

/// Runs `opt` with the given gradients (one per step) and returns p after each step.
fn run(p: &Tensor<f64>, opt: &mut dyn Optimizer, grads: &[f64]) -> Vec<f64> {
    grads
        .iter()
        .map(|&g| {
            *p.grad_lock() = Some(vec![g]);
            opt.step();
            p.item()
        })
        .collect()
}

fn close(got: &[f64], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_plain_step() {
    // p ← p − η g = 1 − 0.1 · 0.5
    let p = param();
    close(
        &run(&p, &mut Sgd::new(vec![p.clone()], 0.1), &[0.5]),
        &[0.95],
    );
}

#[test]
fn sgd_momentum_three_steps() {
    // b₁ = 0.5, p = 0.95;  b₂ = 0.9·0.5 + 0.5 = 0.95, p = 0.855;  b₃ = 1.355, p = 0.7195
    let p = param();
    let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9);
    close(&run(&p, &mut opt, &[0.5, 0.5, 0.5]), &[0.95, 0.855, 0.7195]);
}

#[test]
fn sgd_nesterov_three_steps() {
    // g + μb: 0.95, 1.355, 1.7195  ⇒  p = 0.905, 0.7695, 0.59755
    let p = param();
    let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9).nesterov(true);
    close(
        &run(&p, &mut opt, &[0.5, 0.5, 0.5]),
        &[0.905, 0.7695, 0.59755],
    );
}

#[test]
fn sgd_weight_decay_three_steps() {
    // g + λp: 0.6, 0.594, 0.58806  ⇒  p = 0.94, 0.8806, 0.821794
    let p = param();
    let mut opt = Sgd::new(vec![p.clone()], 0.1).weight_decay(0.1);
    close(
        &run(&p, &mut opt, &[0.5, 0.5, 0.5]),
        &[0.94, 0.8806, 0.821794],
    );
}

#[test]
fn adam_one_and_three_steps() {
    // Step 1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 ⇒ p = 1 − 0.1 · 0.5/(0.5 + 1e-8).
    // Steps 2 and 3 with gradients −0.2 and 0.1, by the same formulas.
    let p = param();
    let mut opt = Adam::new(vec![p.clone()], 0.1);
    close(
        &run(&p, &mut opt, &[0.5, -0.2, 0.1]),
        &[0.900000002, 0.8654394181165108, 0.8275002408356956],
    );
}

#[test]
fn adam_l2_weight_decay() {
    let p = param();
    let mut opt = Adam::new(vec![p.clone()], 0.1).weight_decay(0.1);
    close(
        &run(&p, &mut opt, &[0.5, -0.2, 0.1]),
        &[0.9000000016666666, 0.8475190629593703, 0.7901621834311943],
    );
}

#[test]
fn adamw_decoupled_weight_decay() {
    // p ← p (1 − ηλ) = 0.99 first, then the Adam step: 0.99 − 0.1 = 0.89 (+ 2e-9).
    let p = param();
    let mut opt = AdamW::adamw(vec![p.clone()], 0.1, 0.1);
    close(
        &run(&p, &mut opt, &[0.5, -0.2, 0.1]),
        &[0.890000002, 0.8465394180965108, 0.8001348466347304],
    );
}

#[test]
fn parameters_without_gradient_are_left_alone() {
    let p = param();
    let mut opt = Adam::new(vec![p.clone()], 0.1);
    opt.step();
    assert_eq!(p.item(), 1.0);
}
