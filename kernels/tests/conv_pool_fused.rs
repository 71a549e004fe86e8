//! The fused convolution → 2×2 max-pool equals conv2d then max_pool2d bit for bit, on each
//! route: AVX-512's direct kernels, the phase planes (AVX2, NEON, strided layers) and
//! Winograd (the wide 3×3 layers where `auto` gives it the forward: AVX2 and AVX-512 on
//! 256-bit units; `STITCH_ISA=avx2` takes that route on any AVX2 CPU, as `.ci/run` does).
//! With batch norm between them (the seed CNN's block), the fused backward equals batch
//! norm → max-pool's backward then the convolution's, on the same routes.

mod common;
use common::data;
use stitch_kernels::batch_norm::pool as bn_pool;
use stitch_kernels::conv2d::{fast, fused, Conv2dShape};
use stitch_kernels::max_pool2d::{fast as pool, Pool2dShape};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn check(sh: &Conv2dShape, input_grad: bool) {
    check_with(sh, input_grad, |_, _| {})
}

/// [`check`] with x and w changed by `edit` first.
fn check_with(sh: &Conv2dShape, input_grad: bool, edit: impl Fn(&mut [f32], &mut [f32])) {
    if !fused::applies(sh, input_grad) {
        // Only where no SIMD convolution runs or AVX-512's direct route lacks the input
        // gradient's eight channels.
        let planes = stitch_kernels::conv2d::planes::Width::for_isa(stitch_kernels::isa::isa());
        let avx512 = stitch_kernels::isa::isa() == stitch_kernels::isa::Isa::Avx512;
        assert!(
            planes.is_none() || (avx512 && input_grad && sh.c < 8),
            "{sh:?} should apply"
        );
        return;
    }
    let (mut x, mut w, b) = (
        data(sh.input_len(), 1),
        data(sh.weight_len(), 2),
        data(sh.k, 3),
    );
    edit(&mut x, &mut w);
    let ps = Pool2dShape {
        n: sh.n,
        c: sh.k,
        h: sh.out_h(),
        w: sh.out_w(),
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
    };
    // Unfused.
    let mut y = vec![f32::NAN; sh.output_len()];
    fast::conv2d_forward(&mut y, &x, &w, Some(&b), sh);
    let (mut p1, mut a1) = (
        vec![f32::NAN; ps.output_len()],
        vec![u32::MAX; ps.output_len()],
    );
    pool::max_pool2d_forward(&mut p1, &mut a1, &y, &ps);
    // Fused.
    let (mut p2, mut a2) = (
        vec![f32::NAN; ps.output_len()],
        vec![u32::MAX; ps.output_len()],
    );
    fused::forward(&mut p2, &mut a2, &x, &w, Some(&b), sh);
    assert_eq!(bits(&p1), bits(&p2), "forward {sh:?}");
    assert_eq!(a1, a2, "argmax {sh:?}");

    let g = data(ps.output_len(), 4);
    let mut gy = vec![f32::NAN; sh.output_len()];
    pool::max_pool2d_backward(&mut gy, &g, &a1, &ps);
    let (mut dw1, mut db1) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; sh.k]);
    fast::conv2d_backward_weight(&mut dw1, &gy, &x, sh);
    fast::conv2d_backward_bias(&mut db1, &gy, sh);
    let (mut dw2, mut db2) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; sh.k]);
    let mut dx2 = vec![f32::NAN; sh.input_len()];
    fused::backward(
        if input_grad { Some(&mut dx2) } else { None },
        &mut dw2,
        &mut db2,
        &g,
        &a1,
        &x,
        &w,
        sh,
    );
    assert_eq!(bits(&dw1), bits(&dw2), "d_weight {sh:?}");
    assert_eq!(bits(&db1), bits(&db2), "d_bias {sh:?}");
    if input_grad {
        let mut dx1 = vec![f32::NAN; sh.input_len()];
        fast::conv2d_backward_input(&mut dx1, &gy, &w, sh);
        assert_eq!(bits(&dx1), bits(&dx2), "d_input {sh:?}");
    }
    check_batch_norm(sh, input_grad, (&x, &w, &y), &g, &a1, &ps);
}

/// The seed CNN's block with batch norm between the convolution and the pool: the fused
/// backward, batch norm's input gradient formed where the convolution's backward reads it,
/// equals batch norm → max-pool's backward (which writes it) then the convolution's, bit
/// for bit. `y` is the convolution's output, batch norm's input; `argmax` any valid one.
fn check_batch_norm(
    sh: &Conv2dShape,
    input_grad: bool,
    (x, w, y): (&[f32], &[f32], &[f32]),
    g: &[f32],
    argmax: &[u32],
    ps: &Pool2dShape,
) {
    let k = sh.k;
    let gamma: Vec<f32> = data(k, 5).iter().map(|v| v + 1.5).collect();
    let mean = data(k, 6);
    let invstd: Vec<f32> = data(k, 7).iter().map(|v| v.abs() + 0.5).collect();
    // Unfused: ∂y written at full size, then the convolution's backward reads it.
    let (mut dg1, mut dbeta1) = (vec![f32::NAN; k], vec![f32::NAN; k]);
    let mut dy = vec![f32::NAN; sh.output_len()];
    bn_pool::batch_norm_max_pool2d_backward(
        &mut dy,
        &mut dg1,
        &mut dbeta1,
        g,
        argmax,
        y,
        &gamma,
        &mean,
        &invstd,
        ps,
    );
    let (mut dw1, mut db1) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; k]);
    fast::conv2d_backward_weight(&mut dw1, &dy, x, sh);
    fast::conv2d_backward_bias(&mut db1, &dy, sh);
    // Fused: batch norm's sums, then ∂y formed image by image inside the convolution's.
    let (mut dg2, mut dbeta2) = (vec![f32::NAN; k], vec![f32::NAN; k]);
    let coef = bn_pool::batch_norm_max_pool2d_backward_coefficients(
        &mut dg2,
        &mut dbeta2,
        g,
        argmax,
        y,
        &gamma,
        &mean,
        &invstd,
        ps,
    );
    let (mut dw2, mut db2) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; k]);
    let mut dx2 = vec![f32::NAN; sh.input_len()];
    fused::backward_batch_norm(
        if input_grad { Some(&mut dx2) } else { None },
        &mut dw2,
        &mut db2,
        g,
        argmax,
        y,
        &coef,
        x,
        w,
        sh,
    );
    assert_eq!(bits(&dg1), bits(&dg2), "batch norm ∂γ {sh:?}");
    assert_eq!(bits(&dbeta1), bits(&dbeta2), "batch norm ∂β {sh:?}");
    assert_eq!(bits(&dw1), bits(&dw2), "batch norm d_weight {sh:?}");
    assert_eq!(bits(&db1), bits(&db2), "batch norm d_bias {sh:?}");
    if input_grad {
        let mut dx1 = vec![f32::NAN; sh.input_len()];
        fast::conv2d_backward_input(&mut dx1, &dy, w, sh);
        assert_eq!(bits(&dx1), bits(&dx2), "batch norm d_input {sh:?}");
    }
}

#[test]
fn fused_equals_unfused_bitwise() {
    for (n, c, h, w, k, kernel, stride, pad) in [
        (1, 1, 6, 6, 3, 3, 1, 1),
        (3, 8, 8, 6, 17, 3, 1, 1),
        (9, 9, 10, 4, 5, 3, 1, 1),
        (2, 16, 7, 7, 8, 2, 1, 0),
        (17, 12, 6, 10, 16, 5, 1, 2),
        (2, 4, 12, 12, 6, 3, 2, 1),
        (3, 9, 13, 9, 8, 3, 2, 2),
    ] {
        let sh = Conv2dShape::square(n, c, h, w, k, kernel, stride, pad, 1);
        check(&sh, false);
        check(&sh, true);
    }
}

/// Winograd's route (where `auto` gives it the forward): wide 3×3 layers, odd batches and
/// channel counts, padding 0, 1 and 2, and values that tie and NaN (output channel 0 is
/// its bias everywhere, all four of each window equal; a NaN input spreads to the windows
/// around it).
#[test]
fn fused_equals_unfused_on_winograd_layers() {
    for (n, c, h, k, pad) in [(1, 32, 14, 32, 1), (3, 33, 16, 40, 2), (2, 32, 16, 33, 0)] {
        let sh = Conv2dShape::square(n, c, h, h, k, 3, 1, pad, 1);
        check(&sh, false);
        check(&sh, true);
    }
    let sh = Conv2dShape::square(2, 32, 14, 14, 32, 3, 1, 1, 1);
    check_with(&sh, true, |x, w| {
        x[..14 * 14].fill(0.0);
        x[14 * 14 + 20] = f32::NAN;
        w[..32 * 9].fill(0.0);
    });
}

#[test]
fn fused_equals_unfused_on_the_conv_pool_shapes_at_batch_128() {
    check(&Conv2dShape::square(128, 1, 28, 28, 32, 3, 1, 1, 1), false);
    check(&Conv2dShape::square(128, 32, 14, 14, 64, 3, 1, 1, 1), true);
}
