//! The phase-plane direct convolution (`conv2d::planes`, the fast path of AVX2 and NEON)
//! against the reference loops, at every vector width this machine runs: 1 and 4 lanes in
//! plain Rust, and AVX2's 8 (or NEON's 4) where the CPU has them. The grid of kernel sizes,
//! strides, paddings, dilations, batches and non-square inputs, the deeper nets' layer
//! shapes, and thread-count independence. Outputs start as NaN.

mod common;
use common::{data, normwise};
use stitch_kernels::conv2d::planes::{self, Width};
use stitch_kernels::conv2d::{reference, Conv2dShape};

const TOL: f32 = 1e-5;

fn check(what: &str, width: Width, sh: &Conv2dShape, got: &[f32], want64: &[f64]) {
    let want: Vec<f32> = want64.iter().map(|&v| v as f32).collect();
    let (i, e) = normwise(got, &want);
    assert!(
        e <= TOL,
        "{what} at {width:?} {sh:?}: error {e} against the f64 reference at {i} of {}",
        got.len()
    );
}

fn compare(width: Width, sh: &Conv2dShape) {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let x = data(sh.input_len(), 1);
    let w = data(sh.weight_len(), 2);
    let b = data(sh.k, 3);
    let g = data(sh.output_len(), 4);
    let (x64, w64, b64, g64) = (to64(&x), to64(&w), to64(&b), to64(&g));
    for bias in [true, false] {
        let mut want = vec![f64::NAN; sh.output_len()];
        reference::conv2d_forward(&mut want, &x64, &w64, bias.then_some(&b64[..]), sh);
        let mut got = vec![f32::NAN; sh.output_len()];
        planes::forward(width, &mut got, &x, &w, bias.then_some(&b[..]), sh);
        check("forward", width, sh, &got, &want);
    }
    let mut want = vec![f64::NAN; sh.input_len()];
    reference::conv2d_backward_input(&mut want, &g64, &w64, sh);
    let mut got = vec![f32::NAN; sh.input_len()];
    planes::backward_input(width, &mut got, &g, &w, sh);
    check("backward_input", width, sh, &got, &want);
    let mut want = vec![f64::NAN; sh.weight_len()];
    reference::conv2d_backward_weight(&mut want, &g64, &x64, sh);
    let mut got = vec![f32::NAN; sh.weight_len()];
    planes::backward_weight(width, &mut got, &g, &x, sh);
    check("backward_weight", width, sh, &got, &want);
    // ∂w and ∂b in one pass: ∂w the same bits as alone, ∂b the same bits as the fast bias
    // kernel, and both within the tolerance of the f64 reference.
    let (mut dw, mut db) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; sh.k]);
    planes::backward_weight_bias(width, &mut dw, Some(&mut db), &g, &x, sh);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&dw),
        bits(&got),
        "backward_weight_bias ∂w at {width:?} {sh:?}"
    );
    let mut db_alone = vec![f32::NAN; sh.k];
    stitch_kernels::conv2d::fast::conv2d_backward_bias(&mut db_alone, &g, sh);
    assert_eq!(
        bits(&db),
        bits(&db_alone),
        "backward_weight_bias ∂b at {width:?} {sh:?}"
    );
    let mut want = vec![f64::NAN; sh.k];
    reference::conv2d_backward_bias(&mut want, &g64, sh);
    check("backward_weight_bias ∂b", width, sh, &db, &want);
}

/// The odd-shape grid: kernels 1, 3, 5; stride 1, 2; padding 0, 1, 2; dilation 1, 2;
/// batch 1, 3; 1–3 input channels and 2–3 output channels; 7×5, 1×1, 17×7 inputs.
fn grid() -> Vec<Conv2dShape> {
    let mut v = Vec::new();
    for kernel in [1, 3, 5] {
        for stride in [1, 2] {
            for padding in [0, 1, 2] {
                for dilation in [1, 2] {
                    for n in [1, 3] {
                        for c in [1, 2, 3] {
                            for (h, w) in [(7, 5), (1, 1), (17, 7)] {
                                let sh = Conv2dShape::square(
                                    n,
                                    c,
                                    h,
                                    w,
                                    c % 2 + 2,
                                    kernel,
                                    stride,
                                    padding,
                                    dilation,
                                );
                                if sh.validate().is_ok() {
                                    v.push(sh);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn planes_match_the_reference_on_the_grid_at_every_width() {
    let g = grid();
    assert!(g.len() > 300);
    for width in Width::supported() {
        for sh in &g {
            compare(width, sh);
        }
    }
}

#[test]
fn planes_match_the_reference_on_non_square_kernels_strides_and_many_channels() {
    let shapes = [
        Conv2dShape {
            n: 2,
            c: 3,
            h: 9,
            w: 6,
            k: 4,
            r: 3,
            s: 1,
            stride: [2, 1],
            padding: [1, 0],
            dilation: [1, 2],
        },
        Conv2dShape {
            n: 1,
            c: 2,
            h: 5,
            w: 11,
            k: 3,
            r: 2,
            s: 4,
            stride: [1, 3],
            padding: [0, 2],
            dilation: [2, 1],
        },
        Conv2dShape::square(2, 9, 7, 5, 3, 3, 1, 1, 1),
        Conv2dShape::square(1, 8, 6, 20, 17, 3, 1, 0, 1),
        Conv2dShape::square(3, 12, 9, 9, 5, 5, 2, 2, 1),
        Conv2dShape::square(2, 16, 1, 1, 8, 1, 1, 0, 1),
        Conv2dShape::square(1, 5, 10, 10, 7, 3, 3, 1, 1),
        Conv2dShape::square(1, 3, 8, 8, 2, 1, 3, 0, 1),
    ];
    for width in Width::supported() {
        for sh in &shapes {
            compare(width, sh);
        }
    }
}

#[test]
fn planes_match_the_reference_on_the_deeper_nets_layers() {
    // resnet20: 16→16 @ 28×28, the stride-2 3×3 and 1×1 layers, 32→32 @ 14×14, 64→64 @ 7×7;
    // vgg-small's 128-channel layer @ 3×3 (batch 4 keeps the f64 reference quick).
    let shapes = [
        Conv2dShape::square(4, 16, 28, 28, 16, 3, 1, 1, 1),
        Conv2dShape::square(4, 16, 28, 28, 32, 3, 2, 1, 1),
        Conv2dShape::square(4, 16, 28, 28, 32, 1, 2, 0, 1),
        Conv2dShape::square(4, 32, 14, 14, 32, 3, 1, 1, 1),
        Conv2dShape::square(4, 64, 7, 7, 64, 3, 1, 1, 1),
        Conv2dShape::square(4, 128, 3, 3, 128, 3, 1, 1, 1),
        Conv2dShape::square(4, 1, 28, 28, 16, 3, 1, 1, 1),
    ];
    for width in Width::supported() {
        for sh in &shapes {
            compare(width, sh);
        }
    }
}

#[test]
fn planes_are_bitwise_identical_on_1_2_and_8_threads() {
    let sh = Conv2dShape::square(13, 3, 9, 9, 4, 3, 2, 1, 1);
    let x = data(sh.input_len(), 1);
    let w = data(sh.weight_len(), 2);
    let g = data(sh.output_len(), 3);
    let width = *Width::supported().last().unwrap();
    let runs: Vec<Vec<u32>> = [1, 2, 8]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| {
                let mut y = vec![0.0f32; sh.output_len()];
                let mut dx = vec![0.0f32; sh.input_len()];
                let mut dw = vec![0.0f32; sh.weight_len()];
                planes::forward(width, &mut y, &x, &w, None, &sh);
                planes::backward_input(width, &mut dx, &g, &w, &sh);
                planes::backward_weight(width, &mut dw, &g, &x, &sh);
                y.iter()
                    .chain(&dx)
                    .chain(&dw)
                    .map(|v| v.to_bits())
                    .collect()
            })
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}
