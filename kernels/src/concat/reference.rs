//! The concatenation loops of `mod.rs`.

use crate::Real;

/// y\[n, offₖ + c, e\] = xₖ\[n, c, e\]
pub fn concat_channels<T: Real>(
    out: &mut [T],
    inputs: &[&[T]],
    channels: &[usize],
    n: usize,
    inner: usize,
) {
    let total: usize = channels.iter().sum();
    for img in 0..n {
        let mut off = 0;
        for (x, &c) in inputs.iter().zip(channels) {
            for ch in 0..c {
                for e in 0..inner {
                    out[(img * total + off + ch) * inner + e] = x[(img * c + ch) * inner + e];
                }
            }
            off += c;
        }
    }
}

/// out\[n, c, e\] = g\[n, start + c, e\]
pub fn slice_channels<T: Real>(
    out: &mut [T],
    g: &[T],
    n: usize,
    total: usize,
    start: usize,
    count: usize,
    inner: usize,
) {
    for img in 0..n {
        for ch in 0..count {
            for e in 0..inner {
                out[(img * count + ch) * inner + e] = g[(img * total + start + ch) * inner + e];
            }
        }
    }
}
