//! The fast sum against the reference, and its independence from the thread count.

mod common;
use common::{data, misaligned, LENGTHS};
use stitch_kernels::isa::Isa;
use stitch_kernels::reduce::{fast, reference};

#[test]
fn sum_matches_reference() {
    for isa in Isa::supported() {
        for &n in &LENGTHS {
            let x = data(n, 5);
            let (m, o) = misaligned(&x);
            let got = fast::sum_with(isa, &m[o..o + n]);
            let want = reference::sum(&x.iter().map(|&v| v as f64).collect::<Vec<_>>());
            let tol = 1e-6 * (n as f64).max(1.0);
            assert!(
                (got as f64 - want).abs() <= tol,
                "sum {isa:?} n={n}: got {got}, exact {want}"
            );
        }
    }
}

#[test]
fn sum_is_bitwise_identical_on_1_2_and_8_threads() {
    let x = data(1_000_003, 11);
    for isa in Isa::supported() {
        let bits: Vec<u32> = [1, 2, 8]
            .iter()
            .map(|&t| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap();
                pool.install(|| fast::sum_with(isa, &x)).to_bits()
            })
            .collect();
        assert!(bits.iter().all(|&b| b == bits[0]), "{isa:?}: {bits:?}");
    }
}
