//! The fast Adam step equals the reference bit for bit, on every ISA and awkward length.

mod common;
use common::{data, LENGTHS};
use stitch_kernels::isa::Isa;
use stitch_kernels::optim::{fast, reference, AdamStep};

#[test]
fn adam_step_matches_reference_bitwise() {
    for (l2, decay) in [(0.0, 1.0), (0.01, 1.0), (0.0, 0.999)] {
        let h = AdamStep {
            step_size: 1e-3 / (1.0 - 0.9f32.powi(3)),
            bias_correction2_sqrt: (1.0 - 0.999f32.powi(3)).sqrt(),
            one_minus_beta1: 0.1,
            beta2: 0.999,
            one_minus_beta2: 0.001,
            eps: 1e-8,
            l2,
            decay,
        };
        for isa in Isa::supported() {
            for &n in &LENGTHS {
                let g = data(n, 1);
                let (mut w1, mut m1, mut v1) = (
                    data(n, 2),
                    data(n, 3),
                    data(n, 4).iter().map(|x| x * x).collect::<Vec<_>>(),
                );
                let (mut w2, mut m2, mut v2) = (w1.clone(), m1.clone(), v1.clone());
                reference::adam_step(&mut w1, &mut m1, &mut v1, &g, &h);
                fast::adam_step_with(isa, &mut w2, &mut m2, &mut v2, &g, &h);
                for (name, a, b) in [
                    ("weight", &w1, &w2),
                    ("exp_avg", &m1, &m2),
                    ("exp_avg_sq", &v1, &v2),
                ] {
                    if let Some(i) = (0..n).find(|&i| a[i].to_bits() != b[i].to_bits()) {
                        panic!(
                            "{isa:?} n={n} l2={l2} decay={decay}: {name}[{i}] reference {} fast {}",
                            a[i], b[i]
                        );
                    }
                }
            }
        }
    }
}
