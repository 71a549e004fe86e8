//! The fast gemm against the triple loop, on odd shapes, transposed views and both betas.

mod common;
use common::{data, worst};
use stitch_kernels::conv2d::planes::Width;
use stitch_kernels::gemm::{fast, reference, GemmArgs, MatMut, MatRef};

fn run(width: Width, m: usize, k: usize, n: usize, ta: bool, tb: bool, beta: f32) {
    let a = data(m * k, 1);
    let b = data(k * n, 2);
    let view = |d: &'static [f32], r, c, t: bool| {
        if t {
            MatRef::row_major(d, c, r).t()
        } else {
            MatRef::row_major(d, r, c)
        }
    };
    let a: &'static [f32] = Box::leak(a.into_boxed_slice());
    let b: &'static [f32] = Box::leak(b.into_boxed_slice());
    let c0 = if beta == 0.0 {
        vec![f32::NAN; m * n]
    } else {
        data(m * n, 3)
    };
    let mut want = c0.clone();
    reference::gemm(GemmArgs {
        c: MatMut::row_major(&mut want, m, n),
        alpha: 0.5,
        a: view(a, m, k, ta),
        b: view(b, k, n, tb),
        beta,
    });
    let mut got = c0;
    fast::sgemm_at(
        width,
        GemmArgs {
            c: MatMut::row_major(&mut got, m, n),
            alpha: 0.5,
            a: view(a, m, k, ta),
            b: view(b, k, n, tb),
            beta,
        },
    );
    let (i, e) = worst(&got, &want);
    assert!(
        e <= 1e-5 * (k as f32).sqrt().max(1.0),
        "gemm {width:?} {m}x{k}x{n} ta={ta} tb={tb} beta={beta}: {e} at {i}"
    );
}

/// Every width the CPU has, on odd shapes and on shapes that cross the engine's blocks:
/// k past one k-block (256) and past the k-split (2·2048), n past one column block (768),
/// m past one row block (192), and transposes with partial 16 × 16 blocks.
#[test]
fn gemm_matches_reference_on_odd_shapes() {
    let shapes = [
        (1, 1, 1),
        (1, 7, 1),
        (7, 1, 17),
        (17, 7, 1),
        (15, 16, 17),
        (33, 65, 31),
        (128, 784, 128),
        (130, 40, 9),
        (17, 33, 49),
        (200, 300, 70),
        (33, 17, 800),
        (8, 4200, 40),
    ];
    for width in Width::supported() {
        for &(m, k, n) in &shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    for beta in [0.0, 1.0] {
                        run(width, m, k, n, ta, tb, beta);
                    }
                }
            }
        }
    }
}

/// A narrow product (computed as its transpose) has the bits of the same columns of a wide
/// one (computed directly): at one k-block, several, and the k-split (which both take at
/// 128 × 5000 × 10, a shape of at least `PAR_FLOPS` multiply-adds), with β 0 and 1.
#[test]
fn narrow_products_have_the_bits_of_wide_ones() {
    for width in Width::supported() {
        for (m, k, n) in [
            (128, 200, 10),
            (128, 3136, 10),
            (128, 5000, 10),
            (130, 40, 1),
        ] {
            let wide = 96;
            let a = data(m * k, 4);
            let b = data(k * wide, 5);
            let narrow_b: Vec<f32> = b.chunks(wide).flat_map(|row| &row[..n]).copied().collect();
            for beta in [0.0, 1.0] {
                let c0 = data(m * wide, 6);
                let mut c_wide = c0.clone();
                fast::sgemm_at(
                    width,
                    GemmArgs {
                        c: MatMut::row_major(&mut c_wide, m, wide),
                        alpha: 0.5,
                        a: MatRef::row_major(&a, m, k),
                        b: MatRef::row_major(&b, k, wide),
                        beta,
                    },
                );
                let mut c_narrow: Vec<f32> =
                    c0.chunks(wide).flat_map(|row| &row[..n]).copied().collect();
                fast::sgemm_at(
                    width,
                    GemmArgs {
                        c: MatMut::row_major(&mut c_narrow, m, n),
                        alpha: 0.5,
                        a: MatRef::row_major(&a, m, k),
                        b: MatRef::row_major(&narrow_b, k, n),
                        beta,
                    },
                );
                for i in 0..m {
                    for j in 0..n {
                        assert_eq!(
                            c_narrow[i * n + j].to_bits(),
                            c_wide[i * wide + j].to_bits(),
                            "{width:?} {m}x{k}x{n} beta {beta} at ({i}, {j})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_with_k_zero_scales_c() {
    let mut c = vec![2.0f32; 6];
    fast::sgemm(GemmArgs {
        c: MatMut::row_major(&mut c, 2, 3),
        alpha: 1.0,
        a: MatRef::row_major(&[], 2, 0),
        b: MatRef::row_major(&[], 0, 3),
        beta: 0.5,
    });
    assert_eq!(c, vec![1.0; 6]);
}

#[test]
fn gemm_is_bitwise_identical_on_1_2_and_8_threads() {
    for (m, k, n) in [(300, 200, 150), (64, 20000, 32)] {
        bitwise_across_threads(m, k, n);
    }
}

fn bitwise_across_threads(m: usize, k: usize, n: usize) {
    let a = data(m * k, 7);
    let b = data(k * n, 8);
    let outs: Vec<Vec<f32>> = [1, 2, 8]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            let mut c = vec![0.0f32; m * n];
            pool.install(|| {
                fast::sgemm(GemmArgs {
                    c: MatMut::row_major(&mut c, m, n),
                    alpha: 1.0,
                    a: MatRef::row_major(&a, m, k),
                    b: MatRef::row_major(&b, k, n),
                    beta: 0.0,
                })
            });
            c
        })
        .collect();
    for o in &outs[1..] {
        assert!(o
            .iter()
            .zip(&outs[0])
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
#[should_panic(expected = "gemm: A is 2x3, B is 4x5")]
fn gemm_reports_shapes() {
    let mut c = vec![0.0f32; 10];
    stitch_kernels::gemm::gemm(
        MatMut::row_major(&mut c, 2, 5),
        1.0,
        MatRef::row_major(&[0.0; 6], 2, 3),
        MatRef::row_major(&[0.0; 20], 4, 5),
        0.0,
    );
}
