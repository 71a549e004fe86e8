//! Kernel benchmarks at the ladder's real shapes: the reference loop and the fast kernel side
//! by side, and each SIMD level this CPU has.
//!
//! `cargo bench --bench kernels` (all), or `cargo bench --bench kernels -- gemm` (one group).
//! Throughput: gemm in elements = multiply-adds × 2 (criterion prints "Gelem/s", read it as
//! GFLOP/s); memory-bound kernels in bytes read + written (GB/s).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use stitch_kernels::gemm::{fast, reference, GemmArgs, MatMut, MatRef};
use stitch_kernels::isa::Isa;
use stitch_kernels::{elementwise, reduce};

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// (name, m, k, n, A transposed?)
const GEMM_SHAPES: &[(&str, usize, usize, usize, bool)] = &[
    ("dnn_fc1_forward_128x784x128", 128, 784, 128, false),
    ("dnn_fc1_d_input_128x128x784", 128, 128, 784, false),
    ("dnn_fc1_d_weight_128x128x784_At", 128, 128, 784, true),
    ("square_512", 512, 512, 512, false),
];

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for &(name, m, k, n, ta) in GEMM_SHAPES {
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
        g.bench_function(BenchmarkId::new("fast", name), |bench| {
            bench.iter(|| {
                fast::sgemm(GemmArgs {
                    c: MatMut::row_major(&mut out, m, n),
                    alpha: 1.0,
                    a: a_view(),
                    b: MatRef::row_major(&b, k, n),
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
                                b: MatRef::row_major(&b, k, n),
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
                        b: MatRef::row_major(&b, k, n),
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

criterion_group!(benches, gemm, elementwise_kernels);
criterion_main!(benches);
