//! Kernel benchmarks at the ladder's real shapes: the reference loop and the fast kernel side
//! by side, and each SIMD level this CPU has.
//!
//! `cargo bench --bench kernels` (all), or `cargo bench --bench kernels -- gemm` (one group).
//! Throughput: gemm in elements = multiply-adds × 2 (criterion prints "Gelem/s", read it as
//! GFLOP/s); memory-bound kernels in bytes read + written (GB/s).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use stitch_kernels::batch_norm::{BatchNormParams, BatchNormShape};
use stitch_kernels::conv2d::Conv2dShape;
use stitch_kernels::gemm::{fast, reference, GemmArgs, MatMut, MatRef};
use stitch_kernels::isa::Isa;
use stitch_kernels::max_pool2d::Pool2dShape;
use stitch_kernels::{batch_norm, conv2d, dropout, elementwise, max_pool2d, reduce};

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// (name, m, k, n, A transposed?, B transposed?): the linear layers' three products at batch
/// 128 as `linear` calls them (forward X·Wᵀ, ∂input G·W, ∂weight Gᵀ·X).
const GEMM_SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("dnn_fc1_forward_128x784x128_Bt", 128, 784, 128, false, true),
    ("dnn_fc1_d_input_128x128x784", 128, 128, 784, false, false),
    (
        "dnn_fc1_d_weight_128x128x784_At",
        128,
        128,
        784,
        true,
        false,
    ),
    (
        "conv_fc1_forward_128x25088x128_Bt",
        128,
        25088,
        128,
        false,
        true,
    ),
    (
        "conv_fc1_d_input_128x128x25088",
        128,
        128,
        25088,
        false,
        false,
    ),
    (
        "conv_fc1_d_weight_128x128x25088_At",
        128,
        128,
        25088,
        true,
        false,
    ),
    ("square_512", 512, 512, 512, false, false),
];

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for &(name, m, k, n, ta, tb) in GEMM_SHAPES {
        let a = data(m * k);
        let b = data(k * n);
        let mut out = vec![0.0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let a_view = || {
            if ta {
                MatRef::row_major(&a, k, m).t()
            } else {
                MatRef::row_major(&a, m, k)
            }
        };
        let b_view = || {
            if tb {
                MatRef::row_major(&b, n, k).t()
            } else {
                MatRef::row_major(&b, k, n)
            }
        };
        g.bench_function(BenchmarkId::new("fast", name), |bench| {
            bench.iter(|| {
                fast::sgemm(GemmArgs {
                    c: MatMut::row_major(&mut out, m, n),
                    alpha: 1.0,
                    a: a_view(),
                    b: b_view(),
                    beta: 0.0,
                });
                black_box(&out);
            })
        });
        // The same product on matrixmultiply (stitch's fast sgemm before its own engine).
        g.bench_function(BenchmarkId::new("matrixmultiply", name), |bench| {
            bench.iter(|| {
                fast::sgemm_matrixmultiply(GemmArgs {
                    c: MatMut::row_major(&mut out, m, n),
                    alpha: 1.0,
                    a: a_view(),
                    b: b_view(),
                    beta: 0.0,
                });
                black_box(&out);
            })
        });
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            g.bench_function(
                BenchmarkId::new(format!("fast_{threads}thread"), name),
                |bench| {
                    bench.iter(|| {
                        pool.install(|| {
                            fast::sgemm(GemmArgs {
                                c: MatMut::row_major(&mut out, m, n),
                                alpha: 1.0,
                                a: a_view(),
                                b: b_view(),
                                beta: 0.0,
                            })
                        });
                        black_box(&out);
                    })
                },
            );
        }
        if m * k * n <= 128 * 784 * 128 {
            g.bench_function(BenchmarkId::new("reference", name), |bench| {
                bench.iter(|| {
                    reference::gemm(GemmArgs {
                        c: MatMut::row_major(&mut out, m, n),
                        alpha: 1.0,
                        a: a_view(),
                        b: b_view(),
                        beta: 0.0,
                    });
                    black_box(&out);
                })
            });
        }
    }
    g.finish();
}

/// Elementwise kernels at 128 × 32 × 28 × 28 = 3.2M floats: the size of the first conv
/// block's activations at batch 128.
fn elementwise_kernels(c: &mut Criterion) {
    const N: usize = 128 * 32 * 28 * 28;
    let a = data(N);
    let b = data(N + 3)[3..].to_vec();
    let mut out = vec![0.0f32; N];
    let mut g = c.benchmark_group("elementwise");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    let f4 = 4 * N as u64;
    let mut levels: Vec<(String, Option<Isa>)> = vec![("reference".into(), None)];
    levels.extend(
        Isa::supported()
            .into_iter()
            .map(|i| (i.name().to_string(), Some(i))),
    );
    for (label, isa) in &levels {
        g.throughput(Throughput::Bytes(3 * f4));
        g.bench_function(BenchmarkId::new("add", label), |bench| {
            bench.iter(|| match isa {
                None => elementwise::reference::add(&mut out, &a, &b),
                Some(i) => elementwise::fast::add_with(*i, &mut out, &a, &b),
            })
        });
        g.throughput(Throughput::Bytes(3 * f4));
        g.bench_function(BenchmarkId::new("axpy", label), |bench| {
            bench.iter(|| match isa {
                None => elementwise::reference::axpy(&mut out, 1e-3, &a),
                Some(i) => elementwise::fast::axpy_with(*i, &mut out, 1e-3, &a),
            })
        });
        g.throughput(Throughput::Bytes(2 * f4));
        g.bench_function(BenchmarkId::new("relu_forward", label), |bench| {
            bench.iter(|| match isa {
                None => elementwise::reference::relu_forward(&mut out, &a),
                Some(i) => elementwise::fast::relu_forward_with(*i, &mut out, &a),
            })
        });
        g.throughput(Throughput::Bytes(3 * f4));
        g.bench_function(BenchmarkId::new("relu_backward", label), |bench| {
            bench.iter(|| match isa {
                None => elementwise::reference::relu_backward(&mut out, &b, &a),
                Some(i) => elementwise::fast::relu_backward_with(*i, &mut out, &b, &a),
            })
        });
        g.throughput(Throughput::Bytes(f4));
        g.bench_function(BenchmarkId::new("sum", label), |bench| {
            bench.iter(|| match isa {
                None => black_box(reduce::reference::sum(&a)),
                Some(i) => black_box(reduce::fast::sum_with(*i, &a)),
            })
        });
    }
    g.finish();
}

/// The ladder's convolutions at batch 128: (name, shape).
fn conv_shapes() -> Vec<(&'static str, Conv2dShape)> {
    vec![
        (
            "1to32_28x28",
            Conv2dShape::square(128, 1, 28, 28, 32, 3, 1, 1, 1),
        ),
        (
            "32to64_14x14",
            Conv2dShape::square(128, 32, 14, 14, 64, 3, 1, 1, 1),
        ),
        (
            "32to32_28x28",
            Conv2dShape::square(128, 32, 28, 28, 32, 3, 1, 1, 1),
        ),
        (
            "64to64_14x14",
            Conv2dShape::square(128, 64, 14, 14, 64, 3, 1, 1, 1),
        ),
    ]
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (name, sh) in conv_shapes() {
        let x = data(sh.input_len());
        let w = data(sh.weight_len());
        let b = data(sh.k);
        let gr = data(sh.output_len());
        let mut y = vec![0.0f32; sh.output_len()];
        let mut dx = vec![0.0f32; sh.input_len()];
        let mut dw = vec![0.0f32; sh.weight_len()];
        g.throughput(Throughput::Elements(2 * sh.macs() as u64));
        // Three versions side by side: "fast" (what training runs: on an AVX-512 CPU the
        // direct AVX-512 kernels or the 16-lane phase planes, chosen per pass and shape;
        // the phase planes on AVX2 or NEON), im2col +
        // matrixmultiply's gemm, and the textbook reference loops.
        g.bench_function(BenchmarkId::new("forward_fast", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_forward(&mut y, &x, &w, Some(&b), &sh))
        });
        g.bench_function(BenchmarkId::new("backward_input_fast", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_backward_input(&mut dx, &gr, &w, &sh))
        });
        g.bench_function(BenchmarkId::new("backward_weight_fast", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_backward_weight(&mut dw, &gr, &x, &sh))
        });
        let mut db = vec![0.0f32; sh.k];
        g.bench_function(BenchmarkId::new("backward_weight_bias_fast", name), |bn| {
            bn.iter(|| {
                let algo = conv2d::fast::ConvAlgo::Auto;
                conv2d::fast::conv2d_backward_weight_bias_with(algo, &mut dw, &mut db, &gr, &x, &sh)
            })
        });
        g.bench_function(BenchmarkId::new("backward_bias_fast", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_backward_bias(&mut db, &gr, &sh))
        });
        let im2col = conv2d::fast::ConvAlgo::Im2col;
        g.bench_function(BenchmarkId::new("forward_im2col_gemm", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_forward_with(im2col, &mut y, &x, &w, Some(&b), &sh))
        });
        g.bench_function(BenchmarkId::new("backward_input_im2col_gemm", name), |bn| {
            bn.iter(|| conv2d::fast::conv2d_backward_input_with(im2col, &mut dx, &gr, &w, &sh))
        });
        g.bench_function(
            BenchmarkId::new("backward_weight_im2col_gemm", name),
            |bn| {
                bn.iter(|| conv2d::fast::conv2d_backward_weight_with(im2col, &mut dw, &gr, &x, &sh))
            },
        );
        g.bench_function(BenchmarkId::new("forward_reference", name), |bn| {
            bn.iter(|| conv2d::reference::conv2d_forward(&mut y, &x, &w, Some(&b), &sh))
        });
        g.bench_function(BenchmarkId::new("backward_input_reference", name), |bn| {
            bn.iter(|| conv2d::reference::conv2d_backward_input(&mut dx, &gr, &w, &sh))
        });
        g.bench_function(BenchmarkId::new("backward_weight_reference", name), |bn| {
            bn.iter(|| conv2d::reference::conv2d_backward_weight(&mut dw, &gr, &x, &sh))
        });
    }
    g.finish();
}

/// resnet20's, vgg-small's and the seed cnn's 3×3 convolutions at batch 128, each algorithm side by side: `auto`
/// (what training runs, per pass and shape), `direct` (the AVX-512 direct kernels or the phase
/// planes), `winograd` (F(2×2, 3×3)) and `im2col` (+ the gemm); ∂w alone and with ∂b.
/// `cargo bench --bench kernels -- conv_algos`.
fn conv_algos(c: &mut Criterion) {
    use conv2d::ConvAlgo;
    let mut g = c.benchmark_group("conv_algos");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    let mut shapes = vec![
        (
            "16to16_28x28",
            Conv2dShape::square(128, 16, 28, 28, 16, 3, 1, 1, 1),
        ),
        (
            "16to32_28x28_s2",
            Conv2dShape::square(128, 16, 28, 28, 32, 3, 2, 1, 1),
        ),
        (
            "32to32_14x14",
            Conv2dShape::square(128, 32, 14, 14, 32, 3, 1, 1, 1),
        ),
        (
            "64to64_7x7",
            Conv2dShape::square(128, 64, 7, 7, 64, 3, 1, 1, 1),
        ),
        (
            "16to32_1x1_s2",
            Conv2dShape::square(128, 16, 28, 28, 32, 1, 2, 0, 1),
        ),
    ];
    // The ladder's and vgg-small's wide layers of the conv2d group (not the single-channel
    // first layer).
    shapes.extend(conv_shapes().into_iter().skip(1));
    for (name, sh) in shapes {
        let x = data(sh.input_len());
        let w = data(sh.weight_len());
        let gr = data(sh.output_len());
        let mut y = vec![0.0f32; sh.output_len()];
        let mut dx = vec![0.0f32; sh.input_len()];
        let mut dw = vec![0.0f32; sh.weight_len()];
        let mut db = vec![0.0f32; sh.k];
        g.throughput(Throughput::Elements(2 * sh.macs() as u64));
        for algo in [
            ConvAlgo::Auto,
            ConvAlgo::Direct,
            ConvAlgo::Winograd,
            ConvAlgo::Im2col,
        ] {
            if algo == ConvAlgo::Winograd && !conv2d::winograd::applies(&sh) {
                continue;
            }
            let a = algo.name();
            g.bench_function(BenchmarkId::new(format!("forward_{a}"), name), |bn| {
                bn.iter(|| conv2d::fast::conv2d_forward_with(algo, &mut y, &x, &w, None, &sh))
            });
            g.bench_function(
                BenchmarkId::new(format!("backward_input_{a}"), name),
                |bn| {
                    bn.iter(|| {
                        conv2d::fast::conv2d_backward_input_with(algo, &mut dx, &gr, &w, &sh)
                    })
                },
            );
            g.bench_function(
                BenchmarkId::new(format!("backward_weight_{a}"), name),
                |bn| {
                    bn.iter(|| {
                        conv2d::fast::conv2d_backward_weight_with(algo, &mut dw, &gr, &x, &sh)
                    })
                },
            );
            g.bench_function(
                BenchmarkId::new(format!("backward_weight_bias_{a}"), name),
                |bn| {
                    bn.iter(|| {
                        conv2d::fast::conv2d_backward_weight_bias_with(
                            algo, &mut dw, &mut db, &gr, &x, &sh,
                        )
                    })
                },
            );
        }
    }
    g.finish();
}

/// Memory-bound kernels at the first block's shape, batch 128: bytes = what each must read
/// and write at least once.
fn memory_bound(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory_bound");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    let (n, ch, h, w) = (128, 32, 28, 28);
    let len = n * ch * h * w;
    let x = data(len);
    let ps = Pool2dShape::square(n, ch, h, w, 2, 2, 0);
    let mut y = vec![0.0f32; ps.output_len()];
    let mut am = vec![0u32; ps.output_len()];
    let mut dx = vec![0.0f32; len];
    // forward reads x, writes y and the argmax; backward reads G and the argmax, writes ∂x.
    g.throughput(Throughput::Bytes((4 * len + 8 * ps.output_len()) as u64));
    g.bench_function("max_pool2d_forward_fast", |bn| {
        bn.iter(|| max_pool2d::fast::max_pool2d_forward(&mut y, &mut am, &x, &ps))
    });
    g.bench_function("max_pool2d_forward_reference", |bn| {
        bn.iter(|| max_pool2d::reference::max_pool2d_forward(&mut y, &mut am, &x, &ps))
    });
    let gp = data(ps.output_len());
    g.bench_function("max_pool2d_backward_fast", |bn| {
        bn.iter(|| max_pool2d::fast::max_pool2d_backward(&mut dx, &gp, &am, &ps))
    });
    let bs = BatchNormShape {
        n,
        c: ch,
        hw: h * w,
    };
    bench_batch_norm(
        &mut g,
        (
            "batch_norm_forward_fast",
            "batch_norm_backward_in_place_fast",
        ),
        stitch_kernels::isa::isa(),
        &x,
        bs,
    );
    let mut out = vec![0.0f32; len];
    g.throughput(Throughput::Bytes(8 * len as u64));
    g.bench_function("dropout_fast", |bn| {
        bn.iter(|| dropout::fast::dropout_apply(&mut out, &x, 0.3, 7))
    });
    g.bench_function("dropout_reference", |bn| {
        bn.iter(|| dropout::reference::dropout_apply(&mut out, &x, 0.3, 7))
    });
    // The backward pass's in-place form (G's buffer in, ∂x out): the same mask each call,
    // so the kept values grow by 1/0.7 per call (to infinity, at the same speed).
    g.bench_function("dropout_backward_in_place_fast", |bn| {
        bn.iter(|| dropout::fast::dropout_apply_in_place(&mut out, 0.3, 7))
    });
    g.finish();
}

/// The ladder's linear layers at batch 128, forward and the two backward products, through
/// stitch's autograd op (gemm plus the bias): (name, in, out).
const LINEAR_SHAPES: &[(&str, usize, usize)] = &[
    ("3136to10", 3136, 10),
    ("784to128", 784, 128),
    ("25088to128", 25088, 128),
];

fn linear(c: &mut Criterion) {
    use stitch::Tensor;
    let mut g = c.benchmark_group("linear");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for &(name, fan_in, fan_out) in LINEAR_SHAPES {
        let x = Tensor::from_vec(data(128 * fan_in), &[128, fan_in]).requires_grad_();
        let w = Tensor::from_vec(data(fan_out * fan_in), &[fan_out, fan_in]).requires_grad_();
        let b = Tensor::from_vec(data(fan_out), &[fan_out]).requires_grad_();
        g.throughput(Throughput::Elements((2 * 128 * fan_in * fan_out) as u64));
        g.bench_function(BenchmarkId::new("forward", name), |bn| {
            bn.iter(|| {
                let _ng = stitch::no_grad();
                black_box(x.linear(&w, Some(&b)))
            })
        });
        // Forward + both backward products (∂x and ∂w) + ∂b: 3 products.
        g.throughput(Throughput::Elements(
            (3 * 2 * 128 * fan_in * fan_out) as u64,
        ));
        g.bench_function(BenchmarkId::new("forward_backward", name), |bn| {
            bn.iter(|| {
                x.linear(&w, Some(&b)).sum().backward();
                x.zero_grad();
                w.zero_grad();
                b.zero_grad();
            })
        });
    }
    g.finish();
}

/// Cross-entropy of 128 × 10 logits, forward and backward; max-pool and dropout at each
/// SIMD level this CPU has.
fn per_isa_and_loss(c: &mut Criterion) {
    use stitch::Tensor;
    let mut g = c.benchmark_group("levels");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(200));
    let logits = Tensor::from_vec(data(128 * 10), &[128, 10]).requires_grad_();
    let targets: Vec<usize> = (0..128).map(|i| i % 10).collect();
    g.bench_function("cross_entropy_forward_backward", |bn| {
        bn.iter(|| {
            logits.cross_entropy(&targets).backward();
            logits.zero_grad();
        })
    });
    let len = 128 * 32 * 28 * 28;
    let x = data(len);
    let ps = Pool2dShape::square(128, 32, 28, 28, 2, 2, 0);
    let (mut y, mut am, mut out) = (
        vec![0.0f32; ps.output_len()],
        vec![0u32; ps.output_len()],
        vec![0.0f32; len],
    );
    for isa in Isa::supported() {
        g.throughput(Throughput::Bytes((4 * len + 8 * ps.output_len()) as u64));
        g.bench_function(BenchmarkId::new("max_pool2d_forward", isa.name()), |bn| {
            bn.iter(|| max_pool2d::fast::max_pool2d_forward_with(isa, &mut y, &mut am, &x, &ps))
        });
        g.throughput(Throughput::Bytes(8 * len as u64));
        g.bench_function(BenchmarkId::new("dropout", isa.name()), |bn| {
            bn.iter(|| dropout::fast::dropout_apply_with(isa, &mut out, &x, 0.3, 7))
        });
        // max-pool backward reads G and the argmax, writes ∂x.
        g.throughput(Throughput::Bytes((4 * len + 8 * ps.output_len()) as u64));
        g.bench_function(BenchmarkId::new("max_pool2d_backward", isa.name()), |bn| {
            bn.iter(|| max_pool2d::fast::max_pool2d_backward_with(isa, &mut out, &y, &am, &ps))
        });
        let bs = BatchNormShape {
            n: 128,
            c: 32,
            hw: 28 * 28,
        };
        let names = (
            format!("batch_norm_forward/{}", isa.name()),
            format!("batch_norm_backward_in_place/{}", isa.name()),
        );
        bench_batch_norm(&mut g, (&names.0, &names.1), isa, &x, bs);
    }
    g.finish();
}

/// The memory-bound kernels on operands larger than the caches (batch 512: 51 MB each,
/// against this machine kind's 32 MB L3), so the figures are the memory's, comparable with
/// `stitch profile`'s streaming-copy probe (which counts read + written bytes the same way).
fn dram_resident(c: &mut Criterion) {
    let mut g = c.benchmark_group("dram");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    let (n, ch, h, w) = (512, 32, 28, 28);
    let len = n * ch * h * w;
    let x = data(len);
    let gr = data(len);
    let mut out = vec![0.0f32; len];
    let ps = Pool2dShape::square(n, ch, h, w, 2, 2, 0);
    let (mut y, mut am) = (vec![0.0f32; ps.output_len()], vec![0u32; ps.output_len()]);
    let gp = data(ps.output_len());
    g.throughput(Throughput::Bytes((4 * len + 8 * ps.output_len()) as u64));
    g.bench_function("max_pool2d_forward", |bn| {
        bn.iter(|| max_pool2d::fast::max_pool2d_forward(&mut y, &mut am, &x, &ps))
    });
    g.bench_function("max_pool2d_backward", |bn| {
        bn.iter(|| max_pool2d::fast::max_pool2d_backward(&mut out, &gp, &am, &ps))
    });
    let bs = BatchNormShape {
        n,
        c: ch,
        hw: h * w,
    };
    bench_batch_norm(
        &mut g,
        ("batch_norm_forward", "batch_norm_backward_in_place"),
        stitch_kernels::isa::isa(),
        &x,
        bs,
    );
    g.throughput(Throughput::Bytes(8 * len as u64));
    g.bench_function("dropout", |bn| {
        bn.iter(|| dropout::fast::dropout_apply(&mut out, &x, 0.3, 7))
    });
    g.bench_function("relu_forward", |bn| {
        bn.iter(|| elementwise::fast::relu_forward(&mut out, &x))
    });
    g.throughput(Throughput::Bytes(12 * len as u64));
    g.bench_function("relu_backward", |bn| {
        bn.iter(|| elementwise::fast::relu_backward(&mut out, &gr, &x))
    });
    g.finish();
}

/// Batch norm forward (training) and in-place backward on `x` [n, c, hw] at SIMD level
/// `isa`, named `{prefix}forward{suffix}` and `{prefix}backward_in_place{suffix}`. Bytes: the
/// forward reads x three times and writes y (16 per element); the backward reads G and x
/// twice each and writes ∂x (20).
fn bench_batch_norm(
    g: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    names: (&str, &str),
    isa: Isa,
    x: &[f32],
    bs: BatchNormShape,
) {
    let ch = bs.c;
    let (wt, bi) = (vec![1.0f32; ch], vec![0.0f32; ch]);
    let (mut rm, mut rv) = (vec![0.0f32; ch], vec![1.0f32; ch]);
    let (mut mean, mut inv) = (vec![0.0f32; ch], vec![0.0f32; ch]);
    let mut out = vec![0.0f32; x.len()];
    g.throughput(Throughput::Bytes(16 * x.len() as u64));
    g.bench_function(names.0, |bn| {
        bn.iter(|| {
            let p = BatchNormParams {
                weight: &wt,
                bias: &bi,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum: 0.1,
                eps: 1e-5,
            };
            batch_norm::fast::batch_norm_forward_train_with(
                isa, &mut out, &mut mean, &mut inv, x, p, &bs,
            )
        })
    });
    let (mut dwt, mut dbi) = (vec![0.0f32; ch], vec![0.0f32; ch]);
    g.throughput(Throughput::Bytes(20 * x.len() as u64));
    g.bench_function(names.1, |bn| {
        bn.iter(|| {
            batch_norm::fast::batch_norm_backward_in_place_with(
                isa, &mut out, &mut dwt, &mut dbi, x, &wt, &mean, &inv, &bs,
            )
        })
    });
}

/// Batch norm → ReLU at resnet20's first stage (128 × 16 × 28 × 28), fused
/// (`batch_norm::relu`) against the unfused fast kernels it replaces, forward and backward.
/// `cargo bench --bench kernels -- bn_relu`.
fn bn_relu(c: &mut Criterion) {
    use stitch_kernels::batch_norm::relu;
    use stitch_kernels::elementwise::fast::{mask_in_place, relu_mask};
    let mut g = c.benchmark_group("bn_relu");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let bs = BatchNormShape {
        n: 128,
        c: 16,
        hw: 784,
    };
    let (x, gr) = (data(bs.len()), data(bs.len()));
    let ch = bs.c;
    let (wt, bi) = (vec![1.0f32; ch], vec![0.1f32; ch]);
    let (mut rm, mut rv) = (vec![0.0f32; ch], vec![1.0f32; ch]);
    let (mut mean, mut inv) = (vec![0.0f32; ch], vec![0.0f32; ch]);
    let (mut z, mut y) = (vec![0.0f32; bs.len()], vec![0.0f32; bs.len()]);
    let mut positive = vec![false; bs.len()];
    let (mut dx, mut dwt, mut dbi) = (vec![0.0f32; bs.len()], vec![0.0f32; ch], vec![0.0f32; ch]);
    let isa = stitch_kernels::isa::isa();
    g.bench_function("forward_unfused", |bn| {
        bn.iter(|| {
            let p = BatchNormParams {
                weight: &wt,
                bias: &bi,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum: 0.1,
                eps: 1e-5,
            };
            batch_norm::fast::batch_norm_forward_train_with(
                isa, &mut z, &mut mean, &mut inv, &x, p, &bs,
            );
            relu_mask(&mut y, &mut positive, &z);
        })
    });
    g.bench_function("forward_fused", |bn| {
        bn.iter(|| {
            let p = BatchNormParams {
                weight: &wt,
                bias: &bi,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum: 0.1,
                eps: 1e-5,
            };
            relu::batch_norm_relu_forward_train_with(isa, &mut y, &mut mean, &mut inv, &x, p, &bs)
        })
    });
    g.bench_function("backward_unfused", |bn| {
        bn.iter(|| {
            dx.copy_from_slice(&gr);
            mask_in_place(&mut dx, &positive);
            batch_norm::fast::batch_norm_backward_in_place_with(
                isa, &mut dx, &mut dwt, &mut dbi, &x, &wt, &mean, &inv, &bs,
            )
        })
    });
    g.bench_function("backward_fused", |bn| {
        bn.iter(|| {
            relu::batch_norm_relu_backward_with(
                isa, &mut dx, &mut dwt, &mut dbi, &gr, &x, &wt, &bi, &mean, &inv, &bs,
            )
        })
    });
    g.finish();
}

/// Plain against masked (every lane on) AVX-512 loads and stores, one thread streaming over
/// 256 MB: why max-pool's SIMD bodies read and write whole vectors past a row's end instead
/// of masking (on Zen 5 the masked ones run at about half speed from memory).
fn masked_stream(c: &mut Criterion) {
    let mut g = c.benchmark_group("masked_stream");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(300));
    let mut buf = data(64 << 20);
    if stitch_kernels::probe::stream_load(&buf[..16], false).is_none() {
        eprintln!("masked_stream: no AVX-512 on this CPU, nothing to compare");
        return;
    }
    g.throughput(Throughput::Bytes(4 * buf.len() as u64));
    for (name, masked) in [("load_plain", false), ("load_masked", true)] {
        g.bench_function(name, |bn| {
            bn.iter(|| stitch_kernels::probe::stream_load(&buf, masked))
        });
    }
    for (name, masked) in [("store_plain", false), ("store_masked", true)] {
        g.bench_function(name, |bn| {
            bn.iter(|| stitch_kernels::probe::stream_store(&mut buf, 1.0, masked))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    masked_stream,
    dram_resident,
    gemm,
    elementwise_kernels,
    conv,
    conv_algos,
    bn_relu,
    memory_bound,
    linear,
    per_isa_and_loss
);
criterion_main!(benches);
