//! An f64 finite-difference gradient check of every differentiable op, each on at least
//! three shapes including size-1 dimensions, pushed through a random-weighted sum.

mod common;
use common::{away_from_zero, head, rand64, rand_range};
use stitch::{assert_gradcheck, Tensor};

/// Shape pairs that broadcast: equal, trailing-dimension, per-channel, size-1 and scalar.
const BROADCAST_PAIRS: &[(&[usize], &[usize])] = &[
    (&[3, 4], &[3, 4]),
    (&[2, 3], &[3]),
    (&[2, 3, 2, 2], &[3, 1, 1]),
    (&[1, 5], &[4, 1]),
    (&[4], &[]),
];

fn check_binary(f: fn(&Tensor<f64>, &Tensor<f64>) -> Tensor<f64>, positive_b: bool) {
    for (i, (sa, sb)) in BROADCAST_PAIRS.iter().enumerate() {
        let a = rand64(sa, i as u64);
        let b = if positive_b {
            rand_range(sb, 0.5, 2.0, 50 + i as u64)
        } else {
            rand64(sb, 50 + i as u64)
        };
        assert_gradcheck(|x| head(&f(&x[0], &x[1]), i as u64), &[a, b]);
    }
}

#[test]
fn gradcheck_add() {
    check_binary(|a, b| a.add(b), false);
}

#[test]
fn gradcheck_sub() {
    check_binary(|a, b| a.sub(b), false);
}

#[test]
fn gradcheck_mul() {
    check_binary(|a, b| a.mul(b), false);
}

#[test]
fn gradcheck_div() {
    check_binary(|a, b| a.div(b), true);
}

const SHAPES: &[&[usize]] = &[&[5], &[3, 1, 4], &[1, 1], &[2, 3, 4]];

#[test]
fn gradcheck_neg() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(|x| head(&x[0].neg(), i as u64), &[rand64(s, i as u64)]);
    }
}

#[test]
fn gradcheck_add_scalar() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].add_scalar(0.7), i as u64),
            &[rand64(s, i as u64)],
        );
    }
}

#[test]
fn gradcheck_mul_scalar() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].mul_scalar(-1.3), i as u64),
            &[rand64(s, i as u64)],
        );
    }
}

#[test]
fn gradcheck_matmul() {
    for (i, (m, k, n)) in [(1, 1, 1), (3, 4, 2), (1, 5, 3), (4, 1, 6)]
        .into_iter()
        .enumerate()
    {
        let a = rand64(&[m, k], i as u64);
        let b = rand64(&[k, n], 20 + i as u64);
        assert_gradcheck(|x| head(&x[0].matmul(&x[1]), i as u64), &[a, b]);
    }
}

#[test]
fn gradcheck_batched_matmul() {
    for (i, (bt, m, k, n)) in [(1, 2, 3, 4), (3, 1, 2, 1), (2, 3, 3, 2)]
        .into_iter()
        .enumerate()
    {
        let a = rand64(&[bt, m, k], i as u64);
        let b = rand64(&[bt, k, n], 20 + i as u64);
        assert_gradcheck(|x| head(&x[0].matmul(&x[1]), i as u64), &[a, b]);
    }
}

#[test]
fn gradcheck_linear() {
    for (i, (n, fi, fo)) in [(1, 1, 1), (4, 3, 2), (2, 7, 5)].into_iter().enumerate() {
        let x = rand64(&[n, fi], i as u64);
        let w = rand64(&[fo, fi], 10 + i as u64);
        let b = rand64(&[fo], 20 + i as u64);
        assert_gradcheck(
            |t| head(&t[0].linear(&t[1], Some(&t[2])), i as u64),
            &[x.clone(), w.clone(), b],
        );
        assert_gradcheck(|t| head(&t[0].linear(&t[1], None), i as u64), &[x, w]);
    }
}

#[test]
fn gradcheck_transpose() {
    for (i, s) in [[1, 4], [3, 1], [2, 5]].iter().enumerate() {
        assert_gradcheck(|x| head(&x[0].t(), i as u64), &[rand64(s, i as u64)]);
    }
}

#[test]
fn gradcheck_reshape_and_flatten() {
    for (i, (s, to)) in [
        (vec![2, 3], vec![3, 2]),
        (vec![1, 4, 1], vec![4]),
        (vec![2, 2, 3], vec![4, 3]),
    ]
    .into_iter()
    .enumerate()
    {
        assert_gradcheck(
            |x| head(&x[0].reshape(&to), i as u64),
            &[rand64(&s, i as u64)],
        );
        assert_gradcheck(|x| head(&x[0].flatten(), i as u64), &[rand64(&s, i as u64)]);
        assert_gradcheck(
            |x| head(&x[0].flatten_from(1), i as u64),
            &[rand64(&s, i as u64)],
        );
    }
}

#[test]
fn gradcheck_sum_and_mean() {
    for (i, s) in SHAPES.iter().enumerate() {
        // exp() first so the head is not linear in x: the check sees a real chain.
        assert_gradcheck(|x| x[0].exp().sum(), &[rand64(s, i as u64)]);
        assert_gradcheck(|x| x[0].exp().mean(), &[rand64(s, i as u64)]);
    }
}

#[test]
fn gradcheck_sum_and_mean_over_an_axis() {
    for (i, s) in SHAPES.iter().enumerate() {
        for axis in 0..s.len() {
            for keepdim in [false, true] {
                let x = rand64(s, i as u64);
                assert_gradcheck(
                    |t| head(&t[0].sum_axis(axis, keepdim), i as u64),
                    std::slice::from_ref(&x),
                );
                assert_gradcheck(|t| head(&t[0].mean_axis(axis, keepdim), i as u64), &[x]);
            }
        }
    }
}

#[test]
fn gradcheck_relu() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].relu(), i as u64),
            &[away_from_zero(s, 0.05, i as u64)],
        );
    }
}

#[test]
fn gradcheck_exp() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(|x| head(&x[0].exp(), i as u64), &[rand64(s, i as u64)]);
    }
}

#[test]
fn gradcheck_log() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].log(), i as u64),
            &[rand_range(s, 0.2, 3.0, i as u64)],
        );
    }
}

#[test]
fn gradcheck_log_softmax() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].log_softmax(), i as u64),
            &[rand64(s, i as u64).mul_scalar(3.0)],
        );
    }
}

#[test]
fn gradcheck_softmax() {
    for (i, s) in SHAPES.iter().enumerate() {
        assert_gradcheck(
            |x| head(&x[0].softmax(), i as u64),
            &[rand64(s, i as u64).mul_scalar(3.0)],
        );
    }
}

#[test]
fn gradcheck_cross_entropy() {
    let cases: &[(usize, usize, &[usize])] = &[
        (1, 1, &[0]),
        (1, 3, &[2]),
        (4, 5, &[0, 4, 2, 2]),
        (3, 10, &[9, 0, 5]),
    ];
    for (i, &(n, c, t)) in cases.iter().enumerate() {
        let z = rand64(&[n, c], i as u64).mul_scalar(4.0);
        // Scaled by a non-unit factor so the upstream gradient is not 1.
        assert_gradcheck(|x| x[0].cross_entropy(t).mul_scalar(1.7), &[z]);
    }
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // A deliberately wrong rule must fail: exp's output used where relu's input belongs.
    let x = rand64(&[4], 3);
    let report = stitch::gradcheck(
        |t| head(&t[0].exp().add(&t[0].detach().mul_scalar(5.0)), 1),
        &[x],
        stitch::GradcheckOptions::default(),
    );
    assert!(
        !report.passed(),
        "detach hides part of the function, so the check must fail:\n{report}"
    );
    assert!(report.inputs[0].max_abs_err > 1.0);
}
