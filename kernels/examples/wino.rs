use stitch_kernels::conv2d::{planes, winograd, Conv2dShape};
fn main() {
    let sh = Conv2dShape::square(128, 16, 28, 28, 16, 3, 1, 1, 1);
    let x: Vec<f32> = (0..sh.input_len())
        .map(|i| (i % 97) as f32 / 97.0)
        .collect();
    let w: Vec<f32> = (0..sh.weight_len())
        .map(|i| (i % 13) as f32 / 13.0)
        .collect();
    let mut y = vec![0.0; sh.output_len()];
    for _ in 0..60 {
        winograd::forward(planes::Width::Avx2, &mut y, &x, &w, None, &sh);
    }
}
