//! Inverted dropout (PyTorch's `F.dropout` in training mode).
//!
//! Each element is kept with probability 1 − p and scaled by 1/(1 − p), so the expected
//! output equals the input and evaluation needs no rescaling:
//!   y_i = x_i · keep_i / (1 − p)          ∂x_i = G_i · keep_i / (1 − p)
//!
//! ## The mask is a function of (key, i), not a stream
//! keep_i = [hash(key, i) < (1 − p) · 2²⁴], where `hash` is two rounds of MurmurHash3's
//! 32-bit finalizer (a bijection with full avalanche) over the element index and a 64-bit
//! key. A counter-based generator like this needs no state to advance: element i's draw is
//! the same whichever thread computes it, so the mask is identical on 1 or 16 threads, and
//! the backward pass recomputes the mask from the key instead of storing it (no memory
//! kept for backward). The layer draws a fresh key for every forward call from its seeded
//! generator. 24-bit thresholds resolve p to 6e-8.

pub mod fast;
pub mod reference;

use crate::{op_mode, KernelOp, Mode, Real};

/// MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability ½.
#[inline(always)]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The 24-bit uniform draw of element `i` under `key`.
#[inline(always)]
pub fn draw(key: u64, i: u32) -> u32 {
    // The golden-ratio multiply spreads consecutive indices before the first round.
    let h = fmix32(i.wrapping_mul(0x9E37_79B9) ^ key as u32);
    fmix32(h ^ (key >> 32) as u32) >> 8
}

/// The 24-bit threshold below which a draw is kept: (1 − p) · 2²⁴, rounded.
pub fn keep_threshold(p: f64) -> u32 {
    ((1.0 - p) * (1u32 << 24) as f64).round() as u32
}

/// Checks p ∈ [0, 1).
pub fn validate_p(p: f64) -> Result<(), String> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("dropout: probability p = {p} must be in [0, 1)"))
    }
}

#[track_caller]
fn check(kernel: &str, out: usize, input: usize, p: f64) {
    if let Err(e) = validate_p(p) {
        panic!("{e} ({kernel})");
    }
    assert!(
        out == input,
        "{kernel}: output has {out} elements, input {input}: they must match"
    );
    assert!(
        input <= u32::MAX as usize,
        "{kernel}: {input} elements exceed the 2³² element indices of the mask"
    );
}

/// y = x · keep / (1 − p).
#[track_caller]
pub fn dropout_forward<T: Real>(out: &mut [T], input: &[T], p: f64, key: u64) {
    check("dropout_forward", out.len(), input.len(), p);
    match op_mode(KernelOp::Dropout) {
        Mode::Reference => reference::dropout_apply(out, input, p, key),
        Mode::Fast => T::dropout_apply_fast(out, input, p, key),
    }
}

/// ∂x = G · keep / (1 − p), the same mask recomputed from `key`.
#[track_caller]
pub fn dropout_backward<T: Real>(d_input: &mut [T], d_out: &[T], p: f64, key: u64) {
    check("dropout_backward", d_input.len(), d_out.len(), p);
    match op_mode(KernelOp::Dropout) {
        Mode::Reference => reference::dropout_apply(d_input, d_out, p, key),
        Mode::Fast => T::dropout_apply_fast(d_input, d_out, p, key),
    }
}

/// ∂x = G · keep / (1 − p) computed in G's own buffer (`g` holds G in, ∂x out).
#[track_caller]
pub fn dropout_backward_in_place<T: Real>(g: &mut [T], p: f64, key: u64) {
    check("dropout_backward_in_place", g.len(), g.len(), p);
    match op_mode(KernelOp::Dropout) {
        Mode::Reference => reference::dropout_apply_in_place(g, p, key),
        Mode::Fast => T::dropout_apply_in_place_fast(g, p, key),
    }
}

/// The mask itself (1 = kept), for tests and pictures.
pub fn keep_mask(mask: &mut [u8], p: f64, key: u64) {
    let t = keep_threshold(p);
    for (i, m) in mask.iter_mut().enumerate() {
        *m = (draw(key, i as u32) < t) as u8;
    }
}
