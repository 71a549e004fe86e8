//! Per-thread scratch buffers, reused across calls so the hot kernels do not allocate.
//!
//! Each rayon worker keeps its own buffers for as long as it lives. A kernel borrows one for
//! the duration of a task that makes no rayon call of its own (so no other task can run on
//! the same thread meanwhile); should a buffer be busy anyway, a fresh one is used.

use std::cell::RefCell;

thread_local! {
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PARTIALS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static STAGE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static WORK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACK_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACK_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static UNPOOLED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with(
    key: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]),
) {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0.0);
            }
            f(&mut v[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// A buffer of at least `len` floats for im2col columns (contents unspecified).
pub(crate) fn with_cols(len: usize, f: impl FnOnce(&mut [f32])) {
    with(&COLS, len, f)
}

/// A buffer for per-chunk partial results of a reduction (contents unspecified).
pub(crate) fn with_partials(len: usize, f: impl FnOnce(&mut [f32])) {
    with(&PARTIALS, len, f)
}

/// A buffer for a kernel's staged outputs (contents unspecified).
pub(crate) fn with_stage(len: usize, f: impl FnOnce(&mut [f32])) {
    with(&STAGE, len, f)
}

/// A kernel's working buffer beside the others (contents unspecified).
pub(crate) fn with_work(len: usize, f: impl FnOnce(&mut [f32])) {
    with(&WORK, len, f)
}

/// The full-size gradient a fused convolution → pool routes its pooled gradient into
/// (contents unspecified). Unlike the others it is held across rayon calls, so no kernel
/// those calls run may borrow it.
pub(crate) fn with_unpooled(len: usize, f: impl FnOnce(&mut [f32])) {
    with(&UNPOOLED, len, f)
}

/// The packed gemm's two buffers, Ã and B̃, of at least `len_a` and `len_b` floats.
pub(crate) fn with_packing(len_a: usize, len_b: usize, f: impl FnOnce(&mut [f32], &mut [f32])) {
    with(&PACK_A, len_a, |a| with(&PACK_B, len_b, |b| f(a, b)))
}
