//! Fast max pooling against the reference, and PyTorch's tie rule.

mod common;
use common::data;
use stitch_kernels::isa::Isa;
use stitch_kernels::max_pool2d::{fast, reference, Pool2dShape};

fn compare(sh: &Pool2dShape) {
    compare_on(sh, &data(sh.input_len(), 1));
}

/// Every SIMD level this CPU has against the reference: values and argmax bit for bit,
/// then the gradient routing.
fn compare_on(sh: &Pool2dShape, x: &[f32]) {
    for isa in Isa::supported() {
        compare_with(isa, sh, x);
    }
}

fn compare_with(isa: Isa, sh: &Pool2dShape, x: &[f32]) {
    let g = data(sh.output_len(), 2);
    let (mut y1, mut y2) = (
        vec![f32::NAN; sh.output_len()],
        vec![f32::NAN; sh.output_len()],
    );
    let (mut a1, mut a2) = (
        vec![u32::MAX; sh.output_len()],
        vec![u32::MAX; sh.output_len()],
    );
    reference::max_pool2d_forward(&mut y1, &mut a1, x, sh);
    fast::max_pool2d_forward_with(isa, &mut y2, &mut a2, x, sh);
    assert_eq!(a1, a2, "argmax {isa:?} {sh:?}");
    assert!(
        y1.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()),
        "forward {isa:?} {sh:?}"
    );
    let (mut d1, mut d2) = (
        vec![f32::NAN; sh.input_len()],
        vec![f32::NAN; sh.input_len()],
    );
    reference::max_pool2d_backward(&mut d1, &g, &a1, sh);
    fast::max_pool2d_backward_with(isa, &mut d2, &g, &a1, sh);
    assert!(
        d1.iter().zip(&d2).all(|(a, b)| a.to_bits() == b.to_bits()),
        "backward {isa:?} {sh:?}"
    );
}

#[test]
fn ties_and_nan_on_wide_rows_follow_the_reference_at_every_level() {
    // Three levels only, so most windows hold ties, and a NaN every 13th value: the SIMD
    // bodies' strictly-greater and NaN-wins rules against the reference's, on rows of
    // 1 to 40 windows (the 8- and 4-wide steps, the overlapping last step, the scalar rows).
    for w in [2, 6, 8, 10, 14, 16, 18, 28, 30, 34, 48, 80] {
        let sh = Pool2dShape::square(2, 3, 6, w, 2, 2, 0);
        let x: Vec<f32> = (0..sh.input_len())
            .map(|i| {
                if i % 13 == 5 {
                    f32::NAN
                } else {
                    ((i * 7) % 3) as f32
                }
            })
            .collect();
        compare_on(&sh, &x);
    }
}

#[test]
fn fast_matches_reference_on_the_grid() {
    let mut count = 0;
    for kernel in [1, 2, 3, 5] {
        for stride in [1, 2, 3] {
            for padding in [0, 1, 2] {
                for n in [1, 3] {
                    for c in [1, 2, 3] {
                        // Rows of 1, 3, 9, 17 and 33 windows: whole-vector spills past
                        // short rows, and the steps that start mid-row.
                        let sizes = [(7, 5), (1, 1), (17, 7), (28, 28), (14, 14)];
                        let wide = [(2, 2), (8, 6), (2, 18), (4, 34), (5, 35), (6, 66)];
                        for (h, w) in sizes.into_iter().chain(wide) {
                            let sh = Pool2dShape::square(n, c, h, w, kernel, stride, padding);
                            if sh.validate().is_ok() {
                                compare(&sh);
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(count > 300, "{count}");
    compare(&Pool2dShape {
        n: 2,
        c: 3,
        h: 9,
        w: 8,
        kernel: [3, 2],
        stride: [2, 1],
        padding: [1, 0],
    });
}

#[test]
fn fast_matches_reference_on_the_ladder_shapes_at_batch_128() {
    compare(&Pool2dShape::square(128, 32, 28, 28, 2, 2, 0));
    compare(&Pool2dShape::square(128, 64, 14, 14, 2, 2, 0));
}

#[test]
fn ties_go_to_the_first_element_in_row_major_order() {
    // One 4x4 plane of equal values: each 2x2 window sends its gradient to its top-left.
    let sh = Pool2dShape::square(1, 1, 4, 4, 2, 2, 0);
    for run in [
        reference::max_pool2d_forward as fn(&mut [f32], &mut [u32], &[f32], &Pool2dShape),
        fast::max_pool2d_forward,
    ] {
        let (mut y, mut am) = (vec![0.0; 4], vec![0; 4]);
        run(&mut y, &mut am, &[3.0; 16], &sh);
        assert_eq!(am, vec![0, 2, 8, 10]);
        let mut dx = vec![9.0; 16];
        fast::max_pool2d_backward(&mut dx, &[1.0, 2.0, 3.0, 4.0], &am, &sh);
        let mut want = vec![0.0; 16];
        want[0] = 1.0;
        want[2] = 2.0;
        want[8] = 3.0;
        want[10] = 4.0;
        assert_eq!(dx, want);
    }
    // A later tie does not win, a later strict maximum does, and NaN wins.
    let sh = Pool2dShape::square(1, 1, 2, 2, 2, 2, 0);
    let (mut y, mut am) = (vec![0.0], vec![0]);
    fast::max_pool2d_forward(&mut y, &mut am, &[1.0, 5.0, 5.0, 2.0], &sh);
    assert_eq!((y[0], am[0]), (5.0, 1));
    fast::max_pool2d_forward(&mut y, &mut am, &[1.0, f32::NAN, 5.0, 2.0], &sh);
    assert!(y[0].is_nan() && am[0] == 1);
}

#[test]
fn validation_names_the_problem() {
    assert!(Pool2dShape::square(1, 1, 4, 4, 2, 2, 2)
        .validate()
        .unwrap_err()
        .contains("at most half the kernel"));
    assert!(Pool2dShape::square(1, 1, 4, 4, 2, 0, 0)
        .validate()
        .unwrap_err()
        .contains("at least 1"));
    assert!(Pool2dShape::square(1, 1, 2, 2, 3, 1, 0)
        .validate()
        .unwrap_err()
        .contains("larger than the padded input"));
}
