//! Each convolution algorithm against the others at one shape, as the best of many calls.
//!
//! On a shared machine a neighbour can slow any one measurement by half; the fastest of
//! many calls is the figure it disturbs least. Each round times every algorithm's forward,
//! input gradient and weight (+ bias) gradient once, in turn, so a noisy minute falls on
//! all of them alike; each figure is the best over the rounds.
//!
//!   cargo bench --bench conv_best_of                          # the deeper nets' and the ladder's 3×3 layers
//!   cargo bench --bench conv_best_of -- 16 28 16              # C, H = W, K (3×3, stride 1, padding 1)
//!   cargo bench --bench conv_best_of -- 16 28 16 --rounds 40 --batch 64
//!
//! Where the fused convolution → 2×2 max-pool applies (an even output), two more rows time
//! it against the unfused fast ops, forward and ∂w + ∂b as for a first layer.
//!
//! Threads: `RAYON_NUM_THREADS` (the comparisons in the README use 2). GFLOP/s count the
//! direct convolution's 2 · N·K·P·Q·C·9 whatever the algorithm, so Winograd's figure is its
//! effective rate.

use std::time::Instant;
use stitch_kernels::conv2d::{fast, fused, winograd, Conv2dShape, ConvAlgo};
use stitch_kernels::max_pool2d::{fast as pool, Pool2dShape};

/// Deterministic inputs in [−1, 1) (xorshift), so every run times the same numbers.
fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Best seconds of forward, ∂x and ∂w + ∂b per algorithm, over `rounds` rounds.
fn best_of(sh: &Conv2dShape, algos: &[ConvAlgo], rounds: usize) -> Vec<[f64; 3]> {
    let (x, w, g) = (
        data(sh.input_len(), 1),
        data(sh.weight_len(), 2),
        data(sh.output_len(), 3),
    );
    let mut y = vec![0.0; sh.output_len()];
    let mut dx = vec![0.0; sh.input_len()];
    let mut dw = vec![0.0; sh.weight_len()];
    let mut db = vec![0.0; sh.k];
    let mut best = vec![[f64::MAX; 3]; algos.len()];
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    for _ in 0..rounds {
        for (b, &algo) in best.iter_mut().zip(algos) {
            let t = [
                time(&mut || fast::conv2d_forward_with(algo, &mut y, &x, &w, None, sh)),
                time(&mut || fast::conv2d_backward_input_with(algo, &mut dx, &g, &w, sh)),
                time(&mut || {
                    fast::conv2d_backward_weight_bias_with(algo, &mut dw, &mut db, &g, &x, sh)
                }),
            ];
            for (b, t) in b.iter_mut().zip(t) {
                *b = b.min(t);
            }
        }
    }
    best
}

/// Best seconds of conv → 2×2 max-pool forward and its ∂w + ∂b (no ∂x, as a first layer),
/// fused and as the two unfused fast ops, over `rounds` rounds.
fn best_of_pooled(sh: &Conv2dShape, rounds: usize) -> [[f64; 2]; 2] {
    let ps = Pool2dShape::square(sh.n, sh.k, sh.out_h(), sh.out_w(), 2, 2, 0);
    let pooled_len = ps.output_len();
    let (x, w, g) = (
        data(sh.input_len(), 1),
        data(sh.weight_len(), 2),
        data(pooled_len, 3),
    );
    let mut y = vec![0.0; sh.output_len()];
    let mut g_full = vec![0.0; sh.output_len()];
    let (mut p, mut am) = (vec![0.0; pooled_len], vec![0u32; pooled_len]);
    let mut dw = vec![0.0; sh.weight_len()];
    let mut db = vec![0.0; sh.k];
    let mut best = [[f64::MAX; 2]; 2];
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    for _ in 0..rounds {
        let t = [
            [
                time(&mut || fused::forward(&mut p, &mut am, &x, &w, None, sh)),
                time(&mut || fused::backward(None, &mut dw, &mut db, &g, &am, &x, &w, sh)),
            ],
            [
                time(&mut || {
                    fast::conv2d_forward(&mut y, &x, &w, None, sh);
                    pool::max_pool2d_forward(&mut p, &mut am, &y, &ps)
                }),
                time(&mut || {
                    pool::max_pool2d_backward(&mut g_full, &g, &am, &ps);
                    fast::conv2d_backward_weight_bias_with(
                        ConvAlgo::Auto,
                        &mut dw,
                        &mut db,
                        &g_full,
                        &x,
                        sh,
                    )
                }),
            ],
        ];
        for (b, t) in best.iter_mut().zip(t) {
            for (b, t) in b.iter_mut().zip(t) {
                *b = b.min(t);
            }
        }
    }
    best
}

fn report(sh: &Conv2dShape, rounds: usize) {
    let mut algos = vec![ConvAlgo::Auto, ConvAlgo::Direct, ConvAlgo::Im2col];
    if winograd::applies(sh) {
        algos.insert(2, ConvAlgo::Winograd);
    }
    let flop = 2.0 * sh.macs() as f64;
    println!(
        "{}→{} @ {}×{}, batch {}, best of {rounds}:",
        sh.c, sh.k, sh.h, sh.w, sh.n
    );
    for (algo, best) in algos.iter().zip(best_of(sh, &algos, rounds)) {
        let cell = |s: f64| format!("{:7.2} ms {:6.1} GFLOP/s", s * 1e3, flop / s / 1e9);
        println!(
            "  {:9} forward {}   ∂input {}   ∂weight+∂bias {}",
            algo.name(),
            cell(best[0]),
            cell(best[1]),
            cell(best[2])
        );
    }
    if fused::applies(sh, false) {
        let [f, u] = best_of_pooled(sh, rounds);
        let cell = |s: f64| format!("{:7.2} ms {:6.1} GFLOP/s", s * 1e3, flop / s / 1e9);
        println!("  then 2×2 max-pool, ∂w + ∂b only (a first layer):");
        println!(
            "  fused     forward {}   ∂weight+∂bias {}",
            cell(f[0]),
            cell(f[1])
        );
        println!(
            "  unfused   forward {}   ∂weight+∂bias {}",
            cell(u[0]),
            cell(u[1])
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| {
                v.parse().unwrap_or_else(|_| {
                    eprintln!("error: {name} takes a positive integer, not {v:?}");
                    std::process::exit(2)
                })
            })
    };
    let (rounds, batch) = (flag("--rounds", 20).max(1), flag("--batch", 128).max(1));
    let dims: Vec<usize> = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("error: expected C H K (positive integers), got {a:?}");
                std::process::exit(2)
            })
        })
        .collect();
    let shapes: Vec<(usize, usize, usize)> = match dims[..] {
        [c, h, k] if c > 0 && h > 0 && k > 0 => vec![(c, h, k)],
        [] => vec![
            (16, 28, 16),
            (32, 14, 32),
            (64, 7, 64),
            (32, 14, 64),
            (32, 28, 32),
        ],
        _ => {
            eprintln!("error: expected C H K (three positive integers) or nothing");
            std::process::exit(2)
        }
    };
    for (c, h, k) in shapes {
        report(&Conv2dShape::square(batch, c, h, h, k, 3, 1, 1, 1), rounds);
    }
}
