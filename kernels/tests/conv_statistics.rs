//! Batch norm's statistics taken by the convolution
//! (`conv2d::fast::conv2d_forward_with_statistics`) and the batch norm kernels that take
//! them (`*_from_blocks`): the convolution's output is the plain forward's, bit for bit; each
//! block's (mean, Σ (y − mean)²) equals the f64 reference of that plane; and the batch
//! norm kernels given the blocks equal the same kernels computing their own statistics, bit
//! for bit. On every algorithm and odd shapes: batch 1, 1 and 3 channels, 7×7 and 17×17,
//! stride 2, padding 0/1/2, 1×1, and the ladder's and resnet20's layers.

mod common;
use common::{data, normwise};
use stitch_kernels::batch_norm::{pool, relu, BatchNormParams, BatchNormShape};
use stitch_kernels::conv2d::fast::{conv2d_forward_with, conv2d_forward_with_statistics};
use stitch_kernels::conv2d::{Conv2dShape, ConvAlgo};
use stitch_kernels::max_pool2d::Pool2dShape;

/// (n, c, h, k, kernel, stride, pad).
const SHAPES: [(usize, usize, usize, usize, usize, usize, usize); 8] = [
    (1, 1, 7, 4, 3, 1, 1),
    (2, 3, 17, 5, 3, 2, 2),
    (2, 3, 7, 6, 3, 1, 0),
    (2, 2, 9, 7, 1, 1, 0),
    (3, 1, 28, 32, 3, 1, 1),
    (2, 32, 14, 64, 3, 1, 1),
    (2, 16, 28, 16, 3, 1, 1),
    (2, 64, 7, 64, 3, 1, 1),
];

/// A batch norm kernel run on (params, saved mean, saved invstd), returning what it wrote.
type Kernel<'a> = dyn Fn(BatchNormParams<'_, f32>, &mut [f32], &mut [f32]) -> Vec<f32> + 'a;

const ALGOS: [ConvAlgo; 4] = [
    ConvAlgo::Auto,
    ConvAlgo::Winograd,
    ConvAlgo::Direct,
    ConvAlgo::Im2col,
];

fn conv_shape(
    (n, c, h, k, r, stride, pad): (usize, usize, usize, usize, usize, usize, usize),
) -> Conv2dShape {
    Conv2dShape {
        n,
        c,
        h,
        w: h,
        k,
        r,
        s: r,
        stride: [stride; 2],
        padding: [pad; 2],
        dilation: [1, 1],
    }
}

#[test]
fn the_convolution_takes_each_planes_statistics_and_writes_the_same_output() {
    for (i, &shape) in SHAPES.iter().enumerate() {
        let sh = conv_shape(shape);
        let x = data(sh.input_len(), 10 + i as u64);
        let w = data(sh.weight_len(), 20 + i as u64);
        let b = data(sh.k, 30 + i as u64);
        for algo in ALGOS {
            let mut plain = vec![0.0f32; sh.output_len()];
            conv2d_forward_with(algo, &mut plain, &x, &w, Some(&b), &sh);
            let mut y = vec![f32::NAN; sh.output_len()];
            let mut blocks = vec![(f32::NAN, f32::NAN); sh.n * sh.k];
            conv2d_forward_with_statistics(algo, &mut y, &mut blocks, &x, &w, Some(&b), &sh);
            let at = format!("{shape:?} {algo:?}");
            assert_eq!(y, plain, "output {at}");
            let hw = sh.out_h() * sh.out_w();
            for (blk, (plane, &(mean, m2))) in y.chunks(hw).zip(&blocks).enumerate() {
                let m64 = plane.iter().map(|&v| v as f64).sum::<f64>() / hw as f64;
                let s64: f64 = plane.iter().map(|&v| (v as f64 - m64).powi(2)).sum();
                let scale = plane.iter().fold(1.0f64, |m, &v| m.max((v as f64).abs()));
                assert!((mean as f64 - m64).abs() <= 1e-5 * scale, "mean {blk} {at}");
                assert!(
                    (m2 as f64 - s64).abs() <= 1e-5 * (s64 + scale),
                    "M2 {blk} {at}"
                );
            }
        }
    }
}

#[test]
fn batch_norm_from_the_convolutions_blocks_equals_its_own_statistics() {
    for (i, &shape) in SHAPES.iter().enumerate() {
        let sh = conv_shape(shape);
        let x = data(sh.input_len(), 40 + i as u64);
        let w = data(sh.weight_len(), 50 + i as u64);
        let mut y = vec![0.0f32; sh.output_len()];
        let mut blocks = vec![(0.0f32, 0.0f32); sh.n * sh.k];
        conv2d_forward_with_statistics(ConvAlgo::Auto, &mut y, &mut blocks, &x, &w, None, &sh);
        let (p, q) = (sh.out_h(), sh.out_w());
        let bn = BatchNormShape {
            n: sh.n,
            c: sh.k,
            hw: p * q,
        };
        let gamma: Vec<f32> = data(bn.c, 60).iter().map(|v| v + 1.0).collect();
        let beta = data(bn.c, 61);
        let shortcut = data(bn.len(), 62);
        let at = format!("{shape:?}");
        // Runs `f` with fresh running statistics; returns what it wrote and them.
        let run = |f: &Kernel<'_>| {
            let (mut rm, mut rv) = (vec![0.5f32; bn.c], vec![2.0f32; bn.c]);
            let (mut mean, mut invstd) = (vec![0.0f32; bn.c], vec![0.0f32; bn.c]);
            let params = BatchNormParams {
                weight: &gamma,
                bias: &beta,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum: 0.1,
                eps: 1e-5,
            };
            let out = f(params, &mut mean, &mut invstd);
            (out, mean, invstd, rm, rv)
        };
        // batch norm → ReLU.
        let own = run(&|p, m, s| {
            let mut out = vec![0.0f32; bn.len()];
            relu::batch_norm_relu_forward_train(&mut out, m, s, &y, p, &bn);
            out
        });
        let given = run(&|p, m, s| {
            let mut out = vec![0.0f32; bn.len()];
            relu::batch_norm_relu_forward_train_from_blocks(&mut out, m, s, &blocks, &y, p, &bn);
            out
        });
        assert!(own == given, "batch_norm_relu {at}");
        // batch norm + shortcut → ReLU (the mask too).
        let with_mask = |from_blocks: bool| {
            run(&|p, m, s| {
                let (mut out, mut pos) = (vec![0.0f32; bn.len()], vec![false; bn.len()]);
                if from_blocks {
                    relu::batch_norm_add_relu_forward_train_from_blocks(
                        &mut out, &mut pos, m, s, &blocks, &y, &shortcut, p, &bn,
                    );
                } else {
                    relu::batch_norm_add_relu_forward_train(
                        &mut out, &mut pos, m, s, &y, &shortcut, p, &bn,
                    );
                }
                out.extend(pos.iter().map(|&v| v as u8 as f32));
                out
            })
        };
        assert!(
            with_mask(false) == with_mask(true),
            "batch_norm_add_relu {at}"
        );
        // batch norm → 2×2 max-pool, where the output's sides are even.
        if p % 2 == 0 && q % 2 == 0 {
            let ps = Pool2dShape {
                n: sh.n,
                c: sh.k,
                h: p,
                w: q,
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            };
            let pooled = |from_blocks: bool| {
                run(&|pr, m, s| {
                    let mut out = vec![0.0f32; ps.output_len()];
                    let mut arg = vec![0u32; ps.output_len()];
                    if from_blocks {
                        pool::batch_norm_max_pool2d_forward_train_from_blocks(
                            &mut out, &mut arg, m, s, &blocks, &y, pr, &ps,
                        );
                    } else {
                        pool::batch_norm_max_pool2d_forward_train(
                            &mut out, &mut arg, m, s, &y, pr, &ps,
                        );
                    }
                    out.extend(arg.iter().map(|&a| a as f32));
                    out
                })
            };
            assert!(pooled(false) == pooled(true), "batch_norm_max_pool2d {at}");
        }
        // The statistics themselves, against the f64 reference over the batch.
        let (mut mean, mut invstd) = (vec![0.0f32; bn.c], vec![0.0f32; bn.c]);
        let (mut rm, mut rv) = (vec![0.0f32; bn.c], vec![1.0f32; bn.c]);
        let mut out = vec![0.0f32; bn.len()];
        let params = BatchNormParams {
            weight: &gamma,
            bias: &beta,
            running_mean: &mut rm,
            running_var: &mut rv,
            momentum: 0.1,
            eps: 1e-5,
        };
        let blk = &blocks;
        relu::batch_norm_relu_forward_train_from_blocks(
            &mut out,
            &mut mean,
            &mut invstd,
            blk,
            &y,
            params,
            &bn,
        );
        let want: Vec<f32> = (0..bn.c)
            .map(|c| {
                let vals =
                    (0..bn.n).flat_map(|n| &y[(n * bn.c + c) * bn.hw..(n * bn.c + c + 1) * bn.hw]);
                let (s, cnt) = vals.fold((0.0f64, 0.0f64), |(s, k), &v| (s + v as f64, k + 1.0));
                (s / cnt) as f32
            })
            .collect();
        let (_, err) = normwise(&mean, &want);
        assert!(err < 1e-5, "mean {at}: {err}");
    }
}
