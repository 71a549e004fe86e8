//! The fast convolution against the reference loops: the grid of kernel sizes, strides,
//! paddings, dilations, batches, channels and non-square inputs, plus the ladder's real
//! layer shapes at batch 128. Outputs start as NaN, so a kernel that reads what it should
//! only write is caught.

mod common;
use common::{data, normwise};
use stitch_kernels::conv2d::fast::ConvAlgo;
use stitch_kernels::conv2d::{fast, reference, Conv2dShape};

const TOL: f32 = 1e-5;

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Checks `fast` (f32) against the reference loop run in f64 on the same inputs, and, for
/// shapes small enough that f32 summation error stays negligible, against the reference
/// loop in f32 too. (At batch 128 a weight-gradient entry sums 100,000 products; there the
/// f32 reference's own left-to-right rounding exceeds 1e-5, so the f64 run is the yardstick.)
fn agree(what: &str, sh: &Conv2dShape, got: &[f32], want32: &[f32], want64: &[f64]) {
    let want: Vec<f32> = want64.iter().map(|&v| v as f32).collect();
    let (i, e) = normwise(got, &want);
    assert!(
        e <= TOL,
        "{what} {sh:?}: error {e} against the f64 reference at {i} of {}",
        got.len()
    );
    if sh.macs() < 1 << 20 {
        let (i, e) = normwise(got, want32);
        assert!(
            e <= TOL,
            "{what} {sh:?}: error {e} against the f32 reference at {i} of {}",
            got.len()
        );
    }
}

fn compare(sh: &Conv2dShape) {
    for algo in [
        ConvAlgo::Auto,
        ConvAlgo::Direct,
        ConvAlgo::Im2col,
        ConvAlgo::Winograd,
    ] {
        compare_with(algo, sh);
    }
}

fn compare_with(algo: ConvAlgo, sh: &Conv2dShape) {
    let x = data(sh.input_len(), 1);
    let w = data(sh.weight_len(), 2);
    let b = data(sh.k, 3);
    let g = data(sh.output_len(), 4);
    let (x64, w64, b64, g64) = (to64(&x), to64(&w), to64(&b), to64(&g));
    let small = sh.macs() < 1 << 20;

    for bias in [true, false] {
        let mut want64 = vec![f64::NAN; sh.output_len()];
        let mut want = vec![f32::NAN; sh.output_len()];
        let mut got = vec![f32::NAN; sh.output_len()];
        reference::conv2d_forward(&mut want64, &x64, &w64, bias.then_some(&b64[..]), sh);
        if small {
            reference::conv2d_forward(&mut want, &x, &w, bias.then_some(&b[..]), sh);
        }
        fast::conv2d_forward_with(algo, &mut got, &x, &w, bias.then_some(&b[..]), sh);
        agree(
            if bias {
                "forward"
            } else {
                "forward without bias"
            },
            sh,
            &got,
            &want,
            &want64,
        );
    }

    let mut want64 = vec![f64::NAN; sh.input_len()];
    let mut want = vec![f32::NAN; sh.input_len()];
    let mut got = vec![f32::NAN; sh.input_len()];
    reference::conv2d_backward_input(&mut want64, &g64, &w64, sh);
    if small {
        reference::conv2d_backward_input(&mut want, &g, &w, sh);
    }
    fast::conv2d_backward_input_with(algo, &mut got, &g, &w, sh);
    agree(
        &format!("{algo:?} backward_input"),
        sh,
        &got,
        &want,
        &want64,
    );

    let mut want64 = vec![f64::NAN; sh.weight_len()];
    let mut want = vec![f32::NAN; sh.weight_len()];
    let mut got = vec![f32::NAN; sh.weight_len()];
    reference::conv2d_backward_weight(&mut want64, &g64, &x64, sh);
    if small {
        reference::conv2d_backward_weight(&mut want, &g, &x, sh);
    }
    fast::conv2d_backward_weight_with(algo, &mut got, &g, &x, sh);
    agree(
        &format!("{algo:?} backward_weight"),
        sh,
        &got,
        &want,
        &want64,
    );

    let mut want64 = vec![f64::NAN; sh.k];
    let mut want = vec![f32::NAN; sh.k];
    let mut got = vec![f32::NAN; sh.k];
    reference::conv2d_backward_bias(&mut want64, &g64, sh);
    reference::conv2d_backward_bias(&mut want, &g, sh);
    fast::conv2d_backward_bias(&mut got, &g, sh);
    agree("backward_bias", sh, &got, &want, &want64);

    // ∂w and ∂b in one call: the same bits as the two calls above, on every algorithm.
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut dw_alone = vec![f32::NAN; sh.weight_len()];
    fast::conv2d_backward_weight_with(algo, &mut dw_alone, &g, &x, sh);
    let (mut dw, mut db) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; sh.k]);
    fast::conv2d_backward_weight_bias_with(algo, &mut dw, &mut db, &g, &x, sh);
    assert_eq!(
        bits(&dw),
        bits(&dw_alone),
        "{algo:?} backward_weight_bias ∂w {sh:?}"
    );
    assert_eq!(
        bits(&db),
        bits(&got),
        "{algo:?} backward_weight_bias ∂b {sh:?}"
    );
}

/// Every valid configuration of the grid.
pub fn grid() -> Vec<Conv2dShape> {
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
fn fast_matches_reference_on_the_grid() {
    let g = grid();
    assert!(g.len() > 300, "{} configurations", g.len());
    for sh in &g {
        compare(sh);
    }
}

/// One input channel, 3 × 3: the direct route's own weight-gradient tile (3 channels × 9
/// taps, lanes over a row's positions): 1, 2, 4 and 16 output channels (tiles of 1, 2 and 3
/// channels), rows of 1, 5, 17 and 40 columns (a masked last vector, or three vectors),
/// padding 0, 1 and 2, and 9 images (two image groups).
#[test]
fn fast_matches_reference_with_one_input_channel() {
    for k in [1, 2, 4, 16] {
        for (h, w) in [(1, 1), (7, 5), (17, 17), (9, 40)] {
            for padding in [0, 1, 2] {
                for n in [1, 9] {
                    let sh = Conv2dShape::square(n, 1, h, w, k, 3, 1, padding, 1);
                    if sh.validate().is_ok() {
                        compare_with(ConvAlgo::Direct, &sh);
                        compare_with(ConvAlgo::Auto, &sh);
                    }
                }
            }
        }
    }
}

#[test]
fn fast_matches_reference_on_non_square_kernels_and_strides() {
    let sh = Conv2dShape {
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
    };
    compare(&sh);
    let sh = Conv2dShape {
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
    };
    compare(&sh);
}

#[test]
fn fast_matches_reference_with_many_input_channels() {
    // Eight or more input channels take the direct input-gradient tile; rows wider than 16
    // take two vectors per row; 17 output channels leave a partial tile.
    for (c, k, h, w, kernel, pad) in [
        (9, 3, 7, 5, 3, 1),
        (8, 17, 6, 20, 3, 0),
        (12, 5, 9, 9, 5, 2),
        (16, 8, 1, 1, 1, 0),
        (8, 2, 17, 7, 3, 2),
    ] {
        for n in [1, 3] {
            compare(&Conv2dShape::square(n, c, h, w, k, kernel, 1, pad, 1));
        }
    }
}

#[test]
fn fast_matches_reference_on_the_ladder_shapes_at_batch_128() {
    // conv / conv-pool / cnn layer 1, and conv-pool / cnn layer 2.
    compare(&Conv2dShape::square(128, 1, 28, 28, 32, 3, 1, 1, 1));
    compare(&Conv2dShape::square(128, 32, 14, 14, 64, 3, 1, 1, 1));
}

#[test]
fn weight_gradient_is_bitwise_identical_on_1_2_and_8_threads() {
    let sh = Conv2dShape::square(13, 3, 9, 9, 4, 3, 1, 1, 1);
    let x = data(sh.input_len(), 1);
    let g = data(sh.output_len(), 2);
    let runs: Vec<Vec<u32>> = [1, 2, 8]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            let mut dw = vec![0.0f32; sh.weight_len()];
            pool.install(|| fast::conv2d_backward_weight(&mut dw, &g, &x, &sh));
            dw.iter().map(|v| v.to_bits()).collect()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[test]
#[should_panic(expected = "is larger than the padded input")]
fn a_kernel_larger_than_the_padded_input_is_refused() {
    let sh = Conv2dShape::square(1, 1, 3, 3, 1, 5, 1, 0, 1);
    let mut out = vec![0.0f32; 1];
    stitch_kernels::conv2d::conv2d_forward(&mut out, &[0.0; 9], &[0.0; 25], None, &sh);
}

#[test]
fn validation_names_the_problem() {
    let mut sh = Conv2dShape::square(1, 1, 3, 3, 1, 3, 0, 0, 1);
    assert!(sh
        .validate()
        .unwrap_err()
        .contains("stride [0, 0] must be at least 1"));
    sh.stride = [1, 1];
    sh.dilation = [0, 1];
    assert!(sh.validate().unwrap_err().contains("dilation"));
}
