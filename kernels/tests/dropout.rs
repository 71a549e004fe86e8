//! Dropout: fast equals reference bit for bit, the kept fraction and the scale, and the same
//! mask whatever the thread count.

mod common;
use common::data;
use stitch_kernels::dropout::{fast, keep_mask, reference, validate_p};
use stitch_kernels::isa::Isa;

#[test]
fn fast_matches_reference_bitwise() {
    for isa in Isa::supported() {
        for n in [0, 1, 7, 15, 16, 17, 1023, 70001] {
            for p in [0.0, 0.3, 0.5, 0.9] {
                let x = data(n, 1);
                let (mut a, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                reference::dropout_apply(&mut a, &x, p, 12345);
                fast::dropout_apply_with(isa, &mut b, &x, p, 12345);
                assert!(
                    a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()),
                    "{isa:?} n={n} p={p}"
                );
            }
        }
    }
}

#[test]
fn in_place_equals_out_of_place_bitwise() {
    // 300,001 elements take the rayon split (and its last, short chunk).
    for n in [0, 1, 7, 15, 16, 17, 1023, 300_001] {
        for p in [0.0, 0.3, 0.9] {
            let x = data(n, 4);
            let mut want = vec![f32::NAN; n];
            reference::dropout_apply(&mut want, &x, p, 777);
            let same = |got: &[f32]| {
                want.iter()
                    .zip(got)
                    .all(|(u, v)| u.to_bits() == v.to_bits())
            };
            let mut r = x.clone();
            reference::dropout_apply_in_place(&mut r, p, 777);
            assert!(same(&r), "reference n={n} p={p}");
            for isa in Isa::supported() {
                let mut f = x.clone();
                fast::dropout_apply_in_place_with(isa, &mut f, p, 777);
                assert!(same(&f), "{isa:?} n={n} p={p}");
            }
        }
    }
}

#[test]
fn keeps_a_fraction_one_minus_p_and_scales_by_its_inverse() {
    let n = 1_000_000;
    let x = vec![1.0f32; n];
    for p in [0.1, 0.3, 0.5] {
        let mut y = vec![0.0f32; n];
        fast::dropout_apply(&mut y, &x, p, 7);
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64;
        // Binomial(n, 1 − p): 5 standard deviations.
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (kept - n as f64 * (1.0 - p)).abs() < 5.0 * sd,
            "p={p}: kept {kept}"
        );
        let scale = (1.0 / (1.0 - p)) as f32;
        assert!(y.iter().all(|&v| v == 0.0 || v == scale), "p={p}");
    }
    // p = 0 keeps everything unscaled.
    let mut y = vec![0.0f32; 1000];
    fast::dropout_apply(&mut y, &x[..1000], 0.0, 1);
    assert!(y.iter().all(|&v| v == 1.0));
}

#[test]
fn masks_of_neighbouring_keys_and_indices_are_independent() {
    // Correlation between masks of consecutive keys, and between neighbouring elements.
    let n = 200_000;
    let (mut m1, mut m2) = (vec![0u8; n], vec![0u8; n]);
    keep_mask(&mut m1, 0.5, 1);
    keep_mask(&mut m2, 0.5, 2);
    let agree = m1.iter().zip(&m2).filter(|(a, b)| a == b).count() as f64 / n as f64;
    assert!((agree - 0.5).abs() < 0.01, "{agree}");
    let pairs = m1.windows(2).filter(|w| w[0] == w[1]).count() as f64 / (n - 1) as f64;
    assert!((pairs - 0.5).abs() < 0.01, "{pairs}");
}

#[test]
fn same_key_same_mask_on_1_and_2_threads() {
    let x = data(300_001, 3);
    let runs: Vec<Vec<u32>> = [1, 2, 8]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            let mut y = vec![0.0f32; x.len()];
            pool.install(|| fast::dropout_apply(&mut y, &x, 0.3, 99));
            y.iter().map(|v| v.to_bits()).collect()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[test]
fn p_outside_0_1_is_refused() {
    assert!(validate_p(1.0).unwrap_err().contains("must be in [0, 1)"));
    assert!(validate_p(-0.1).is_err());
    assert!(validate_p(f64::NAN).is_err());
    let r = std::panic::catch_unwind(|| {
        stitch_kernels::dropout::dropout_forward(&mut [0.0f32], &[1.0], 1.0, 0)
    });
    assert!(r.is_err());
}
