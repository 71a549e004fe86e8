//! f64 gradient checks of the convolution-network ops over the grid of configurations:
//! kernel 1, 3, 5; stride 1, 2; padding 0, 1, 2; dilation 1, 2 (conv); batch 1 and 3;
//! channels 1, 2, 3; a non-square 7×5 input.

mod common;
use common::{head, rand64, rng};
use rand::seq::SliceRandom;
use stitch::ops::{BatchNormOptions, Conv2dOptions};
use stitch::{assert_gradcheck, Tensor};

#[test]
fn gradcheck_conv2d_over_the_grid() {
    let mut checked = 0;
    for kernel in [1, 3, 5] {
        for stride in [1, 2] {
            for padding in [0, 1, 2] {
                for dilation in [1, 2] {
                    for n in [1, 3] {
                        for c in [1, 2, 3] {
                            let (h, w) = (7, 5);
                            let eff = dilation * (kernel - 1) + 1;
                            if eff > h + 2 * padding || eff > w + 2 * padding {
                                continue;
                            }
                            let seed = checked as u64;
                            let x = rand64(&[n, c, h, w], seed);
                            let wt = rand64(&[2, c, kernel, kernel], seed + 1000);
                            let b = rand64(&[2], seed + 2000);
                            let opts = Conv2dOptions::square(stride, padding, dilation);
                            assert_gradcheck(
                                |t| head(&t[0].conv2d(&t[1], Some(&t[2]), opts), seed),
                                &[x, wt, b],
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 150, "{checked} configurations");
}

#[test]
fn gradcheck_conv2d_without_bias_and_non_square_kernels() {
    let x = rand64(&[2, 3, 6, 7], 1);
    let w = rand64(&[4, 3, 3, 2], 2);
    let opts = Conv2dOptions {
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 2],
        ..Conv2dOptions::default()
    };
    assert_gradcheck(|t| head(&t[0].conv2d(&t[1], None, opts), 3), &[x, w]);
}

/// Values that are all distinct by at least 0.01, so no window has a near-tie that a
/// finite-difference step of 1e-6 could flip.
fn distinct(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    // Offset by half a step so no value sits at ReLU's kink at 0 either.
    let mut v: Vec<f64> = (0..n)
        .map(|i| (i as f64 - (n / 2) as f64) * 0.01 + 0.003)
        .collect();
    v.shuffle(&mut rng(seed));
    Tensor::from_vec(v, shape)
}

#[test]
fn gradcheck_max_pool2d_over_the_grid() {
    let mut checked = 0;
    for kernel in [1, 2, 3, 5] {
        for stride in [1, 2] {
            for padding in [0, 1, 2] {
                if padding > kernel / 2 || kernel > 5 + 2 * padding {
                    continue;
                }
                for n in [1, 3] {
                    for c in [1, 2, 3] {
                        let seed = checked as u64;
                        let x = distinct(&[n, c, 7, 5], seed);
                        let k = [kernel; 2];
                        assert_gradcheck(
                            |t| head(&t[0].max_pool2d(k, [stride; 2], [padding; 2]), seed),
                            std::slice::from_ref(&x),
                        );
                        assert_gradcheck(
                            |t| head(&t[0].max_pool2d_relu(k, [stride; 2], [padding; 2]), seed),
                            &[x],
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 60, "{checked}");
}

#[test]
fn fused_max_pool_relu_equals_relu_then_max_pool() {
    let x = rand64(&[3, 2, 8, 6], 5).mul_scalar(2.0).requires_grad_();
    let a = x.max_pool2d_relu([2, 2], [2, 2], [0, 0]);
    let b = x.relu().max_pool2d([2, 2], [2, 2], [0, 0]);
    assert_eq!(a.to_vec(), b.to_vec());
    let r = rand64(a.shape(), 6);
    a.mul(&r).sum().backward();
    let ga = x.grad().unwrap().to_vec();
    x.zero_grad();
    b.mul(&r).sum().backward();
    assert_eq!(ga, x.grad().unwrap().to_vec());
}

#[test]
fn max_pool_ties_send_the_gradient_to_the_first_element_only() {
    let x = Tensor::<f64>::full(&[1, 1, 2, 2], 3.0).requires_grad_();
    x.max_pool2d([2, 2], [2, 2], [0, 0]).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn gradcheck_batch_norm_training_and_eval() {
    for (i, shape) in [
        vec![1, 2, 3, 3],
        vec![3, 1, 7, 5],
        vec![3, 3, 2, 1],
        vec![4, 3],
        vec![2, 1],
    ]
    .into_iter()
    .enumerate()
    {
        let c = shape[1];
        let seed = i as u64 * 10;
        let x = rand64(&shape, seed).mul_scalar(2.0).add_scalar(0.3);
        let w = rand64(&[c], seed + 1).add_scalar(1.5);
        let b = rand64(&[c], seed + 2);
        let (rm, rv) = (Tensor::<f64>::zeros(&[c]), Tensor::<f64>::ones(&[c]));
        let opts = BatchNormOptions::default();
        assert_gradcheck(
            |t| head(&t[0].batch_norm(&t[1], &t[2], &rm, &rv, true, opts), seed),
            &[x.clone(), w.clone(), b.clone()],
        );
        let (rm, rv) = (
            rand64(&[c], seed + 3),
            rand64(&[c], seed + 4).add_scalar(2.0),
        );
        assert_gradcheck(
            |t| head(&t[0].batch_norm(&t[1], &t[2], &rm, &rv, false, opts), seed),
            &[x, w, b],
        );
    }
}

#[test]
fn gradcheck_dropout_with_a_fixed_key() {
    for (i, shape) in [vec![5], vec![2, 3, 4, 1], vec![1, 1]]
        .into_iter()
        .enumerate()
    {
        for p in [0.0, 0.3, 0.5] {
            assert_gradcheck(
                |t| head(&t[0].dropout(p, 42 + i as u64), i as u64),
                &[rand64(&shape, i as u64)],
            );
        }
    }
}

#[test]
fn dropout_f32_gradient_is_the_kernels_in_gs_own_buffer() {
    // The f32 backward runs in place on G (SIMD and rayon at this length): it must equal
    // the out-of-place kernel bit for bit. G of y is w exactly (∂ sum(y · w) / ∂y = 1 · w).
    let n = 300_001;
    let x = Tensor::<f32>::from_vec((0..n).map(|i| (i % 97) as f32 - 48.0).collect(), &[n])
        .requires_grad_();
    let w: Vec<f32> = (0..n)
        .map(|i| ((i * 31) % 89) as f32 * 0.25 - 11.0)
        .collect();
    x.dropout(0.3, 1234)
        .mul(&Tensor::from_vec(w.clone(), &[n]))
        .sum()
        .backward();
    let mut want = vec![0.0f32; n];
    stitch_kernels::dropout::dropout_backward(&mut want, &w, 0.3, 1234);
    let got = x.grad().expect("x has a gradient").to_vec();
    assert!(want
        .iter()
        .zip(&got)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(
        got.iter().filter(|&&v| v == 0.0).count() > n / 5,
        "some were dropped"
    );
}

#[test]
#[should_panic(expected = "dropout: probability p = 1 must be in [0, 1)")]
fn dropout_refuses_p_of_one() {
    let _ = rand64(&[3], 1).dropout(1.0, 0);
}

#[test]
#[should_panic(
    expected = "batch_norm: weight [3] does not match the 2 channels of input [4, 2, 3, 3]"
)]
fn batch_norm_reports_mismatched_channels() {
    let x = rand64(&[4, 2, 3, 3], 1);
    let _ = x.batch_norm(
        &Tensor::ones(&[3]),
        &Tensor::zeros(&[2]),
        &Tensor::zeros(&[2]),
        &Tensor::ones(&[2]),
        true,
        BatchNormOptions::default(),
    );
}

#[test]
#[should_panic(expected = "conv2d: input [1, 2, 5, 5] and weight [4, 3, 3, 3]")]
fn conv2d_reports_mismatched_channels() {
    let _ =
        rand64(&[1, 2, 5, 5], 1).conv2d(&rand64(&[4, 3, 3, 3], 2), None, Conv2dOptions::default());
}

/// The gradients of `params`, each then zeroed for the next run.
fn take_grads(params: &[&Tensor<f32>]) -> Vec<Vec<f32>> {
    params
        .iter()
        .map(|t| {
            let g = t.grad().unwrap().to_vec();
            t.zero_grad();
            g
        })
        .collect()
}

#[test]
fn fused_conv_relu_pool_keeps_the_asked_algorithm_bits() {
    // The fused kernels run `Auto`'s choice of convolution kernels: with another algorithm
    // asked for, the op must give what the three ops give under that algorithm, bit for bit
    // (a 32-channel layer at 14×14, where `Auto` picks Winograd or the planes for some
    // passes and `Direct` the direct kernels).
    use stitch::ops::ConvAlgo;
    let to32 = |t: Tensor<f64>| t.cast::<f32>();
    for algo in [
        ConvAlgo::Auto,
        ConvAlgo::Direct,
        ConvAlgo::Winograd,
        ConvAlgo::Im2col,
    ] {
        let x = to32(rand64(&[2, 32, 14, 14], 11)).requires_grad_();
        let w = to32(rand64(&[32, 32, 3, 3], 12)).requires_grad_();
        let b = to32(rand64(&[32], 13)).requires_grad_();
        let opts = Conv2dOptions {
            algo,
            ..Conv2dOptions::square(1, 1, 1)
        };
        let r = to32(rand64(&[2, 32, 7, 7], 14));
        let run = |fused: bool| {
            let y = if fused {
                x.conv2d_relu_max_pool2d(&w, Some(&b), opts)
            } else {
                x.conv2d(&w, Some(&b), opts)
                    .relu()
                    .max_pool2d([2, 2], [2, 2], [0, 0])
            };
            y.mul(&r).sum().backward();
            (y.to_vec(), take_grads(&[&x, &w, &b]))
        };
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0, plain.0, "values {algo:?}");
        for (j, (a, b)) in fused.1.iter().zip(&plain.1).enumerate() {
            assert_eq!(a, b, "gradient {j} {algo:?}");
        }
    }
}

#[test]
fn fused_conv_relu_pool_equals_the_three_ops_in_f32() {
    // f32 takes the fused kernel on an AVX-512 CPU; the composition is the reference.
    for (n, c, k, h) in [(3, 8, 5, 14), (2, 1, 4, 28), (9, 9, 16, 6)] {
        let to32 = |t: Tensor<f64>| t.cast::<f32>();
        let x = to32(rand64(&[n, c, h, h], 1)).requires_grad_();
        let w = to32(rand64(&[k, c, 3, 3], 2)).requires_grad_();
        let b = to32(rand64(&[k], 3)).requires_grad_();
        let opts = Conv2dOptions::square(1, 1, 1);
        let r = to32(rand64(&[n, k, h / 2, h / 2], 4));
        let fused = x.conv2d_relu_max_pool2d(&w, Some(&b), opts);
        fused.mul(&r).sum().backward();
        let grads_fused = take_grads(&[&x, &w, &b]);
        let plain = x
            .conv2d(&w, Some(&b), opts)
            .relu()
            .max_pool2d([2, 2], [2, 2], [0, 0]);
        assert_eq!(fused.to_vec(), plain.to_vec(), "values, n={n} c={c}");
        plain.mul(&r).sum().backward();
        for (name, (t, g)) in ["x", "w", "b"]
            .iter()
            .zip([&x, &w, &b].iter().zip(&grads_fused))
        {
            let want = t.grad().unwrap().to_vec();
            let worst = want
                .iter()
                .zip(g)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-5 * want.iter().fold(1.0f32, |m, v| m.max(v.abs())),
                "∂{name} n={n} c={c}: {worst}"
            );
        }
    }
}

#[test]
fn gradcheck_conv2d_relu_max_pool2d() {
    // In f64 the op composes conv2d, max_pool2d_relu: the same graph the fused kernel replaces.
    let x = rand64(&[2, 3, 6, 6], 11);
    let w = rand64(&[4, 3, 3, 3], 12);
    let b = rand64(&[4], 13);
    let opts = Conv2dOptions::square(1, 1, 1);
    assert_gradcheck(
        |t| head(&t[0].conv2d_relu_max_pool2d(&t[1], Some(&t[2]), opts), 5),
        &[x, w, b],
    );
}

#[test]
fn fused_conv_relu_equals_the_two_ops_bitwise() {
    // The ladder's conv step (1 → 32 at 28 × 28, where AVX-512 runs the direct kernels and
    // rectifies each image in cache), a wider layer at 14 × 14 and an odd 7 × 5 one, every
    // algorithm, with and without ∂x: the values and every gradient are the same bits as
    // conv2d then relu.
    use stitch::ops::ConvAlgo;
    let to32 = |t: Tensor<f64>| t.cast::<f32>();
    for (n, c, k, h, w_) in [(3, 1, 32, 28, 28), (2, 16, 24, 14, 14), (1, 3, 5, 7, 5)] {
        for algo in [
            ConvAlgo::Auto,
            ConvAlgo::Direct,
            ConvAlgo::Winograd,
            ConvAlgo::Im2col,
        ] {
            for x_grad in [false, true] {
                let mut x = to32(rand64(&[n, c, h, w_], 21));
                if x_grad {
                    x = x.requires_grad_();
                }
                let w = to32(rand64(&[k, c, 3, 3], 22)).requires_grad_();
                let b = to32(rand64(&[k], 23)).requires_grad_();
                let opts = Conv2dOptions {
                    algo,
                    ..Conv2dOptions::square(1, 1, 1)
                };
                let r = to32(rand64(&[n, k, h, w_], 24));
                let run = |fused: bool| {
                    let y = if fused {
                        x.conv2d_relu(&w, Some(&b), opts)
                    } else {
                        x.conv2d(&w, Some(&b), opts).relu()
                    };
                    y.mul(&r).sum().backward();
                    let mut grads = take_grads(&[&w, &b]);
                    if x_grad {
                        grads.extend(take_grads(&[&x]));
                    }
                    (y.to_vec(), grads)
                };
                let (fused, plain) = (run(true), run(false));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fused.0), bits(&plain.0), "values {algo:?} c={c}");
                assert!(fused.0.contains(&0.0) && fused.0.iter().any(|&v| v > 0.0));
                for (j, (a, b)) in fused.1.iter().zip(&plain.1).enumerate() {
                    assert_eq!(bits(a), bits(b), "gradient {j} {algo:?} c={c}");
                }
            }
        }
    }
}

#[test]
fn gradcheck_conv2d_relu() {
    let x = rand64(&[2, 2, 6, 5], 31);
    let w = rand64(&[3, 2, 3, 3], 32);
    let b = rand64(&[3], 33);
    for opts in [
        Conv2dOptions::square(1, 1, 1),
        Conv2dOptions::square(2, 0, 1),
    ] {
        assert_gradcheck(
            |t| head(&t[0].conv2d_relu(&t[1], Some(&t[2]), opts), 5),
            &[x.clone(), w.clone(), b.clone()],
        );
    }
}

#[test]
fn fused_batch_norm_relu_pool_equals_the_three_ops_in_f32() {
    // f32 in training mode takes the fused kernel; `no_fusion` runs batch_norm → relu →
    // max_pool2d. Values, every gradient and the running statistics must be the same bits.
    // Shapes: batch 1, planes 1×1, 7×7 (odd: a pooled edge is dropped), 17×17, 14 and 28
    // (the ladder's), 3×3 windows with stride 2 and padding 1.
    type Window = [usize; 2];
    let cases: [([usize; 4], Window, Window, Window); 7] = [
        ([4, 3, 28, 28], [2, 2], [2, 2], [0, 0]),
        ([3, 5, 14, 14], [2, 2], [2, 2], [0, 0]),
        ([1, 2, 7, 7], [2, 2], [2, 2], [0, 0]),
        ([2, 3, 17, 17], [2, 2], [2, 2], [0, 0]),
        ([5, 2, 1, 1], [1, 1], [1, 1], [0, 0]),
        ([2, 4, 7, 9], [3, 3], [2, 2], [1, 1]),
        ([3, 1, 6, 10], [2, 2], [2, 2], [0, 0]),
    ];
    for (i, (shape, k, s, p)) in cases.into_iter().enumerate() {
        let c = shape[1];
        let seed = 100 + 10 * i as u64;
        let to32 = |t: Tensor<f64>| t.cast::<f32>();
        let x = to32(rand64(&shape, seed).mul_scalar(2.0)).requires_grad_();
        let w = to32(rand64(&[c], seed + 1).add_scalar(1.0)).requires_grad_();
        let b = to32(rand64(&[c], seed + 2)).requires_grad_();
        let run = |fused: bool| {
            let (rm, rv) = (
                to32(rand64(&[c], seed + 3)),
                to32(rand64(&[c], seed + 4).add_scalar(2.0)),
            );
            let _off = (!fused).then(stitch::ops::no_fusion);
            let opts = BatchNormOptions::default();
            let y = x.batch_norm_relu_max_pool2d(&w, &b, &rm, &rv, true, opts, k, s, p);
            let want = if fused {
                "batch_norm_relu_max_pool2d"
            } else {
                "max_pool2d"
            };
            assert_eq!(y.grad_fn_name(), Some(want), "{shape:?}");
            let r = to32(rand64(y.shape(), seed + 5));
            y.mul(&r).sum().backward();
            let grads = take_grads(&[&x, &w, &b]);
            (y.to_vec(), grads, rm.to_vec(), rv.to_vec())
        };
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0, plain.0, "values {shape:?}");
        for (name, (a, b)) in ["x", "w", "b"].iter().zip(fused.1.iter().zip(&plain.1)) {
            assert_eq!(a, b, "∂{name} {shape:?}");
        }
        assert_eq!(
            (fused.2, fused.3),
            (plain.2, plain.3),
            "running stats {shape:?}"
        );
        // And the pair is not trivially equal: some gradient is non-zero.
        assert!(
            fused.1[0].iter().any(|&v| v != 0.0),
            "∂x all zero {shape:?}"
        );
    }
}

#[test]
fn gradcheck_batch_norm_relu_max_pool2d() {
    // In f64 the op composes batch_norm and max_pool2d_relu: the graph the fused kernel
    // replaces. Training and evaluation mode, 2×2 and 3×3/2/1 windows.
    let x = rand64(&[2, 3, 6, 6], 21).mul_scalar(2.0);
    let w = rand64(&[3], 22).add_scalar(1.5);
    let b = rand64(&[3], 23);
    for training in [true, false] {
        for (k, s, p) in [([2, 2], [2, 2], [0, 0]), ([3, 3], [2, 2], [1, 1])] {
            let (rm, rv) = (rand64(&[3], 24), rand64(&[3], 25).add_scalar(2.0));
            let opts = BatchNormOptions::default();
            assert_gradcheck(
                |t| {
                    let y = t[0].batch_norm_relu_max_pool2d(
                        &t[1], &t[2], &rm, &rv, training, opts, k, s, p,
                    );
                    head(&y, 7)
                },
                &[x.clone(), w.clone(), b.clone()],
            );
        }
    }
}

#[test]
fn fused_batch_norm_relu_equals_the_two_ops_in_f32() {
    // f32 in training mode takes the fused kernel; `no_fusion` runs batch_norm → relu.
    // Values, every gradient and the running statistics must be the same bits. Shapes:
    // batch 1, planes 1×1, 7×7, 17×17, 14×14, 28×28, non-square, and the [N, C] form.
    let cases: [&[usize]; 8] = [
        &[4, 3, 28, 28],
        &[3, 5, 14, 14],
        &[1, 2, 7, 7],
        &[2, 3, 17, 17],
        &[5, 2, 1, 1],
        &[3, 1, 6, 10],
        &[2, 16, 7, 7],
        &[9, 4],
    ];
    let mut cuts = 0;
    for (i, shape) in cases.into_iter().enumerate() {
        let c = shape[1];
        let seed = 300 + 10 * i as u64;
        let to32 = |t: Tensor<f64>| t.cast::<f32>();
        let x = to32(rand64(shape, seed).mul_scalar(2.0)).requires_grad_();
        let w = to32(rand64(&[c], seed + 1).add_scalar(1.0)).requires_grad_();
        let b = to32(rand64(&[c], seed + 2)).requires_grad_();
        let run = |fused: bool| {
            let (rm, rv) = (
                to32(rand64(&[c], seed + 3)),
                to32(rand64(&[c], seed + 4).add_scalar(2.0)),
            );
            let _off = (!fused).then(stitch::ops::no_fusion);
            let y = x.batch_norm_relu(&w, &b, &rm, &rv, true, BatchNormOptions::default());
            let want = if fused { "batch_norm_relu" } else { "relu" };
            assert_eq!(y.grad_fn_name(), Some(want), "{shape:?}");
            let r = to32(rand64(y.shape(), seed + 5));
            y.mul(&r).sum().backward();
            let grads = take_grads(&[&x, &w, &b]);
            (y.to_vec(), grads, rm.to_vec(), rv.to_vec())
        };
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0, plain.0, "values {shape:?}");
        for (name, (a, b)) in ["x", "w", "b"].iter().zip(fused.1.iter().zip(&plain.1)) {
            assert_eq!(a, b, "∂{name} {shape:?}");
        }
        assert_eq!(
            (fused.2, fused.3),
            (plain.2, plain.3),
            "running stats {shape:?}"
        );
        // The ReLU cuts somewhere (checked over all cases below), and some gradient gets
        // through.
        cuts += fused.0.iter().filter(|&&v| v == 0.0).count();
        assert!(
            fused.1[0].iter().any(|&v| v != 0.0),
            "∂x all zero {shape:?}"
        );
    }
    assert!(cuts > 100, "the ReLU zeroed only {cuts} outputs");
}

#[test]
fn gradcheck_batch_norm_relu() {
    // In f64 the op composes batch_norm and relu: the graph the fused kernel replaces.
    // Training and evaluation mode, 4-D and 2-D inputs.
    for shape in [&[2, 3, 5, 5][..], &[6, 3]] {
        let x = rand64(shape, 41).mul_scalar(2.0);
        let w = rand64(&[3], 42).add_scalar(1.5);
        let b = rand64(&[3], 43);
        for training in [true, false] {
            let (rm, rv) = (rand64(&[3], 44), rand64(&[3], 45).add_scalar(2.0));
            let opts = BatchNormOptions::default();
            assert_gradcheck(
                |t| {
                    head(
                        &t[0].batch_norm_relu(&t[1], &t[2], &rm, &rv, training, opts),
                        7,
                    )
                },
                &[x.clone(), w.clone(), b.clone()],
            );
        }
    }
}

#[test]
fn fused_batch_norm_add_relu_equals_the_two_ops_in_f32() {
    // relu(batch_norm(x) + s): fused in training mode for f32, batch_norm → add_relu with
    // fusion off. Values, the gradients of x, γ, β and the shortcut, and the running
    // statistics must be the same bits.
    let cases: [&[usize]; 6] = [
        &[4, 3, 28, 28],
        &[3, 5, 14, 14],
        &[1, 2, 7, 7],
        &[2, 3, 17, 17],
        &[5, 2, 1, 1],
        &[9, 4],
    ];
    for (i, shape) in cases.into_iter().enumerate() {
        let c = shape[1];
        let seed = 500 + 10 * i as u64;
        let to32 = |t: Tensor<f64>| t.cast::<f32>();
        let x = to32(rand64(shape, seed).mul_scalar(2.0)).requires_grad_();
        let s = to32(rand64(shape, seed + 6)).requires_grad_();
        let w = to32(rand64(&[c], seed + 1).add_scalar(1.0)).requires_grad_();
        let b = to32(rand64(&[c], seed + 2)).requires_grad_();
        let run = |fused: bool| {
            let (rm, rv) = (
                to32(rand64(&[c], seed + 3)),
                to32(rand64(&[c], seed + 4).add_scalar(2.0)),
            );
            let _off = (!fused).then(stitch::ops::no_fusion);
            let opts = BatchNormOptions::default();
            let y = x.batch_norm_add_relu(&w, &b, &rm, &rv, true, opts, &s);
            let want = if fused { "batch_norm_add_relu" } else { "relu" };
            assert_eq!(y.grad_fn_name(), Some(want), "{shape:?}");
            let r = to32(rand64(y.shape(), seed + 5));
            y.mul(&r).sum().backward();
            let grads = take_grads(&[&x, &w, &b, &s]);
            (y.to_vec(), grads, rm.to_vec(), rv.to_vec())
        };
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0, plain.0, "values {shape:?}");
        for (name, (a, b)) in ["x", "w", "b", "s"]
            .iter()
            .zip(fused.1.iter().zip(&plain.1))
        {
            assert_eq!(a, b, "∂{name} {shape:?}");
        }
        assert_eq!(
            (fused.2, fused.3),
            (plain.2, plain.3),
            "running stats {shape:?}"
        );
        assert!(
            fused.1[0].iter().any(|&v| v != 0.0),
            "∂x all zero {shape:?}"
        );
    }
}

#[test]
fn gradcheck_batch_norm_add_relu() {
    // In f64 the op composes batch_norm and add_relu; the shortcut's gradient included.
    for shape in [&[2, 3, 5, 5][..], &[6, 3]] {
        let x = rand64(shape, 51).mul_scalar(2.0);
        let s = rand64(shape, 56);
        let w = rand64(&[3], 52).add_scalar(1.5);
        let b = rand64(&[3], 53);
        for training in [true, false] {
            let (rm, rv) = (rand64(&[3], 54), rand64(&[3], 55).add_scalar(2.0));
            let opts = BatchNormOptions::default();
            assert_gradcheck(
                |t| {
                    let y = t[0].batch_norm_add_relu(&t[1], &t[2], &rm, &rv, training, opts, &t[3]);
                    head(&y, 7)
                },
                &[x.clone(), w.clone(), b.clone(), s.clone()],
            );
        }
    }
}

#[test]
fn fused_conv_batch_norm_relu_pool_equals_the_four_ops_in_f32() {
    // f32 in training mode: the convolution takes batch norm's block statistics as it writes
    // each image, and batch norm merges them instead of reading y again. `no_fusion` runs
    // conv2d → batch_norm → relu → max_pool2d. Values, every gradient and the running
    // statistics must be the same bits, on every convolution algorithm (the phase planes and
    // Winograd take the statistics per image, the others in a pass after the convolution).
    // Shapes: batch 1, 1 and 3 input channels, 7×7 and 17×17 (odd), the ladder's 1→32 @
    // 28×28 and 32→64 @ 14×14 (Winograd's under `auto` on AVX2), stride 2, padding 0/1/2,
    // a 1×1 layer, with and without bias.
    use stitch::ops::ConvAlgo;
    type Conv = ([usize; 4], usize, usize, usize, usize, bool); // x, K, kernel, stride, pad, bias
    let cases: [Conv; 7] = [
        ([3, 1, 28, 28], 32, 3, 1, 1, true),
        ([2, 32, 14, 14], 64, 3, 1, 1, false),
        ([1, 3, 7, 7], 4, 3, 1, 0, true),
        ([2, 3, 17, 17], 5, 3, 2, 2, false),
        ([2, 2, 9, 9], 3, 1, 1, 0, true),
        ([1, 2, 17, 17], 6, 3, 1, 2, true),
        ([3, 2, 7, 7], 8, 3, 1, 1, false),
    ];
    let algos = [
        ConvAlgo::Auto,
        ConvAlgo::Winograd,
        ConvAlgo::Direct,
        ConvAlgo::Im2col,
    ];
    let mut one_node = 0;
    for (i, (shape, k, r, stride, pad, with_bias)) in cases.into_iter().enumerate() {
        for algo in algos {
            let c = shape[1];
            let seed = 300 + 10 * i as u64;
            let to32 = |t: Tensor<f64>| t.cast::<f32>();
            let x = to32(rand64(&shape, seed).mul_scalar(2.0)).requires_grad_();
            let cw = to32(rand64(&[k, c, r, r], seed + 6)).requires_grad_();
            let cb = to32(rand64(&[k], seed + 7)).requires_grad_();
            let cb = with_bias.then_some(cb);
            let w = to32(rand64(&[k], seed + 1).add_scalar(1.0)).requires_grad_();
            let b = to32(rand64(&[k], seed + 2)).requires_grad_();
            let conv = Conv2dOptions {
                stride: [stride; 2],
                padding: [pad; 2],
                algo,
                ..Default::default()
            };
            let run = |fused: bool| {
                let (rm, rv) = (
                    to32(rand64(&[k], seed + 3)),
                    to32(rand64(&[k], seed + 4).add_scalar(2.0)),
                );
                let _off = (!fused).then(stitch::ops::no_fusion);
                let opts = BatchNormOptions::default();
                let (p2, z) = ([2, 2], [0, 0]);
                let y = x.conv2d_batch_norm_relu_max_pool2d(
                    &cw,
                    cb.as_ref(),
                    conv,
                    &w,
                    &b,
                    &rm,
                    &rv,
                    true,
                    opts,
                    p2,
                    p2,
                    z,
                );
                let node = y.grad_fn_name();
                let r = to32(rand64(y.shape(), seed + 5));
                y.mul(&r).sum().backward();
                let mut params = vec![&x, &cw, &w, &b];
                params.extend(cb.as_ref());
                let grads = take_grads(&params);
                (y.to_vec(), grads, rm.to_vec(), rv.to_vec(), node)
            };
            let (fused, plain) = (run(true), run(false));
            let at = format!("{shape:?} → {k}, {r}×{r}/{stride}/{pad}, {algo:?}");
            if fused.4 == Some("conv2d_batch_norm_relu_max_pool2d") {
                one_node += 1;
            }
            assert_eq!(fused.0, plain.0, "values {at}");
            for (j, (a, b)) in fused.1.iter().zip(&plain.1).enumerate() {
                assert_eq!(a, b, "gradient {j} {at}");
            }
            assert_eq!((&fused.2, &fused.3), (&plain.2, &plain.3), "running {at}");
            assert!(fused.1[0].iter().any(|&v| v != 0.0), "∂x all zero {at}");
        }
    }
    // The ladder's 32 → 64 @ 14×14 block is one node (its backward forming batch norm's
    // input gradient inside the convolution's) wherever a SIMD level runs the kernels.
    if stitch_kernels::isa::isa() != stitch_kernels::isa::Isa::Scalar {
        assert!(one_node >= 1, "no case took the one-node block");
    }
}

#[test]
fn gradcheck_conv2d_batch_norm_relu_max_pool2d() {
    // In f64 the op composes conv2d and batch_norm_relu_max_pool2d. Training and
    // evaluation mode, with a bias, stride 1 padding 1.
    let x = rand64(&[2, 2, 6, 6], 31);
    let cw = rand64(&[3, 2, 3, 3], 32);
    let cb = rand64(&[3], 33);
    let w = rand64(&[3], 34).add_scalar(1.5);
    let b = rand64(&[3], 35);
    for training in [true, false] {
        let (rm, rv) = (rand64(&[3], 36), rand64(&[3], 37).add_scalar(2.0));
        let conv = Conv2dOptions {
            padding: [1, 1],
            ..Default::default()
        };
        assert_gradcheck(
            |t| {
                let y = t[0].conv2d_batch_norm_relu_max_pool2d(
                    &t[1],
                    Some(&t[2]),
                    conv,
                    &t[3],
                    &t[4],
                    &rm,
                    &rv,
                    training,
                    BatchNormOptions::default(),
                    [2, 2],
                    [2, 2],
                    [0, 0],
                );
                head(&y, 7)
            },
            &[x.clone(), cw.clone(), cb.clone(), w.clone(), b.clone()],
        );
    }
}

#[test]
fn fused_conv_batch_norm_relu_and_add_relu_equal_their_ops_in_f32() {
    // The residual block's halves, conv → BN → ReLU and conv → BN (+ shortcut) → ReLU, with
    // batch norm's statistics taken by the convolution, against `no_fusion`'s conv2d →
    // batch_norm → relu / add → relu: the same bits (values, every gradient including the
    // shortcut's, running statistics) on every convolution algorithm. Shapes: resnet20's
    // 16→16 @ 28×28 and 32→32 @ 14×14 (Winograd's under `auto` on AVX2), its stride-2 and
    // 1×1 stride-2 layers, batch 1, 7×7 and 17×17, padding 0/2.
    use stitch::ops::ConvAlgo;
    type Conv = ([usize; 4], usize, usize, usize, usize, bool); // x, K, kernel, stride, pad, bias
    let cases: [Conv; 6] = [
        ([2, 16, 28, 28], 16, 3, 1, 1, false),
        ([2, 32, 14, 14], 32, 3, 1, 1, false),
        ([2, 16, 28, 28], 32, 3, 2, 1, false),
        ([2, 16, 28, 28], 32, 1, 2, 0, false),
        ([1, 3, 7, 7], 5, 3, 1, 0, true),
        ([2, 2, 17, 17], 4, 3, 1, 2, true),
    ];
    let algos = [
        ConvAlgo::Auto,
        ConvAlgo::Winograd,
        ConvAlgo::Direct,
        ConvAlgo::Im2col,
    ];
    for (i, (shape, k, r, stride, pad, with_bias)) in cases.into_iter().enumerate() {
        for algo in algos {
            for add in [false, true] {
                let c = shape[1];
                let seed = 500 + 10 * i as u64;
                let to32 = |t: Tensor<f64>| t.cast::<f32>();
                let x = to32(rand64(&shape, seed).mul_scalar(2.0)).requires_grad_();
                let cw = to32(rand64(&[k, c, r, r], seed + 6)).requires_grad_();
                let cb = with_bias.then(|| to32(rand64(&[k], seed + 7)).requires_grad_());
                let w = to32(rand64(&[k], seed + 1).add_scalar(1.0)).requires_grad_();
                let b = to32(rand64(&[k], seed + 2)).requires_grad_();
                let conv = Conv2dOptions {
                    stride: [stride; 2],
                    padding: [pad; 2],
                    algo,
                    ..Default::default()
                };
                let out = (shape[2] + 2 * pad - r) / stride + 1;
                let s = to32(rand64(&[shape[0], k, out, out], seed + 8)).requires_grad_();
                let run = |fused: bool| {
                    let (rm, rv) = (
                        to32(rand64(&[k], seed + 3)),
                        to32(rand64(&[k], seed + 4).add_scalar(2.0)),
                    );
                    let _off = (!fused).then(stitch::ops::no_fusion);
                    let opts = BatchNormOptions::default();
                    let (cb, t) = (cb.as_ref(), true);
                    let y = if add {
                        x.conv2d_batch_norm_add_relu(&cw, cb, conv, &w, &b, &rm, &rv, t, opts, &s)
                    } else {
                        x.conv2d_batch_norm_relu(&cw, cb, conv, &w, &b, &rm, &rv, t, opts)
                    };
                    let r = to32(rand64(y.shape(), seed + 5));
                    y.mul(&r).sum().backward();
                    let mut params = vec![&x, &cw, &w, &b, &s];
                    params.extend(cb);
                    let grads: Vec<Option<Vec<f32>>> = params
                        .iter()
                        .map(|t| t.grad().map(|g| g.to_vec()))
                        .collect();
                    for t in params {
                        t.zero_grad();
                    }
                    (y.to_vec(), grads, rm.to_vec(), rv.to_vec())
                };
                let (fused, plain) = (run(true), run(false));
                let at = format!("{shape:?} → {k}, {r}×{r}/{stride}/{pad}, {algo:?}, add {add}");
                assert_eq!(fused.0, plain.0, "values {at}");
                for (j, (a, b)) in fused.1.iter().zip(&plain.1).enumerate() {
                    assert_eq!(a, b, "gradient {j} {at}");
                }
                assert_eq!((&fused.2, &fused.3), (&plain.2, &plain.3), "running {at}");
                let dx = fused.1[0].as_ref().expect("∂x");
                assert!(dx.iter().any(|&v| v != 0.0), "∂x all zero {at}");
            }
        }
    }
}

#[test]
fn gradcheck_conv2d_batch_norm_relu_and_add_relu() {
    // In f64 the ops compose conv2d and batch_norm_relu / batch_norm_add_relu. Training and
    // evaluation mode, no bias, stride 2 padding 1.
    let x = rand64(&[2, 2, 6, 6], 41);
    let cw = rand64(&[3, 2, 3, 3], 42);
    let w = rand64(&[3], 44).add_scalar(1.5);
    let b = rand64(&[3], 45);
    let s = rand64(&[2, 3, 3, 3], 46);
    let conv = Conv2dOptions {
        stride: [2, 2],
        padding: [1, 1],
        ..Default::default()
    };
    for training in [true, false] {
        let (rm, rv) = (rand64(&[3], 47), rand64(&[3], 48).add_scalar(2.0));
        let opts = BatchNormOptions::default();
        assert_gradcheck(
            |t| {
                let y = t[0].conv2d_batch_norm_relu(
                    &t[1], None, conv, &t[2], &t[3], &rm, &rv, training, opts,
                );
                head(&y, 7)
            },
            &[x.clone(), cw.clone(), w.clone(), b.clone()],
        );
        assert_gradcheck(
            |t| {
                let y = t[0].conv2d_batch_norm_add_relu(
                    &t[1], None, conv, &t[2], &t[3], &rm, &rv, training, opts, &t[4],
                );
                head(&y, 7)
            },
            &[x.clone(), cw.clone(), w.clone(), b.clone(), s.clone()],
        );
    }
}
