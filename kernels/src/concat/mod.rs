//! Concatenation over channels (dimension 1 of NCHW), PyTorch's `torch.cat(xs, dim=1)`,
//! and its gradient, the slice of channels each input contributed.
//!
//! Shapes: inputs xₖ [N, Cₖ, H, W] → y [N, ΣCₖ, H, W]; `inner` = H·W (1 for [N, C]).
//!   y\[n, offₖ + c, ·\] = xₖ\[n, c, ·\]   with offₖ = C₀ + … + Cₖ₋₁
//!   ∂xₖ\[n, c, ·\] = G\[n, offₖ + c, ·\]
//! Copies only: the fast versions equal the reference ones bit for bit.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// y = the inputs side by side along the channels (overwrites `out`). `channels[k]` is
/// input k's channel count; every input holds `n · channels[k] · inner` elements.
#[track_caller]
pub fn concat_channels<T: Real>(
    out: &mut [T],
    inputs: &[&[T]],
    channels: &[usize],
    n: usize,
    inner: usize,
) {
    assert!(
        inputs.len() == channels.len(),
        "concat_channels: {} inputs, {} channel counts",
        inputs.len(),
        channels.len()
    );
    for (k, (x, &c)) in inputs.iter().zip(channels).enumerate() {
        assert!(
            x.len() == n * c * inner,
            "concat_channels: input {k} has {} elements, expected {n}·{c}·{inner}",
            x.len()
        );
    }
    let total: usize = channels.iter().sum();
    assert!(
        out.len() == n * total * inner,
        "concat_channels: out has {} elements, expected {n}·{total}·{inner}",
        out.len()
    );
    match op_mode(KernelOp::Layout) {
        Mode::Reference => reference::concat_channels(out, inputs, channels, n, inner),
        Mode::Fast => fast::concat_channels(out, inputs, channels, n, inner),
    }
}

/// ∂xₖ: channels `start .. start + count` of each image of `g` [N, total, inner]
/// (overwrites `out`).
#[track_caller]
pub fn slice_channels<T: Real>(
    out: &mut [T],
    g: &[T],
    n: usize,
    total: usize,
    start: usize,
    count: usize,
    inner: usize,
) {
    assert!(
        start + count <= total,
        "slice_channels: channels {start}..{} of {total}",
        start + count
    );
    assert!(
        g.len() == n * total * inner && out.len() == n * count * inner,
        "slice_channels: g has {} elements (expected {}), out {} (expected {})",
        g.len(),
        n * total * inner,
        out.len(),
        n * count * inner
    );
    match op_mode(KernelOp::Layout) {
        Mode::Reference => reference::slice_channels(out, g, n, total, start, count, inner),
        Mode::Fast => fast::slice_channels(out, g, n, total, start, count, inner),
    }
}
