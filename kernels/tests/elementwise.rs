//! Fast elementwise kernels against their reference loops, for every ISA this CPU has.

mod common;
use common::{data, misaligned, worst, LENGTHS};
use stitch_kernels::elementwise::{fast, reference};
use stitch_kernels::isa::Isa;

/// Runs `fast_fn` on misaligned copies of the inputs into a NaN-prefilled output and
/// compares with `ref_fn` on the plain inputs.
fn check(
    name: &str,
    tol: f32,
    ref_fn: impl Fn(&mut [f32], &[f32], &[f32]),
    fast_fn: impl Fn(Isa, &mut [f32], &[f32], &[f32]),
) {
    for isa in Isa::supported() {
        for &n in &LENGTHS {
            let a = data(n, 1);
            let b = data(n, 2);
            let mut expect = data(n, 3);
            ref_fn(&mut expect, &a, &b);
            let (ma, oa) = misaligned(&a);
            let (mb, ob) = misaligned(&b);
            let (mut out, oo) = misaligned(&data(n, 3));
            fast_fn(isa, &mut out[oo..oo + n], &ma[oa..oa + n], &mb[ob..ob + n]);
            let (i, e) = worst(&out[oo..oo + n], &expect);
            assert!(
                e <= tol,
                "{name} {isa:?} n={n}: worst error {e} at index {i}"
            );
            // Nothing outside the output slice was touched.
            assert!(
                out[..oo].iter().all(|&v| v == 0.0),
                "{name} {isa:?} n={n} wrote before"
            );
            assert!(
                out[oo + n..].iter().all(|&v| v == 0.0),
                "{name} {isa:?} n={n} wrote after"
            );
        }
    }
}

#[test]
fn add_matches_reference() {
    check("add", 0.0, reference::add, fast::add_with);
}

#[test]
fn mul_matches_reference() {
    check("mul", 0.0, reference::mul, fast::mul_with);
}

#[test]
fn axpy_matches_reference() {
    // The SIMD bodies fuse the multiply-add: one rounding less than the reference.
    check(
        "axpy",
        1e-6,
        |y, _, x| {
            y.copy_from_slice(&data(y.len(), 9));
            reference::axpy(y, 0.37, x)
        },
        |i, y, _, x| {
            y.copy_from_slice(&data(y.len(), 9));
            fast::axpy_with(i, y, 0.37, x)
        },
    );
}

#[test]
fn scale_matches_reference() {
    check(
        "scale",
        0.0,
        |o, a, _| reference::scale(o, -1.5, a),
        |i, o, a, _| fast::scale_with(i, o, -1.5, a),
    );
}

#[test]
fn relu_forward_matches_reference() {
    check(
        "relu_forward",
        0.0,
        |o, a, _| reference::relu_forward(o, a),
        |i, o, a, _| fast::relu_forward_with(i, o, a),
    );
}

#[test]
fn relu_backward_matches_reference() {
    check(
        "relu_backward",
        0.0,
        reference::relu_backward,
        fast::relu_backward_with,
    );
}

#[test]
fn relu_keeps_nan_and_zeroes_negatives() {
    for isa in Isa::supported() {
        let x = [
            f32::NAN,
            -1.0,
            0.0,
            2.0,
            -0.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
            3.0,
            -3.0,
        ]
        .repeat(4);
        let mut out = vec![7.0; x.len()];
        fast::relu_forward_with(isa, &mut out, &x);
        for (o, v) in out.iter().zip(&x) {
            if v.is_nan() {
                assert!(o.is_nan(), "{isa:?}: relu(NaN) must stay NaN");
            } else {
                assert_eq!(*o, v.max(0.0), "{isa:?}: relu({v})");
            }
        }
        // The derivative at exactly 0 is 0.
        let mut d = vec![7.0; x.len()];
        fast::relu_backward_with(isa, &mut d, &vec![1.0; x.len()], &x);
        for (g, v) in d.iter().zip(&x) {
            assert_eq!(*g, if *v > 0.0 { 1.0 } else { 0.0 }, "{isa:?}: relu'({v})");
        }
    }
}

#[test]
#[should_panic(expected = "add: b has 3 elements, expected 4")]
fn mismatched_lengths_name_the_kernel() {
    let mut out = [0.0f32; 4];
    stitch_kernels::elementwise::add(&mut out, &[1.0; 4], &[1.0; 3]);
}

#[test]
fn relu_in_place_mask_and_mask_in_place_match_reference_bitwise() {
    // Below and above the parallel threshold, with zeros, negatives and NaNs in the input.
    for &n in &LENGTHS {
        let mut x = data(n, 7);
        for (i, v) in x.iter_mut().enumerate() {
            match i % 13 {
                0 => *v = 0.0,
                5 => *v = f32::NAN,
                9 => *v = -0.0,
                _ => {}
            }
        }
        let (mut y_ref, mut y_fast) = (x.clone(), x.clone());
        let (mut p_ref, mut p_fast) = (vec![false; n], vec![true; n]);
        reference::relu_in_place_mask(&mut y_ref, &mut p_ref);
        fast::relu_in_place_mask(&mut y_fast, &mut p_fast);
        assert!(
            y_ref
                .iter()
                .zip(&y_fast)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "relu_in_place_mask n={n}"
        );
        assert_eq!(p_ref, p_fast, "mask n={n}");
        // relu_mask (out of place) gives the same y and mask as the in-place form, fast
        // and reference alike.
        for relu_mask in [
            reference::relu_mask::<f32> as fn(&mut [f32], &mut [bool], &[f32]),
            fast::relu_mask::<f32>,
        ] {
            let (mut y, mut p) = (vec![7.0f32; n], vec![true; n]);
            relu_mask(&mut y, &mut p, &x);
            assert!(
                y.iter()
                    .zip(&y_ref)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "relu_mask n={n}"
            );
            assert_eq!(p, p_ref, "relu_mask's mask n={n}");
        }
        // The mask is exactly y > 0 and y is max(x, 0) with NaN kept.
        for i in 0..n {
            assert_eq!(p_ref[i], y_ref[i] > 0.0);
            assert!(if x[i].is_nan() {
                y_ref[i].is_nan()
            } else {
                y_ref[i] == x[i].max(0.0)
            });
        }
        let g = data(n, 8);
        let (mut g_ref, mut g_fast) = (g.clone(), g.clone());
        reference::mask_in_place(&mut g_ref, &p_ref);
        fast::mask_in_place(&mut g_fast, &p_ref);
        assert!(
            g_ref
                .iter()
                .zip(&g_fast)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "mask_in_place n={n}"
        );
        assert!((0..n).all(|i| g_ref[i] == if p_ref[i] { g[i] } else { 0.0 }));
    }
}
