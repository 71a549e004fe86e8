//! Fast against reference for the kernels of the deeper nets: average pooling, the row mean
//! (global average pooling), pad / crop, flip, channel concatenation and slicing, and the
//! fused add + ReLU. Everything but the row mean moves or rounds each element the same way,
//! so the comparisons are bit for bit; outputs start as NaN so a kernel that reads what it
//! should only write, or leaves an element unwritten, is caught.

mod common;
use common::{data, LENGTHS};
use stitch_kernels::max_pool2d::Pool2dShape;
use stitch_kernels::pad2d::{Crop2dShape, Pad2dShape};
use stitch_kernels::{avg_pool2d, concat, elementwise, flip, pad2d, reduce};

fn bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
        panic!("{what}: element {i} of {}: {} vs {}", a.len(), a[i], b[i]);
    }
}

/// (n, c, h, w): batch 1 and 3, sizes 1, 7, 17, non-square, and a deeper net's 28×28.
const PLANES: [[usize; 4]; 8] = [
    [1, 1, 1, 1],
    [1, 1, 7, 7],
    [3, 2, 7, 5],
    [1, 3, 17, 17],
    [2, 1, 1, 17],
    [3, 4, 17, 1],
    [4, 16, 28, 28],
    [128, 8, 8, 8],
];

#[test]
fn avg_pool2d_fast_matches_reference_bit_for_bit() {
    let mut count = 0;
    for [n, c, h, w] in PLANES {
        for kernel in [1, 2, 3, 7] {
            for stride in [1, 2, 3] {
                for padding in [0, 1, 2] {
                    let sh = Pool2dShape::square(n, c, h, w, kernel, stride, padding);
                    if sh.validate_for("avg_pool2d").is_err() {
                        continue;
                    }
                    let x = data(sh.input_len(), 1);
                    let g = data(sh.output_len(), 2);
                    let (mut y1, mut y2) = (
                        vec![f32::NAN; sh.output_len()],
                        vec![f32::NAN; sh.output_len()],
                    );
                    avg_pool2d::reference::avg_pool2d_forward(&mut y1, &x, &sh);
                    avg_pool2d::fast::avg_pool2d_forward(&mut y2, &x, &sh);
                    bits(&y1, &y2, &format!("forward {sh:?}"));
                    let (mut d1, mut d2) = (
                        vec![f32::NAN; sh.input_len()],
                        vec![f32::NAN; sh.input_len()],
                    );
                    avg_pool2d::reference::avg_pool2d_backward(&mut d1, &g, &sh);
                    avg_pool2d::fast::avg_pool2d_backward(&mut d2, &g, &sh);
                    bits(&d1, &d2, &format!("backward {sh:?}"));
                    count += 1;
                }
            }
        }
    }
    assert!(count > 100, "{count}");
}

#[test]
fn mean_rows_fast_matches_reference() {
    for [n, c, h, w] in PLANES {
        let rows = n * c;
        let x: Vec<f32> = data(rows * h * w, 3).iter().map(|v| v + 3.0).collect();
        let (mut y1, mut y2) = (vec![f32::NAN; rows], vec![f32::NAN; rows]);
        reduce::reference::mean_rows(&mut y1, &x);
        reduce::fast::mean_rows(&mut y2, &x);
        for r in 0..rows {
            // Both round a sum of h·w terms of about 3: a few ulps of the mean.
            let tol = 16.0 * f32::EPSILON;
            assert!(
                (y1[r] - y2[r]).abs() <= tol * y1[r].abs(),
                "row {r} of {rows} ({h}x{w}): {} vs {}",
                y1[r],
                y2[r]
            );
        }
        let g = data(rows, 4);
        let (mut d1, mut d2) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
        reduce::reference::mean_rows_backward(&mut d1, &g);
        reduce::fast::mean_rows_backward(&mut d2, &g);
        bits(&d1, &d2, &format!("mean_rows_backward {n}x{c}x{h}x{w}"));
    }
}

#[test]
fn pad_and_crop_fast_match_reference_bit_for_bit() {
    for [n, c, h, w] in PLANES {
        let planes = n * c;
        let x = data(planes * h * w, 5);
        for (top, bottom, left, right) in [
            (0, 0, 0, 0),
            (1, 1, 1, 1),
            (2, 0, 1, 2),
            (0, 2, 2, 0),
            (2, 2, 2, 2),
        ] {
            let sh = Pad2dShape {
                planes,
                h,
                w,
                top,
                bottom,
                left,
                right,
            };
            let (mut y1, mut y2) = (
                vec![f32::NAN; sh.output_len()],
                vec![f32::NAN; sh.output_len()],
            );
            pad2d::reference::pad2d(&mut y1, &x, -0.5, &sh);
            pad2d::fast::pad2d(&mut y2, &x, -0.5, &sh);
            bits(&y1, &y2, &format!("pad2d {sh:?}"));
            // The crop that undoes it gives the input back.
            let back = sh.inverse();
            let mut z = vec![f32::NAN; back.output_len()];
            pad2d::fast::crop2d(&mut z, &y2, &back);
            bits(&z, &x, &format!("crop2d of pad2d {sh:?}"));
        }
        for (top, left, oh, ow) in [
            (0, 0, h, w),
            (0, 0, 1, 1),
            (h / 2, w / 3, h - h / 2, w - w / 3),
            (h - 1, w - 1, 1, 1),
        ] {
            let sh = Crop2dShape {
                planes,
                h,
                w,
                top,
                left,
                out_h: oh,
                out_w: ow,
            };
            let (mut y1, mut y2) = (
                vec![f32::NAN; sh.output_len()],
                vec![f32::NAN; sh.output_len()],
            );
            pad2d::reference::crop2d(&mut y1, &x, &sh);
            pad2d::fast::crop2d(&mut y2, &x, &sh);
            bits(&y1, &y2, &format!("crop2d {sh:?}"));
        }
    }
}

#[test]
fn flip_fast_matches_reference_bit_for_bit() {
    for [n, c, h, w] in PLANES {
        let x = data(n * c * h * w, 6);
        let (mut y1, mut y2) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
        flip::reference::flip_w(&mut y1, &x, w);
        flip::fast::flip_w(&mut y2, &x, w);
        bits(&y1, &y2, &format!("flip_w {n}x{c}x{h}x{w}"));
        let mut z = vec![f32::NAN; x.len()];
        flip::fast::flip_w(&mut z, &y2, w);
        bits(&z, &x, "flip twice");
    }
}

#[test]
fn concat_and_slice_fast_match_reference_bit_for_bit() {
    for [n, _, h, w] in PLANES {
        let inner = h * w;
        for channels in [vec![1], vec![1, 2], vec![3, 1, 16], vec![16, 16]] {
            let xs: Vec<Vec<f32>> = channels
                .iter()
                .enumerate()
                .map(|(k, &c)| data(n * c * inner, 10 + k as u64))
                .collect();
            let refs: Vec<&[f32]> = xs.iter().map(|v| &v[..]).collect();
            let total: usize = channels.iter().sum();
            let (mut y1, mut y2) = (
                vec![f32::NAN; n * total * inner],
                vec![f32::NAN; n * total * inner],
            );
            concat::reference::concat_channels(&mut y1, &refs, &channels, n, inner);
            concat::fast::concat_channels(&mut y2, &refs, &channels, n, inner);
            bits(&y1, &y2, &format!("concat {channels:?} of {n}x{h}x{w}"));
            let mut start = 0;
            for (k, &c) in channels.iter().enumerate() {
                let (mut s1, mut s2) =
                    (vec![f32::NAN; n * c * inner], vec![f32::NAN; n * c * inner]);
                concat::reference::slice_channels(&mut s1, &y1, n, total, start, c, inner);
                concat::fast::slice_channels(&mut s2, &y1, n, total, start, c, inner);
                bits(&s1, &s2, "slice_channels");
                bits(&s2, &xs[k], "slice of the concatenation");
                start += c;
            }
        }
    }
}

#[test]
fn add_relu_mask_fast_matches_reference_bit_for_bit() {
    for n in LENGTHS {
        let mut a = data(n, 7);
        let b = data(n, 8);
        if n > 3 {
            a[1] = f32::NAN;
            a[2] = -b[2]; // a + b = 0 exactly: rectified to 0, not positive
            a[3] = -0.0;
        }
        let (mut y1, mut y2) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        let (mut p1, mut p2) = (vec![true; n], vec![false; n]);
        elementwise::reference::add_relu_mask(&mut y1, &mut p1, &a, &b);
        elementwise::fast::add_relu_mask(&mut y2, &mut p2, &a, &b);
        bits(&y1, &y2, &format!("add_relu_mask of {n}"));
        assert_eq!(p1, p2, "mask of {n}");
        // The definition: relu(a + b), NaN kept.
        for i in 0..n {
            let s = a[i] + b[i];
            let want = if s > 0.0 || s.is_nan() { s } else { 0.0 };
            assert_eq!(y1[i].to_bits(), want.to_bits(), "element {i}");
            assert_eq!(p1[i], y1[i] > 0.0);
        }
    }
}
