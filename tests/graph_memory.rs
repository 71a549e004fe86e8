//! What a recorded graph keeps until backward: an intermediate's elements are freed as soon
//! as its last handle outside the graph goes and no backward rule reads them (a batch
//! norm's output feeding a ReLU, which keeps a mask; the inputs of a residual sum, which
//! needs only shapes), for the built-in models and for a model written by a user.

use stitch::autograd::UNREAD;
use stitch::nn::{init, Module};
use stitch::{models, Tensor};

#[path = "common/mini_resnet.rs"]
mod mini_resnet;

fn images(n: usize) -> Tensor<f32> {
    Tensor::rand_uniform(&[n, 1, 28, 28], -1.0, 1.0, &mut init::rng(3))
}

fn unread_bytes(loss: &Tensor<f32>) -> usize {
    loss.saved_for_backward()
        .iter()
        .filter(|r| r.op == UNREAD)
        .map(|r| r.input_bytes)
        .sum()
}

/// One training forward pass and its loss.
fn loss_of(model: &dyn Module<f32>, x: &Tensor<f32>) -> Tensor<f32> {
    model.train();
    model.forward(x).cross_entropy(&[1, 7])
}

#[test]
fn no_model_keeps_an_intermediate_that_no_rule_reads() {
    let x = images(2);
    for name in ["dnn", "conv", "conv-pool", "cnn", "resnet20", "vgg-small"] {
        let model = models::build(name, 0).unwrap();
        let loss = loss_of(model.as_ref(), &x);
        assert_eq!(
            unread_bytes(&loss),
            0,
            "{name}: {:?}",
            loss.saved_for_backward()
        );
        // The graph still differentiates: every parameter gets a finite gradient.
        loss.backward();
        for (p, t) in model.named_parameters() {
            assert!(
                t.grad().unwrap().to_vec().iter().all(|g| g.is_finite()),
                "{name} {p}"
            );
        }
    }
    let user = mini_resnet::MiniResNet::<f32>::new(0);
    let loss = loss_of(&user, &x);
    assert_eq!(unread_bytes(&loss), 0, "{:?}", loss.saved_for_backward());
}

#[test]
fn a_handle_the_user_keeps_keeps_the_elements_and_the_report_says_so() {
    let w = Tensor::from_vec(vec![0.5f32; 4000], &[1000, 4]).requires_grad_();
    let x = Tensor::from_vec(vec![1.0f32; 4000], &[1000, 4]);
    let h = x.mul(&w); // read by nothing below: `add` needs only shapes
    let kept = h.clone();
    let loss = h.add(&x).sum();
    drop(h);
    assert_eq!(unread_bytes(&loss), 4000 * 4, "the user's handle keeps h");
    assert_eq!(kept.to_vec().len(), 4000);
    drop(kept);
    assert_eq!(
        unread_bytes(&loss),
        0,
        "the last handle gone, the elements are freed"
    );
    loss.backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![1.0f32; 4000]);
}
