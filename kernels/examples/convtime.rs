use std::time::Instant;
use stitch_kernels::conv2d::{fast, planes, Conv2dShape};
fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32) / 1000.0 - 0.5)
        .collect()
}
fn time(f: &mut dyn FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..25 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}
fn main() {
    let shapes = [
        (
            "16->16@28",
            Conv2dShape::square(128, 16, 28, 28, 16, 3, 1, 1, 1),
        ),
        (
            "16->32@28 s2",
            Conv2dShape::square(128, 16, 28, 28, 32, 3, 2, 1, 1),
        ),
        (
            "1x1 s2",
            Conv2dShape::square(128, 16, 28, 28, 32, 1, 2, 0, 1),
        ),
        (
            "32->32@14",
            Conv2dShape::square(128, 32, 14, 14, 32, 3, 1, 1, 1),
        ),
        (
            "64->64@7",
            Conv2dShape::square(128, 64, 7, 7, 64, 3, 1, 1, 1),
        ),
        (
            "32->64@14",
            Conv2dShape::square(128, 32, 14, 14, 64, 3, 1, 1, 1),
        ),
        (
            "1->32@28",
            Conv2dShape::square(128, 1, 28, 28, 32, 3, 1, 1, 1),
        ),
    ];
    for (name, sh) in shapes {
        let x = data(sh.input_len());
        let w = data(sh.weight_len());
        let g = data(sh.output_len());
        let mut y = vec![0.0; sh.output_len()];
        let mut dx = vec![0.0; sh.input_len()];
        let mut dw = vec![0.0; sh.weight_len()];
        let gf = 2.0 * sh.macs() as f64 / 1e9;
        let wd = planes::Width::Avx2;
        let a = time(&mut || planes::forward(wd, &mut y, &x, &w, None, &sh));
        let b = time(&mut || {
            fast::conv2d_forward_with(fast::ConvAlgo::Im2col, &mut y, &x, &w, None, &sh)
        });
        let c = time(&mut || planes::backward_input(wd, &mut dx, &g, &w, &sh));
        let d = time(&mut || {
            fast::conv2d_backward_input_with(fast::ConvAlgo::Im2col, &mut dx, &g, &w, &sh)
        });
        let e = time(&mut || planes::backward_weight(wd, &mut dw, &g, &x, &sh));
        let f = time(&mut || {
            fast::conv2d_backward_weight_with(fast::ConvAlgo::Im2col, &mut dw, &g, &x, &sh)
        });
        println!("{name:14} fwd planes {:6.1} im2col {:6.1} | dx planes {:6.1} im2col {:6.1} | dw planes {:6.1} im2col {:6.1} GFLOP/s", gf/a, gf/b, gf/c, gf/d, gf/e, gf/f);
        if stitch_kernels::conv2d::winograd::applies(&sh) {
            use stitch_kernels::conv2d::winograd;
            let a = time(&mut || winograd::forward(wd, &mut y, &x, &w, None, &sh));
            let c = time(&mut || winograd::backward_input(wd, &mut dx, &g, &w, &sh));
            let e = time(&mut || winograd::backward_weight(wd, &mut dw, &g, &x, &sh));
            println!("{name:14} fwd winograd {:6.1}        | dx winograd {:6.1}        | dw winograd {:6.1}", gf/a, gf/c, gf/e);
        }
    }
}
