//! The graph: accumulation over paths, no_grad, detach, and the errors of backward.

mod common;
use common::rand64;
use stitch::{no_grad, BackwardError, Tensor};

#[test]
fn a_tensor_used_twice_receives_the_sum_of_both_paths() {
    // y = x·x + 3x  ⇒  dy/dx = 2x + 3
    let x = Tensor::from_vec(vec![2.0f64, -1.0], &[2]).requires_grad_();
    let y = x.mul(&x).add(&x.mul_scalar(3.0)).sum();
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![7.0, 1.0]);
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zeroed() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_();
    x.mul_scalar(2.0).sum().backward();
    x.mul_scalar(2.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 4.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn backward_on_a_non_scalar_is_an_error() {
    let x = rand64(&[3], 1).requires_grad_();
    let y = x.exp();
    assert_eq!(
        y.try_backward(),
        Err(BackwardError::NotScalar { shape: vec![3] })
    );
}

#[test]
#[should_panic(expected = "needs a scalar")]
fn backward_on_a_non_scalar_panics_with_a_clear_message() {
    rand64(&[2, 2], 1).requires_grad_().exp().backward();
}

#[test]
fn second_backward_through_a_freed_graph_is_an_error() {
    let x = rand64(&[3], 1).requires_grad_();
    let loss = x.exp().sum();
    loss.backward();
    let g = x.grad().unwrap().to_vec();
    match loss.try_backward() {
        Err(BackwardError::GraphFreed { .. }) => {}
        other => panic!("expected GraphFreed, got {other:?}"),
    }
    // The failed call added nothing.
    assert_eq!(x.grad().unwrap().to_vec(), g);
}

#[test]
fn no_grad_records_nothing_and_keeps_nothing_alive() {
    let x = rand64(&[3], 1).requires_grad_();
    let y = {
        let _g = no_grad();
        x.exp().sum()
    };
    assert!(!y.requires_grad());
    assert!(y.grad_fn_name().is_none());
    assert_eq!(y.try_backward(), Err(BackwardError::NoGraph));
    // Recording is back on after the guard.
    assert!(x.exp().sum().requires_grad());
}

#[test]
fn detach_stops_gradients_and_shares_storage() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_();
    let d = x.detach();
    assert!(d.shares_storage(&x) && !d.requires_grad());
    x.mul(&d).sum().backward(); // d/dx (x · const) = const
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 2.0]);
}

#[test]
fn reshape_and_flatten_copy_nothing() {
    let x = rand64(&[2, 3, 4], 1);
    assert!(x.reshape(&[6, 4]).shares_storage(&x));
    assert!(x.flatten_from(1).shares_storage(&x));
    assert_eq!(x.flatten_from(1).shape(), &[2, 12]);
}

#[test]
fn intermediate_buffers_are_released_after_backward() {
    let x = rand64(&[1000], 1).requires_grad_();
    let h = x.exp();
    let weak = std::sync::Arc::downgrade(&h.storage_handle());
    let loss = h.relu().sum();
    drop(h);
    assert!(
        weak.upgrade().is_some(),
        "the graph keeps exp's output alive before backward"
    );
    loss.backward();
    assert!(
        weak.upgrade().is_none(),
        "backward must free what the graph saved"
    );
}

#[test]
fn set_requires_grad_on_an_op_output_panics() {
    let r = std::panic::catch_unwind(|| {
        let x = rand64(&[2], 1).requires_grad_();
        x.exp().set_requires_grad(false);
    });
    assert!(r.is_err());
}
