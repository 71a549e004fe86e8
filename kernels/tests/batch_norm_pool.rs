//! The fused batch norm → max-pool kernels against the unfused fast kernels they replace
//! (bit for bit, at every SIMD level this CPU has) and against the f64 reference
//! (normwise), on odd shapes: batch 1, planes 1×1, 7×7, 17×17, 14×14, 28×28, non-square,
//! 2×2 windows and 3×3 windows with stride 2 and padding 1.

mod common;
use common::{data, normwise};
use stitch_kernels::batch_norm::{self, pool, BatchNormParams, BatchNormShape};
use stitch_kernels::isa::Isa;
use stitch_kernels::max_pool2d::{self, Pool2dShape};

struct Inputs {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
}

/// Batch norm's view of the pooling's input.
fn bn_of(ps: &Pool2dShape) -> BatchNormShape {
    BatchNormShape {
        n: ps.n,
        c: ps.c,
        hw: ps.h * ps.w,
    }
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

/// (pooled, argmax, ∂x, ∂γ, ∂β, running mean, running var).
type Outputs = (
    Vec<f32>,
    Vec<u32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
);

fn unfused(isa: Isa, inp: &Inputs, g: &[f32], ps: &Pool2dShape) -> Outputs {
    let bn = bn_of(ps);
    let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
    let mut y = vec![0.0f32; bn.len()];
    let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    let p = BatchNormParams {
        weight: &inp.w,
        bias: &inp.b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    batch_norm::fast::batch_norm_forward_train_with(
        isa, &mut y, &mut mean, &mut inv, &inp.x, p, &bn,
    );
    let (mut pooled, mut am) = (vec![0.0; ps.output_len()], vec![0u32; ps.output_len()]);
    max_pool2d::fast::max_pool2d_forward_with(isa, &mut pooled, &mut am, &y, ps);
    let mut gx = vec![0.0f32; bn.len()];
    max_pool2d::fast::max_pool2d_backward_with(isa, &mut gx, g, &am, ps);
    let (mut dw, mut db) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    batch_norm::fast::batch_norm_backward_in_place_with(
        isa, &mut gx, &mut dw, &mut db, &inp.x, &inp.w, &mean, &inv, &bn,
    );
    (pooled, am, gx, dw, db, rm, rv)
}

fn fused(isa: Isa, inp: &Inputs, g: &[f32], ps: &Pool2dShape) -> Outputs {
    let c = ps.c;
    let (mut rm, mut rv) = (inp.rm.clone(), inp.rv.clone());
    let (mut mean, mut inv) = (vec![0.0; c], vec![0.0; c]);
    let p = BatchNormParams {
        weight: &inp.w,
        bias: &inp.b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    let (mut pooled, mut am) = (vec![0.0; ps.output_len()], vec![0u32; ps.output_len()]);
    pool::batch_norm_max_pool2d_forward_train_with(
        isa,
        &mut pooled,
        &mut am,
        &mut mean,
        &mut inv,
        &inp.x,
        p,
        ps,
    );
    let mut dx = vec![f32::NAN; ps.input_len()];
    let (mut dw, mut db) = (vec![0.0; c], vec![0.0; c]);
    pool::batch_norm_max_pool2d_backward_with(
        isa, &mut dx, &mut dw, &mut db, g, &am, &inp.x, &inp.w, &mean, &inv, ps,
    );
    (pooled, am, dx, dw, db, rm, rv)
}

/// The unfused f64 reference: batch norm, max-pool, and back.
fn reference64(inp: &Inputs, g: &[f32], ps: &Pool2dShape) -> (Vec<f64>, Vec<f64>) {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let bn = bn_of(ps);
    let (x, w, b) = (to64(&inp.x), to64(&inp.w), to64(&inp.b));
    let (mut rm, mut rv) = (to64(&inp.rm), to64(&inp.rv));
    let mut y = vec![0.0f64; bn.len()];
    let (mut mean, mut inv) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    let p = BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    batch_norm::reference::batch_norm_forward_train(&mut y, &mut mean, &mut inv, &x, p, &bn);
    let (mut pooled, mut am) = (vec![0.0; ps.output_len()], vec![0u32; ps.output_len()]);
    max_pool2d::reference::max_pool2d_forward(&mut pooled, &mut am, &y, ps);
    let mut gx = vec![0.0f64; bn.len()];
    max_pool2d::reference::max_pool2d_backward(&mut gx, &to64(g), &am, ps);
    let (mut dw, mut db) = (vec![0.0; bn.c], vec![0.0; bn.c]);
    batch_norm::reference::batch_norm_backward_in_place(
        &mut gx, &mut dw, &mut db, &x, &w, &mean, &inv, &bn,
    );
    (pooled, gx)
}

fn shapes() -> Vec<Pool2dShape> {
    let mut v = Vec::new();
    let two = ([2, 2], [2, 2], [0, 0]);
    let three = ([3, 3], [2, 2], [1, 1]);
    for (n, c, h, w, (kernel, stride, padding)) in [
        (1, 1, 2, 2, two),
        (1, 3, 7, 7, two),
        (2, 2, 17, 17, two),
        (3, 5, 14, 14, two),
        (2, 3, 28, 28, two),
        (4, 2, 6, 10, two),
        (2, 3, 7, 9, three),
        (1, 2, 17, 17, three),
        (5, 2, 1, 1, ([1, 1], [1, 1], [0, 0])),
    ] {
        v.push(Pool2dShape {
            n,
            c,
            h,
            w,
            kernel,
            stride,
            padding,
        });
    }
    v
}

#[test]
fn fused_equals_the_unfused_fast_kernels_bit_for_bit_at_every_level() {
    for (i, ps) in shapes().iter().enumerate() {
        let inp = inputs(&bn_of(ps), 10 * i as u64);
        let g = data(ps.output_len(), 10 * i as u64 + 7);
        for isa in Isa::supported() {
            let (a, b) = (unfused(isa, &inp, &g, ps), fused(isa, &inp, &g, ps));
            let label = format!("{isa:?} {ps:?}");
            assert_eq!(a.0, b.0, "pooled {label}");
            assert_eq!(a.1, b.1, "argmax {label}");
            assert_eq!(a.2, b.2, "∂x {label}");
            assert_eq!((&a.3, &a.4), (&b.3, &b.4), "∂γ, ∂β {label}");
            assert_eq!((&a.5, &a.6), (&b.5, &b.6), "running statistics {label}");
        }
    }
}

#[test]
fn fused_matches_the_f64_reference() {
    for (i, ps) in shapes().iter().enumerate() {
        let inp = inputs(&bn_of(ps), 10 * i as u64 + 3);
        let g = data(ps.output_len(), 10 * i as u64 + 9);
        let (want_y, want_dx) = reference64(&inp, &g, ps);
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        for isa in Isa::supported() {
            let got = fused(isa, &inp, &g, ps);
            for (what, a, b) in [
                ("pooled", &got.0, to32(&want_y)),
                ("∂x", &got.2, to32(&want_dx)),
            ] {
                let (at, err) = normwise(a, &b);
                assert!(err <= 1e-5, "{what} {isa:?} {ps:?}: {err} at {at}");
            }
        }
    }
}
