//! Constructors, accessors and printing.

mod common;
use common::rng;
use stitch::Tensor;

#[test]
fn constructors_fill_and_count() {
    let z = Tensor::<f32>::zeros(&[2, 3]);
    assert_eq!((z.shape(), z.numel(), z.ndim()), (&[2usize, 3][..], 6, 2));
    assert!(z.to_vec().iter().all(|&v| v == 0.0));
    assert!(Tensor::<f64>::ones(&[4]).to_vec().iter().all(|&v| v == 1.0));
    assert_eq!(Tensor::<f32>::full(&[1, 2], 7.5).to_vec(), vec![7.5, 7.5]);
    assert_eq!(Tensor::<f32>::scalar(3.0).item(), 3.0);
    assert_eq!(Tensor::<f32>::zeros(&[0, 5]).numel(), 0);
}

#[test]
fn from_vec_checks_the_length() {
    let e = Tensor::<f32>::try_from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        e,
        "from_vec: shape [2, 3] holds 6 elements, but the data has 5"
    );
}

#[test]
#[should_panic(expected = "item: tensor of shape [2] has 2 elements, expected 1")]
fn item_needs_one_element() {
    Tensor::<f32>::zeros(&[2]).item();
}

#[test]
fn random_constructors_are_seeded_and_have_the_right_moments() {
    let a = Tensor::<f32>::randn(&[100_000], 0.0, 2.0, &mut rng(1));
    let b = Tensor::<f32>::randn(&[100_000], 0.0, 2.0, &mut rng(1));
    assert_eq!(a.to_vec(), b.to_vec());
    let v = a.to_vec();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(
        mean.abs() < 0.03 && (var.sqrt() - 2.0).abs() < 0.03,
        "mean {mean}, std {}",
        var.sqrt()
    );
    let u = Tensor::<f64>::rand_uniform(&[10_000], -1.0, 3.0, &mut rng(2)).to_vec();
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
}

#[test]
fn display_reads_like_pytorch() {
    let t = Tensor::from_vec(vec![1.0f32, 2.5, -3.0, 4.0], &[2, 2]);
    assert_eq!(
        format!("{t}"),
        "tensor([[1.0000, 2.5000],\n        [-3.0000, 4.0000]], shape=[2, 2], dtype=f32)"
    );
    let p = Tensor::<f64>::zeros(&[2]).requires_grad_();
    assert_eq!(
        format!("{p:?}"),
        "tensor([0.0000, 0.0000], shape=[2], dtype=f64, requires_grad=true)"
    );
    assert!(format!("{}", p.exp()).ends_with("grad_fn=exp)"));
}

#[test]
fn display_summarizes_big_tensors() {
    let t = Tensor::<f32>::zeros(&[2000]);
    let s = format!("{t}");
    assert!(s.contains("..."), "{s}");
    assert!(s.len() < 200, "{s}");
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [2] cannot be broadcast together")]
fn shape_mismatch_names_op_and_shapes() {
    let _ = Tensor::<f32>::zeros(&[2, 3]).add(&Tensor::zeros(&[2]));
}

#[test]
#[should_panic(expected = "matmul: shapes [2, 3] and [2, 3] do not chain")]
fn matmul_mismatch_names_shapes() {
    let _ = Tensor::<f32>::zeros(&[2, 3]).matmul(&Tensor::zeros(&[2, 3]));
}

#[test]
#[should_panic(expected = "cross_entropy: target 3 at index 1 is outside 0..3")]
fn cross_entropy_target_out_of_range() {
    let _ = Tensor::<f32>::zeros(&[2, 3]).cross_entropy(&[0, 3]);
}

#[test]
fn forward_values_are_right() {
    let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = Tensor::from_vec(vec![10.0f64, 20.0, 30.0], &[3]);
    assert_eq!(a.add(&b).to_vec(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    assert_eq!(a.t().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(a.sum_axis(0, false).to_vec(), vec![5.0, 7.0, 9.0]);
    assert_eq!(a.mean_axis(1, true).shape(), &[2, 1]);
    assert_eq!(a.mean_axis(1, true).to_vec(), vec![2.0, 5.0]);
    let m = a.matmul(&a.t());
    assert_eq!(m.to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
    assert_eq!(a.argmax(), vec![2, 2]);
    let ls = Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]).log_softmax();
    assert!((ls.to_vec()[0] + std::f64::consts::LN_2).abs() < 1e-15);
    // cross-entropy of uniform logits over C classes is ln C.
    let ce = Tensor::<f64>::zeros(&[3, 4])
        .cross_entropy(&[0, 1, 3])
        .item();
    assert!((ce - 4f64.ln()).abs() < 1e-15);
    // stable for huge logits
    let big = Tensor::from_vec(vec![1000.0f64, 0.0], &[1, 2])
        .cross_entropy(&[1])
        .item();
    assert!((big - 1000.0).abs() < 1e-9);
    assert_eq!(stitch::ops::accuracy(&a, &[2, 0]), 50.0);
}
