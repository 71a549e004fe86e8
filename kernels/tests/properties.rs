//! Property tests: on random shapes and arguments (proptest shrinks any failure to the
//! smallest one), every fast kernel equals its reference loop: bitwise where both do the
//! same arithmetic (max-pool, dropout), within f32 summation error elsewhere.

mod common;

use common::{data, normwise};
use proptest::prelude::*;
use stitch_kernels::batch_norm::{self, BatchNormParams, BatchNormShape};
use stitch_kernels::conv2d::{self, fast::ConvAlgo, Conv2dShape};
use stitch_kernels::max_pool2d::{self, Pool2dShape};
use stitch_kernels::{dropout, elementwise};

/// f32 sums of up to a few thousand terms in another order: this normwise bound holds with
/// a wide margin (the f64-checked tests in conv2d.rs and batch_norm.rs are tighter).
const TOL: f32 = 1e-4;

fn conv_shape() -> impl Strategy<Value = Conv2dShape> {
    (
        (1usize..4, 1usize..6, 1usize..13, 1usize..13, 1usize..9),
        (1usize..6, 1usize..6, 1usize..3, 0usize..3, 1usize..3),
    )
        .prop_map(|((n, c, h, w, k), (r, s, stride, pad, dil))| Conv2dShape {
            n,
            c,
            h,
            w,
            k,
            r,
            s,
            stride: [stride, stride],
            padding: [pad, pad],
            dilation: [dil, dil],
        })
        .prop_filter("the kernel must fit the padded input", |sh| {
            sh.validate().is_ok()
        })
}

fn pool_shape() -> impl Strategy<Value = Pool2dShape> {
    (
        1usize..4,
        1usize..5,
        1usize..12,
        1usize..12,
        1usize..4,
        1usize..4,
        0usize..2,
    )
        .prop_map(|(n, c, h, w, k, s, p)| Pool2dShape::square(n, c, h, w, k, s, p))
        .prop_filter("a valid pooling", |sh| sh.validate().is_ok())
}

proptest! {
    // A fixed seed: CI runs the same 64 cases every time (a failure is reproducible, and
    // nothing is written next to the sources).
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5717C4),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn conv2d_fast_equals_reference(sh in conv_shape(), seed in 0u64..1000, bias in any::<bool>()) {
        let x = data(sh.input_len(), seed);
        let w = data(sh.weight_len(), seed + 1);
        let b = data(sh.k, seed + 2);
        let g = data(sh.output_len(), seed + 3);
        let bias = bias.then_some(&b[..]);
        let mut want = vec![0.0f32; sh.output_len()];
        conv2d::reference::conv2d_forward(&mut want, &x, &w, bias, &sh);
        let mut want_dx = vec![0.0f32; sh.input_len()];
        conv2d::reference::conv2d_backward_input(&mut want_dx, &g, &w, &sh);
        let mut want_dw = vec![0.0f32; sh.weight_len()];
        conv2d::reference::conv2d_backward_weight(&mut want_dw, &g, &x, &sh);
        for algo in [ConvAlgo::Auto, ConvAlgo::Im2col] {
            let mut y = vec![f32::NAN; sh.output_len()];
            conv2d::fast::conv2d_forward_with(algo, &mut y, &x, &w, bias, &sh);
            prop_assert!(normwise(&y, &want).1 <= TOL, "{algo:?} forward {sh:?}: {:?}", normwise(&y, &want));
            let mut dx = vec![f32::NAN; sh.input_len()];
            conv2d::fast::conv2d_backward_input_with(algo, &mut dx, &g, &w, &sh);
            prop_assert!(normwise(&dx, &want_dx).1 <= TOL, "{algo:?} ∂x {sh:?}: {:?}", normwise(&dx, &want_dx));
            let mut dw = vec![f32::NAN; sh.weight_len()];
            conv2d::fast::conv2d_backward_weight_with(algo, &mut dw, &g, &x, &sh);
            prop_assert!(normwise(&dw, &want_dw).1 <= TOL, "{algo:?} ∂w {sh:?}: {:?}", normwise(&dw, &want_dw));
        }
    }

    #[test]
    fn max_pool2d_fast_equals_reference_bitwise(sh in pool_shape(), seed in 0u64..1000) {
        // Coarse values so ties happen: the tie rule must agree too.
        let x: Vec<f32> = data(sh.input_len(), seed).iter().map(|v| (v * 4.0).round()).collect();
        let (mut y1, mut a1) = (vec![0.0f32; sh.output_len()], vec![0u32; sh.output_len()]);
        let (mut y2, mut a2) = (vec![f32::NAN; sh.output_len()], vec![u32::MAX; sh.output_len()]);
        max_pool2d::reference::max_pool2d_forward(&mut y1, &mut a1, &x, &sh);
        max_pool2d::fast::max_pool2d_forward(&mut y2, &mut a2, &x, &sh);
        prop_assert_eq!(&a1, &a2);
        prop_assert!(y1.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()));
        let g = data(sh.output_len(), seed + 1);
        let mut d1 = vec![0.0f32; sh.input_len()];
        let mut d2 = vec![f32::NAN; sh.input_len()];
        max_pool2d::reference::max_pool2d_backward(&mut d1, &g, &a1, &sh);
        max_pool2d::fast::max_pool2d_backward(&mut d2, &g, &a2, &sh);
        prop_assert!(d1.iter().zip(&d2).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn batch_norm_fast_equals_reference(n in 1usize..5, c in 1usize..6, hw in 1usize..70, seed in 0u64..1000) {
        // Training needs two values per channel (the op refuses one, as PyTorch does: the
        // unbiased variance would divide by zero).
        prop_assume!(n * hw >= 2);
        let sh = BatchNormShape { n, c, hw };
        let x = data(sh.len(), seed);
        let g = data(sh.len(), seed + 1);
        let w = data(c, seed + 2);
        let b = data(c, seed + 3);
        let run = |fast: bool| {
            let (mut rm, mut rv) = (vec![0.0f32; c], vec![1.0f32; c]);
            let (mut mean, mut inv) = (vec![0.0f32; c], vec![0.0f32; c]);
            let mut y = vec![f32::NAN; sh.len()];
            let p = BatchNormParams { weight: &w, bias: &b, running_mean: &mut rm, running_var: &mut rv, momentum: 0.1, eps: 1e-5 };
            if fast {
                batch_norm::fast::batch_norm_forward_train(&mut y, &mut mean, &mut inv, &x, p, &sh);
            } else {
                batch_norm::reference::batch_norm_forward_train(&mut y, &mut mean, &mut inv, &x, p, &sh);
            }
            let mut dx = g.clone();
            let (mut dw, mut db) = (vec![0.0f32; c], vec![0.0f32; c]);
            if fast {
                batch_norm::fast::batch_norm_backward_in_place(&mut dx, &mut dw, &mut db, &x, &w, &mean, &inv, &sh);
            } else {
                batch_norm::reference::batch_norm_backward_in_place(&mut dx, &mut dw, &mut db, &x, &w, &mean, &inv, &sh);
            }
            let scale = w.iter().zip(&inv).fold(0.0f32, |m, (w, i)| m.max((w * i).abs()));
            (y, rm, rv, dx, dw, db, scale)
        };
        let (f, r) = (run(true), run(false));
        let tol = 1e-3;
        for (what, a, b) in [("y", &f.0, &r.0), ("running mean", &f.1, &r.1), ("running var", &f.2, &r.2), ("∂γ", &f.4, &r.4), ("∂β", &f.5, &r.5)] {
            prop_assert!(normwise(a, b).1 <= tol, "{what} {sh:?}: {:?}", normwise(a, b));
        }
        // ∂x = (γ invstd / M)(M G − ∂β − x̂ ∂γ) cancels (exactly to 0 when M = 2), so its
        // error is measured against the size of its terms, |G| · max |γ invstd|, not
        // against ∂x itself.
        let terms = g.iter().fold(0.0f32, |m, v| m.max(v.abs())) * f.6.max(r.6);
        let err = f.3.iter().zip(&r.3).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        prop_assert!(err <= 1e-4 * terms.max(f32::MIN_POSITIVE), "∂x {sh:?}: {err} against terms of {terms}");
    }

    #[test]
    fn dropout_and_relu_fast_equal_reference_bitwise(len in 0usize..5000, p in 0.0f64..0.95, key in any::<u64>(), seed in 0u64..1000) {
        let x = data(len, seed);
        let (mut a, mut b) = (vec![0.0f32; len], vec![f32::NAN; len]);
        dropout::reference::dropout_apply(&mut a, &x, p, key);
        dropout::fast::dropout_apply(&mut b, &x, p, key);
        prop_assert!(a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()));
        elementwise::reference::relu_forward(&mut a, &x);
        elementwise::fast::relu_forward(&mut b, &x);
        prop_assert!(a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()));
        let g = data(len, seed + 1);
        elementwise::reference::relu_backward(&mut a, &g, &x);
        elementwise::fast::relu_backward(&mut b, &g, &x);
        prop_assert!(a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}
