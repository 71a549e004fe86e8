//! Fast batch norm against the reference (in f64 and f32), and running statistics against a
//! hand computation.

mod common;
use common::{data, normwise};
use stitch_kernels::batch_norm::{fast, reference, BatchNormParams, BatchNormShape};

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn compare(sh: &BatchNormShape) {
    let x: Vec<f32> = data(sh.len(), 1).iter().map(|v| 3.0 * v + 0.5).collect();
    let g = data(sh.len(), 2);
    let w = data(sh.c, 3);
    let b = data(sh.c, 4);
    let (rm0, rv0) = (
        data(sh.c, 5),
        data(sh.c, 6)
            .iter()
            .map(|v| v.abs() + 0.5)
            .collect::<Vec<_>>(),
    );
    let label = format!("{sh:?}");

    // Reference in f64 on the same values.
    let (x64, g64, w64, b64) = (to64(&x), to64(&g), to64(&w), to64(&b));
    let (mut rm64, mut rv64) = (to64(&rm0), to64(&rv0));
    let mut y64 = vec![f64::NAN; sh.len()];
    let (mut mean64, mut inv64) = (vec![0.0; sh.c], vec![0.0; sh.c]);
    let p64 = BatchNormParams {
        weight: &w64,
        bias: &b64,
        running_mean: &mut rm64,
        running_var: &mut rv64,
        momentum: 0.1,
        eps: 1e-5,
    };
    reference::batch_norm_forward_train(&mut y64, &mut mean64, &mut inv64, &x64, p64, sh);

    let (mut rm, mut rv) = (rm0.clone(), rv0.clone());
    let mut y = vec![f32::NAN; sh.len()];
    let (mut mean, mut inv) = (vec![0.0; sh.c], vec![0.0; sh.c]);
    let p = BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    fast::batch_norm_forward_train(&mut y, &mut mean, &mut inv, &x, p, sh);
    let y64f: Vec<f32> = y64.iter().map(|&v| v as f32).collect();
    let (i, e) = normwise(&y, &y64f);
    assert!(e <= 1e-5, "forward {label}: {e} at {i}");
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    assert!(
        normwise(&rm, &f(&rm64)).1 <= 1e-5 && normwise(&rv, &f(&rv64)).1 <= 1e-5,
        "running stats {label}"
    );

    let (mut dx64, mut dw64, mut db64) =
        (vec![f64::NAN; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
    reference::batch_norm_backward(
        &mut dx64, &mut dw64, &mut db64, &g64, &x64, &w64, &mean64, &inv64, sh,
    );
    let (mut dx, mut dw, mut db) = (vec![f32::NAN; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
    stitch_kernels::batch_norm::batch_norm_backward(
        &mut dx, &mut dw, &mut db, &g, &x, &w, &mean, &inv, sh,
    );
    for (what, got, want) in [
        ("d_input", &dx, f(&dx64)),
        ("d_weight", &dw, f(&dw64)),
        ("d_bias", &db, f(&db64)),
    ] {
        let (i, e) = normwise(got, &want);
        assert!(e <= 1e-5, "{what} {label}: {e} at {i}");
    }

    // And the f32 reference loop agrees with the fast one on small shapes.
    if sh.len() < 100_000 {
        let (mut rm, mut rv) = (rm0.clone(), rv0.clone());
        let mut y32 = vec![f32::NAN; sh.len()];
        let (mut m32, mut i32_) = (vec![0.0; sh.c], vec![0.0; sh.c]);
        let p = BatchNormParams {
            weight: &w,
            bias: &b,
            running_mean: &mut rm,
            running_var: &mut rv,
            momentum: 0.1,
            eps: 1e-5,
        };
        reference::batch_norm_forward_train(&mut y32, &mut m32, &mut i32_, &x, p, sh);
        assert!(
            normwise(&y, &y32).1 <= 1e-5,
            "forward vs f32 reference {label}"
        );
    }
}

#[test]
fn fast_matches_reference() {
    for n in [1, 3] {
        for c in [1, 2, 3, 17] {
            for hw in [1, 7, 35, 784] {
                if n * hw >= 2 {
                    compare(&BatchNormShape { n, c, hw });
                }
            }
        }
    }
}

#[test]
fn fast_matches_reference_on_the_ladder_shapes_at_batch_128() {
    compare(&BatchNormShape {
        n: 128,
        c: 32,
        hw: 28 * 28,
    });
    compare(&BatchNormShape {
        n: 128,
        c: 64,
        hw: 14 * 14,
    });
    compare(&BatchNormShape {
        n: 128,
        c: 10,
        hw: 1,
    });
}

#[test]
fn running_statistics_after_three_steps_equal_a_hand_computation() {
    // One channel, 2 examples × 2 values. Batches: [1,2,3,4], [2,2,2,6], [0,0,0,0].
    let sh = BatchNormShape { n: 2, c: 1, hw: 2 };
    let (mut rm, mut rv) = (vec![0.0f64], vec![1.0f64]);
    for x in [[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 6.0], [0.0; 4]] {
        let mut y = vec![0.0; 4];
        let (mut m, mut i) = (vec![0.0], vec![0.0]);
        let p = BatchNormParams {
            weight: &[1.0],
            bias: &[0.0],
            running_mean: &mut rm,
            running_var: &mut rv,
            momentum: 0.1,
            eps: 1e-5,
        };
        reference::batch_norm_forward_train(&mut y, &mut m, &mut i, &x, p, &sh);
    }
    // Step 1: μ = 2.5, unbiased σ² = 5/3:  rm = 0.25,   rv = 0.9 + 1/6 = 1.0666…
    // Step 2: μ = 3,   unbiased σ² = 4:    rm = 0.525,  rv = 0.96 + 0.4 = 1.36
    // Step 3: μ = 0,   σ² = 0:             rm = 0.4725, rv = 1.224
    assert!((rm[0] - 0.4725).abs() < 1e-12, "{rm:?}");
    assert!(
        (rv[0] - (0.9 * (0.9 * (0.9 + 0.1 * 5.0 / 3.0) + 0.4))).abs() < 1e-12,
        "{rv:?}"
    );
    assert!((rv[0] - 1.224).abs() < 1e-3);
}

#[test]
fn in_place_backward_equals_the_out_of_place_one() {
    for sh in [
        BatchNormShape { n: 3, c: 5, hw: 37 },
        BatchNormShape {
            n: 128,
            c: 32,
            hw: 784,
        },
        BatchNormShape { n: 4, c: 3, hw: 1 },
    ] {
        let x: Vec<f32> = data(sh.len(), 1).iter().map(|v| 2.0 * v + 0.3).collect();
        let g = data(sh.len(), 2);
        let w = data(sh.c, 3);
        let mean = data(sh.c, 4);
        let inv: Vec<f32> = data(sh.c, 5).iter().map(|v| v.abs() + 0.5).collect();
        let (mut dx, mut dw, mut db) = (vec![f32::NAN; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
        stitch_kernels::batch_norm::batch_norm_backward(
            &mut dx, &mut dw, &mut db, &g, &x, &w, &mean, &inv, &sh,
        );
        let (mut gdx, mut dw2, mut db2) = (g.clone(), vec![0.0; sh.c], vec![0.0; sh.c]);
        fast::batch_norm_backward_in_place(&mut gdx, &mut dw2, &mut db2, &x, &w, &mean, &inv, &sh);
        assert!(
            gdx.iter().zip(&dx).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{sh:?}"
        );
        assert_eq!((dw, db), (dw2, db2));
        // And the reference pair agree in f64.
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let (mut rdx, mut rdw, mut rdb) =
            (vec![0.0f64; sh.len()], vec![0.0; sh.c], vec![0.0; sh.c]);
        reference::batch_norm_backward(
            &mut rdx,
            &mut rdw,
            &mut rdb,
            &f(&g),
            &f(&x),
            &f(&w),
            &f(&mean),
            &f(&inv),
            &sh,
        );
        let (mut rg, mut rdw2, mut rdb2) = (f(&g), vec![0.0; sh.c], vec![0.0; sh.c]);
        reference::batch_norm_backward_in_place(
            &mut rg,
            &mut rdw2,
            &mut rdb2,
            &f(&x),
            &f(&w),
            &f(&mean),
            &f(&inv),
            &sh,
        );
        assert_eq!((rdx, rdw, rdb), (rg, rdw2, rdb2));
    }
}

#[test]
fn the_reference_loops_stay_accurate_in_f32_on_a_whole_ladder_layer() {
    // 128 × 32 × 28 × 28: each channel sums 100,352 values whose mean sits 3σ from zero.
    // The f32 reference must stay within 1e-6 normwise of the same formulas in f64 (a plain
    // f32 running sum was 1.1e-5 off here).
    use stitch_kernels::batch_norm::{reference, BatchNormParams, BatchNormShape};
    let sh = BatchNormShape {
        n: 128,
        c: 32,
        hw: 784,
    };
    let x: Vec<f32> = common::data(sh.len(), 11).iter().map(|v| 3.0 + v).collect();
    let g: Vec<f32> = common::data(sh.len(), 12).iter().map(|v| 0.5 + v).collect();
    let (w, b): (Vec<f32>, Vec<f32>) = (
        (0..32).map(|i| 0.5 + i as f32 / 64.0).collect(),
        vec![0.1; 32],
    );
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (x64, g64, w64, b64) = (to64(&x), to64(&g), to64(&w), to64(&b));
    // f32
    let (mut y, mut mean, mut invstd) =
        (vec![0.0f32; sh.len()], vec![0.0f32; 32], vec![0.0f32; 32]);
    let (mut rm, mut rv) = (vec![0.0f32; 32], vec![1.0f32; 32]);
    let p = BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: 0.1,
        eps: 1e-5,
    };
    reference::batch_norm_forward_train(&mut y, &mut mean, &mut invstd, &x, p, &sh);
    let (mut dx, mut dw, mut db) = (vec![0.0f32; sh.len()], vec![0.0f32; 32], vec![0.0f32; 32]);
    reference::batch_norm_backward(&mut dx, &mut dw, &mut db, &g, &x, &w, &mean, &invstd, &sh);
    // f64
    let (mut y64, mut mean64, mut invstd64) =
        (vec![0.0f64; sh.len()], vec![0.0f64; 32], vec![0.0f64; 32]);
    let (mut rm64, mut rv64) = (vec![0.0f64; 32], vec![1.0f64; 32]);
    let p = BatchNormParams {
        weight: &w64,
        bias: &b64,
        running_mean: &mut rm64,
        running_var: &mut rv64,
        momentum: 0.1,
        eps: 1e-5,
    };
    reference::batch_norm_forward_train(&mut y64, &mut mean64, &mut invstd64, &x64, p, &sh);
    let (mut dx64, mut dw64, mut db64) =
        (vec![0.0f64; sh.len()], vec![0.0f64; 32], vec![0.0f64; 32]);
    reference::batch_norm_backward(
        &mut dx64, &mut dw64, &mut db64, &g64, &x64, &w64, &mean64, &invstd64, &sh,
    );
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for (what, got, want) in [
        ("y", &y[..], f32s(&y64)),
        ("running_mean", &rm[..], f32s(&rm64)),
        ("running_var", &rv[..], f32s(&rv64)),
        ("d_bias", &db[..], f32s(&db64)),
    ] {
        let (i, e) = common::normwise(got, &want);
        assert!(e <= 1e-6, "{what}: normwise error {e} at {i}");
    }
    // ∂γ = Σ G x̂ is small against its terms (x̂ has mean 0), and x̂ inherits the rounding
    // of μ ≈ 3 to f32: a shift of ~1e-7 in every x̂ that the sum of 100,352 terms adds up.
    // That floor is f32's, not the sum's: the fast kernel sits at the same place.
    let (_, e_ref) = common::normwise(&dw, &f32s(&dw64));
    let (mut fy, mut fmean, mut finv) =
        (vec![0.0f32; sh.len()], vec![0.0f32; 32], vec![0.0f32; 32]);
    let (mut frm, mut frv) = (vec![0.0f32; 32], vec![1.0f32; 32]);
    let p = BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut frm,
        running_var: &mut frv,
        momentum: 0.1,
        eps: 1e-5,
    };
    fast::batch_norm_forward_train(&mut fy, &mut fmean, &mut finv, &x, p, &sh);
    let (mut fdx, mut fdw, mut fdb) = (g.clone(), vec![0.0f32; 32], vec![0.0f32; 32]);
    fast::batch_norm_backward_in_place(&mut fdx, &mut fdw, &mut fdb, &x, &w, &fmean, &finv, &sh);
    let (_, e_fast) = common::normwise(&fdw, &f32s(&dw64));
    assert!(
        e_ref <= 1e-4 && e_ref <= 2.0 * e_fast + 1e-6,
        "d_weight: reference {e_ref}, fast {e_fast}"
    );
    // ∂x cancels (M·G − ΣG − x̂·Σ G x̂ is small against its terms): measured against them.
    let scale = g.iter().map(|v| v.abs()).fold(0.0f32, f32::max) * 2.0;
    let worst = dx
        .iter()
        .zip(&dx64)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-6 * scale as f64, "d_x: worst {worst}");
}
