//! The fused batch norm → ReLU kernels against the unfused fast kernels they replace (bit
//! for bit, at every SIMD level this CPU has) and against the f64 reference (normwise), on
//! odd shapes: batch 1, planes 1×1 (the [N, C] batch norm), 7×7, 17×17, 14×14, 28×28 and
//! non-square, odd channel counts.

mod common;
use common::{data, normwise};
use stitch_kernels::batch_norm::{self, relu, BatchNormParams, BatchNormShape};
use stitch_kernels::elementwise::reference::{mask_in_place, relu_mask};
use stitch_kernels::isa::Isa;

struct Inputs {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
}

fn inputs(bn: &BatchNormShape, seed: u64) -> Inputs {
    Inputs {
        x: data(bn.len(), seed).iter().map(|v| 3.0 * v + 0.5).collect(),
        w: data(bn.c, seed + 1).iter().map(|v| v + 1.0).collect(),
        b: data(bn.c, seed + 2),
        rm: data(bn.c, seed + 3),
        rv: data(bn.c, seed + 4).iter().map(|v| v.abs() + 0.5).collect(),
    }
}

/// (y, ∂x, ∂γ, ∂β, running mean, running var).
type Outputs = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

fn params<'a>(inp: &'a Inputs, rm: &'a mut [f32], rv: &'a mut [f32]) -> BatchNormParams<'a, f32> {
    BatchNormParams {
        weight: &inp.w,
        bias: &inp.b,
        running_mean: rm,
        running_var: rv,
        momentum: 0.1,
        eps: 1e-5,
    }
}

fn unfused(isa: Isa, inp: &Inputs, g: &[f32], bn: &BatchNormShape) -> Outputs {
    let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
    let mut z = vec![0.0f32; bn.len()];
    let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    let p = params(inp, &mut rm, &mut rv);
    batch_norm::fast::batch_norm_forward_train_with(
        isa, &mut z, &mut mean, &mut inv, &inp.x, p, bn,
    );
    let (mut y, mut positive) = (vec![0.0f32; bn.len()], vec![false; bn.len()]);
    relu_mask(&mut y, &mut positive, &z);
    let mut gx = g.to_vec();
    mask_in_place(&mut gx, &positive);
    let (mut dw, mut db) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    batch_norm::fast::batch_norm_backward_in_place_with(
        isa, &mut gx, &mut dw, &mut db, &inp.x, &inp.w, &mean, &inv, bn,
    );
    (y, gx, dw, db, rm, rv)
}

fn fused(isa: Isa, inp: &Inputs, g: &[f32], bn: &BatchNormShape) -> Outputs {
    let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
    let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    let mut y = vec![f32::NAN; bn.len()];
    let p = params(inp, &mut rm, &mut rv);
    relu::batch_norm_relu_forward_train_with(isa, &mut y, &mut mean, &mut inv, &inp.x, p, bn);
    let mut dx = vec![f32::NAN; bn.len()];
    let (mut dw, mut db) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    relu::batch_norm_relu_backward_with(
        isa, &mut dx, &mut dw, &mut db, g, &inp.x, &inp.w, &inp.b, &mean, &inv, bn,
    );
    (y, dx, dw, db, rm, rv)
}

/// The unfused f64 reference: batch norm, ReLU, and back.
fn reference64(inp: &Inputs, g: &[f32], bn: &BatchNormShape) -> (Vec<f64>, Vec<f64>) {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (x, w, b) = (to64(&inp.x), to64(&inp.w), to64(&inp.b));
    let (mut rm, mut rv) = (to64(&inp.rm), to64(&inp.rv));
    let mut z = vec![0.0f64; bn.len()];
    let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    let p = BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    batch_norm::reference::batch_norm_forward_train(&mut z, &mut mean, &mut inv, &x, p, bn);
    let (mut y, mut positive) = (vec![0.0f64; bn.len()], vec![false; bn.len()]);
    relu_mask(&mut y, &mut positive, &z);
    let mut gx = to64(g);
    mask_in_place(&mut gx, &positive);
    let (mut dw, mut db) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    batch_norm::reference::batch_norm_backward_in_place(
        &mut gx, &mut dw, &mut db, &x, &w, &mean, &inv, bn,
    );
    (y, gx)
}

fn shapes() -> Vec<BatchNormShape> {
    [
        (1, 1, 4),
        (1, 3, 49),
        (2, 2, 289),
        (3, 5, 196),
        (2, 3, 784),
        (4, 2, 60),
        (7, 17, 1),
        (2, 16, 784),
    ]
    .into_iter()
    .map(|(n, c, hw)| BatchNormShape { n, c, hw })
    .collect()
}

#[test]
fn fused_equals_the_unfused_fast_kernels_bit_for_bit_at_every_level() {
    for (i, bn) in shapes().iter().enumerate() {
        let inp = inputs(bn, 10 * i as u64);
        let g = data(bn.len(), 10 * i as u64 + 7);
        for isa in Isa::supported() {
            let (a, b) = (unfused(isa, &inp, &g, bn), fused(isa, &inp, &g, bn));
            let label = format!("{isa:?} {bn:?}");
            assert_eq!(a.0, b.0, "y {label}");
            assert_eq!(a.1, b.1, "∂x {label}");
            assert_eq!((&a.2, &a.3), (&b.2, &b.3), "∂γ, ∂β {label}");
            assert_eq!((&a.4, &a.5), (&b.4, &b.5), "running statistics {label}");
            // The ReLU really cuts: some outputs are zero and some gradients pass.
            assert!(
                b.0.contains(&0.0) && b.0.iter().any(|&v| v > 0.0),
                "{label}"
            );
        }
    }
}

#[test]
fn fused_matches_the_f64_reference() {
    for (i, bn) in shapes().iter().enumerate() {
        let inp = inputs(bn, 10 * i as u64 + 3);
        let g = data(bn.len(), 10 * i as u64 + 9);
        let (want_y, want_dx) = reference64(&inp, &g, bn);
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        for isa in Isa::supported() {
            let got = fused(isa, &inp, &g, bn);
            for (what, a, b) in [("y", &got.0, to32(&want_y)), ("∂x", &got.1, to32(&want_dx))] {
                let (at, err) = normwise(a, &b);
                assert!(err <= 1e-5, "{what} {isa:?} {bn:?}: {err} at {at}");
            }
        }
    }
}

#[test]
fn wrong_lengths_name_the_buffer() {
    let bn = BatchNormShape { n: 2, c: 3, hw: 4 };
    let inp = inputs(&bn, 1);
    let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
    let (mut mean, mut inv) = (vec![0.0; 3], vec![0.0; 3]);
    let mut y = vec![0.0; bn.len() - 1];
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let p = params(&inp, &mut rm, &mut rv);
        relu::batch_norm_relu_forward_train(&mut y, &mut mean, &mut inv, &inp.x, p, &bn)
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("out has 23 elements, expected 24"), "{msg}");
}

#[test]
fn a_nan_channel_gives_the_unfused_bits() {
    // One NaN makes its channel's statistics NaN: the ReLU keeps NaN (as the elementwise
    // ReLU does) and its mask is off there. Compared as bits, every NaN as one (a NaN's
    // sign and payload follow operand order, which the compiler may commute).
    let bn = BatchNormShape { n: 3, c: 2, hw: 13 };
    let mut inp = inputs(&bn, 77);
    inp.x[5] = f32::NAN;
    let g = data(bn.len(), 78);
    let bits = |v: &[f32]| {
        v.iter()
            .map(|x| {
                if x.is_nan() {
                    f32::NAN.to_bits()
                } else {
                    x.to_bits()
                }
            })
            .collect::<Vec<u32>>()
    };
    for isa in Isa::supported() {
        let (a, b) = (unfused(isa, &inp, &g, &bn), fused(isa, &inp, &g, &bn));
        assert!(b.0[..13].iter().all(|v| v.is_nan()), "{isa:?}");
        for (what, u, f) in [("y", &a.0, &b.0), ("∂x", &a.1, &b.1), ("∂γ", &a.2, &b.2)] {
            assert_eq!(bits(u), bits(f), "{what} {isa:?}");
        }
    }
}

#[test]
fn fused_add_relu_equals_batch_norm_then_add_relu_bit_for_bit() {
    // relu(batch_norm(x) + s) and its mask, against batch norm's fast forward followed by
    // the elementwise add_relu_mask, at every level; and normwise against the f64 chain.
    use stitch_kernels::elementwise::reference::add_relu_mask;
    for (i, bn) in shapes().iter().enumerate() {
        let inp = inputs(bn, 10 * i as u64 + 5);
        let s = data(bn.len(), 10 * i as u64 + 6);
        for isa in Isa::supported() {
            let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
            let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
            let mut z = vec![0.0f32; bn.len()];
            let p = params(&inp, &mut rm, &mut rv);
            batch_norm::fast::batch_norm_forward_train_with(
                isa, &mut z, &mut mean, &mut inv, &inp.x, p, bn,
            );
            let (mut want, mut want_pos) = (vec![0.0f32; bn.len()], vec![false; bn.len()]);
            add_relu_mask(&mut want, &mut want_pos, &z, &s);

            let (mut rm2, mut rv2) = (inp.rm.clone(), inp.rv.clone());
            let (mut mean2, mut inv2) = (vec![0.0; bn.c], vec![0.0; bn.c]);
            let (mut y, mut pos) = (vec![f32::NAN; bn.len()], vec![true; bn.len()]);
            let p = params(&inp, &mut rm2, &mut rv2);
            relu::batch_norm_add_relu_forward_train_with(
                isa, &mut y, &mut pos, &mut mean2, &mut inv2, &inp.x, &s, p, bn,
            );
            let label = format!("{isa:?} {bn:?}");
            assert_eq!(want, y, "y {label}");
            assert_eq!(want_pos, pos, "mask {label}");
            assert_eq!(
                (&rm, &rv, &mean, &inv),
                (&rm2, &rv2, &mean2, &inv2),
                "{label}"
            );
            assert!(pos.contains(&false) && pos.contains(&true), "{label}");

            // Normwise against the f64 chain.
            let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
            let (x, w, b) = (to64(&inp.x), to64(&inp.w), to64(&inp.b));
            let (mut rm, mut rv) = (to64(&inp.rm), to64(&inp.rv));
            let mut z = vec![0.0f64; bn.len()];
            let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
            let p = BatchNormParams {
                weight: &w,
                bias: &b,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum: 0.1,
                eps: 1e-5,
            };
            batch_norm::reference::batch_norm_forward_train(&mut z, &mut mean, &mut inv, &x, p, bn);
            let (mut y64, mut pos64) = (vec![0.0f64; bn.len()], vec![false; bn.len()]);
            add_relu_mask(&mut y64, &mut pos64, &z, &to64(&s));
            let y64: Vec<f32> = y64.iter().map(|&v| v as f32).collect();
            let (at, err) = normwise(&y, &y64);
            assert!(err <= 1e-5, "y vs f64 {label}: {err} at {at}");
        }
    }
}
