//! Winograd F(2×2, 3×3) (`conv2d::winograd`) against the reference loops in f64, at every
//! vector width this machine runs: forward, input gradient and weight gradient (alone and with the bias gradient), within the
//! oracle's tolerance (1e-5 normwise), on odd shapes (batch 1 and 3, sizes 1, 7, 17,
//! non-square, odd output sizes that leave half tiles, padding 0, 1, 2) and the deeper
//! nets' layers; and the same bits on 1, 2 and 8 threads.

mod common;
use common::{data, normwise};
use stitch_kernels::conv2d::planes::Width;
use stitch_kernels::conv2d::{reference, winograd, Conv2dShape};

const TOL: f32 = 1e-5;

fn check(what: &str, width: Width, sh: &Conv2dShape, got: &[f32], want64: &[f64]) {
    let want: Vec<f32> = want64.iter().map(|&v| v as f32).collect();
    let (i, e) = normwise(got, &want);
    assert!(
        e <= TOL,
        "{what} at {width:?} {sh:?}: error {e} at {i} of {}",
        got.len()
    );
}

fn compare(width: Width, sh: &Conv2dShape) {
    assert!(winograd::applies(sh), "{sh:?}");
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (x, w, b, g) = (
        data(sh.input_len(), 1),
        data(sh.weight_len(), 2),
        data(sh.k, 3),
        data(sh.output_len(), 4),
    );
    let (x64, w64, b64, g64) = (to64(&x), to64(&w), to64(&b), to64(&g));
    let mut want = vec![f64::NAN; sh.output_len()];
    reference::conv2d_forward(&mut want, &x64, &w64, Some(&b64), sh);
    let mut got = vec![f32::NAN; sh.output_len()];
    winograd::forward(width, &mut got, &x, &w, Some(&b), sh);
    check("forward", width, sh, &got, &want);
    let mut want = vec![f64::NAN; sh.input_len()];
    reference::conv2d_backward_input(&mut want, &g64, &w64, sh);
    let mut got = vec![f32::NAN; sh.input_len()];
    winograd::backward_input(width, &mut got, &g, &w, sh);
    check("backward_input", width, sh, &got, &want);
    let mut want = vec![f64::NAN; sh.weight_len()];
    reference::conv2d_backward_weight(&mut want, &g64, &x64, sh);
    let mut got = vec![f32::NAN; sh.weight_len()];
    winograd::backward_weight(width, &mut got, &g, &x, sh);
    check("backward_weight", width, sh, &got, &want);
    // ∂w and ∂b in one pass: ∂w the same bits as alone, ∂b the same bits as the fast bias
    // kernel, and both within the tolerance of the f64 reference.
    let (mut dw, mut db) = (vec![f32::NAN; sh.weight_len()], vec![f32::NAN; sh.k]);
    winograd::backward_weight_bias(width, &mut dw, Some(&mut db), &g, &x, sh);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&dw), bits(&got), "∂w with ∂b at {width:?} {sh:?}");
    let mut db_alone = vec![f32::NAN; sh.k];
    stitch_kernels::conv2d::fast::conv2d_backward_bias(&mut db_alone, &g, sh);
    assert_eq!(bits(&db), bits(&db_alone), "∂b at {width:?} {sh:?}");
    let mut want = vec![f64::NAN; sh.k];
    reference::conv2d_backward_bias(&mut want, &g64, sh);
    check("backward_weight_bias ∂b", width, sh, &db, &want);
}

#[test]
fn winograd_matches_the_reference_on_odd_shapes_at_every_width() {
    let mut count = 0;
    for width in Width::supported() {
        for padding in [0, 1, 2] {
            for n in [1, 3] {
                for (c, k) in [(1, 2), (3, 2), (2, 7), (9, 17)] {
                    for (h, w) in [(7, 5), (1, 1), (17, 7), (3, 3), (8, 6), (2, 9)] {
                        let sh = Conv2dShape::square(n, c, h, w, k, 3, 1, padding, 1);
                        if sh.validate().is_ok() {
                            compare(width, &sh);
                            count += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(count > 100, "{count}");
}

#[test]
fn winograd_matches_the_reference_on_the_deeper_nets_layers() {
    for width in Width::supported() {
        for sh in [
            Conv2dShape::square(4, 16, 28, 28, 16, 3, 1, 1, 1),
            Conv2dShape::square(4, 32, 14, 14, 32, 3, 1, 1, 1),
            Conv2dShape::square(4, 64, 7, 7, 64, 3, 1, 1, 1),
            Conv2dShape::square(4, 32, 14, 14, 64, 3, 1, 1, 1),
            Conv2dShape::square(4, 128, 3, 3, 128, 3, 1, 1, 1),
        ] {
            compare(width, &sh);
        }
    }
}

#[test]
fn winograd_is_bitwise_identical_on_1_2_and_8_threads() {
    let sh = Conv2dShape::square(19, 5, 9, 7, 6, 3, 1, 1, 1);
    let (x, w, g) = (
        data(sh.input_len(), 1),
        data(sh.weight_len(), 2),
        data(sh.output_len(), 3),
    );
    let width = *Width::supported().last().unwrap();
    let runs: Vec<Vec<u32>> = [1, 2, 8]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| {
                let (mut y, mut dx, mut dw) = (
                    vec![0.0f32; sh.output_len()],
                    vec![0.0f32; sh.input_len()],
                    vec![0.0f32; sh.weight_len()],
                );
                winograd::forward(width, &mut y, &x, &w, None, &sh);
                winograd::backward_input(width, &mut dx, &g, &w, &sh);
                winograd::backward_weight(width, &mut dw, &g, &x, &sh);
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
