#![allow(dead_code)]
//! Helpers shared by the kernel tests: deterministic data without an RNG crate.

/// The awkward lengths every fast kernel is tested on: empty, one element, around the vector
/// widths (8 and 16 lanes), around a chunk, and above the parallel threshold.
pub const LENGTHS: [usize; 12] = [
    0, 1, 7, 15, 16, 17, 1023, 4097, 16385, 65536, 70001, 300_001,
];

/// Values in [-1, 1) from a tiny linear congruential generator (splitmix-like).
pub fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A copy of `v` that starts one f32 past a 64-byte boundary, so SIMD loads are unaligned.
pub fn misaligned(v: &[f32]) -> (Vec<f32>, usize) {
    let mut buf = vec![0.0f32; v.len() + 17];
    let base = buf.as_ptr() as usize;
    let off = ((64 - base % 64) % 64) / 4 + 1;
    buf[off..off + v.len()].copy_from_slice(v);
    (buf, off)
}

/// Index and relative error of the worst element (|a - b| / max(1, |b|)).
pub fn worst(a: &[f32], b: &[f32]) -> (usize, f32) {
    assert_eq!(a.len(), b.len());
    let mut w = (0, 0.0f32);
    for i in 0..a.len() {
        let e = (a[i] - b[i]).abs() / b[i].abs().max(1.0);
        if e > w.1 || e.is_nan() {
            w = (i, e);
        }
    }
    w
}

/// Normwise relative error: max |a − b| / max |b| (1 if b is all zero), with the worst index.
pub fn normwise(a: &[f32], b: &[f32]) -> (usize, f32) {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let mut w = (0, 0.0f32);
    for i in 0..a.len() {
        let e = (a[i] - b[i]).abs() / scale;
        if e > w.1 || e.is_nan() {
            w = (i, if e.is_nan() { f32::INFINITY } else { e });
        }
    }
    w
}
