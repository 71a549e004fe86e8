//! The README's library example, kept compiling and passing.

use stitch::{assert_gradcheck, Tensor};

#[test]
fn readme_library_example() {
    let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, 0.5], &[2, 2]).requires_grad_();
    let w = Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 1.0], &[2, 2]).requires_grad_();
    let loss = x.matmul(&w).relu().sum(); // records the graph as it runs
    loss.backward(); // walks it once, in reverse
    println!("{}", w.grad().unwrap()); // tensor([[...]], shape=[2, 2], dtype=f32)

    // The same expression, checked against central finite differences in f64.
    let x64 = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0, 0.5], &[2, 2]);
    let w64 = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0, 1.0], &[2, 2]);
    assert_gradcheck(|t| t[0].matmul(&t[1]).relu().sum(), &[x64, w64]);

    // x·w = [[-3.5, -3], [2.5, -2.5]]: only (1, 0) is positive, so ∂loss/∂w = column 0 of
    // the upstream mask times x's row 1.
    assert_eq!(w.grad().unwrap().to_vec(), vec![3.0, 0.0, 0.5, 0.0]);
}
