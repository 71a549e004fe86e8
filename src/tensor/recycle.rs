//! Recycled buffers: an op's output without the zero fill.
//!
//! `vec![0.0; n]` for a 12.8 MB activation writes 12.8 MB of zeros (one thread, the
//! allocator's `memset`) that the kernel then overwrites, for every large output and
//! gradient of every step: 11–22 % of a `cnn` step on the development machine (`stitch
//! profile --model cnn --no-recycle` against the default, run in turn). PyTorch's
//! ops allocate with `torch.empty`, whose memory holds whatever was there. Safe Rust cannot
//! hand out uninitialised memory, but it can hand out a buffer that a tensor used before:
//! its values are stale, and every one of them is initialised.
//!
//! So a large buffer (at least [`MIN_RECYCLED_BYTES`]) whose tensor or gradient is dropped
//! goes onto a shelf for its element type, and [`take`]`(len, zero)` returns the most recent
//! one of exactly `len` elements, or a new zero-filled one when there is none. Only ops whose
//! kernel overwrites every element of the output call `take`; every other op keeps
//! `vec![0; n]`. Three rules keep the shelves from adding to the peak memory: a buffer not
//! asked for again within [`MAX_AGE`] large takes leaves its shelf (a short last batch's,
//! say); a take that finds no buffer of its length frees the smallest shelved one at least
//! as large (the caching allocator's rule: its memory can serve the new buffer); and the
//! shelves hold at most [`MAX_SHELVED_BYTES`]. Where the sizes change (after an epoch's
//! steps, before its shorter last batch, after evaluation) the trainer empties them with
//! [`release`]. `stitch train --model cnn --epochs 1` peaked at the same resident memory
//! with recycling as without (138 MB, when it was measured).
//!
//! Results cannot depend on what a recycled buffer held, and a test checks it:
//! [`set_poison`] fills every recycled buffer with NaN (`u32::MAX`, `true`) before handing it
//! out, and training with poisoned buffers must equal training without recycling, bit for
//! bit (`tests/recycle.rs`).

use std::any::Any;
use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers smaller than this are not kept: below it the system allocator's own reuse is
/// cheap, and zero-filling them costs little (the caching allocator's threshold as well).
pub const MIN_RECYCLED_BYTES: usize = 256 << 10;
/// The most bytes all shelves hold together: more than one `cnn` step at batch 128 needs
/// (its activations and gradients of 256 KiB and more, ~55 MB between steps).
pub const MAX_SHELVED_BYTES: usize = 96 << 20;

static ENABLED: AtomicBool = AtomicBool::new(true);
static POISON: AtomicBool = AtomicBool::new(false);
static SHELVED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The shelf of one element type: buffers in the order they were given back, each with the
/// [`CLOCK`] reading of that moment.
type Shelf<T> = Mutex<VecDeque<(u64, Vec<T>)>>;

static F32: Shelf<f32> = Mutex::new(VecDeque::new());
static F64: Shelf<f64> = Mutex::new(VecDeque::new());
static U32: Shelf<u32> = Mutex::new(VecDeque::new());
static BOOL: Shelf<bool> = Mutex::new(VecDeque::new());

/// Counts the `take`s of large buffers: a shelved buffer's age is how many went by since it
/// was given back.
static CLOCK: AtomicU64 = AtomicU64::new(0);

/// A buffer not taken within this many large `take`s leaves its shelf. A training step
/// takes each of its buffers once (about 20 takes for `cnn`), so its buffers never age out;
/// buffers no op asks for again (a last, shorter batch; an op that allocates its output
/// itself) leave after a few steps instead of filling the shelves to their cap.
pub const MAX_AGE: u64 = 256;

/// The shelf for `T`, if `T` is one of the recycled element types.
fn shelf<T: 'static>() -> Option<&'static Shelf<T>> {
    let shelves: [&'static dyn Any; 4] = [&F32, &F64, &U32, &BOOL];
    shelves
        .into_iter()
        .find_map(|s| s.downcast_ref::<Shelf<T>>())
}

/// The value a poisoned buffer is filled with: NaN for floats, `u32::MAX`, `true`.
fn poison<T: Copy + 'static>() -> Option<T> {
    let values: [&'static dyn Any; 4] = [&f32::NAN, &f64::NAN, &u32::MAX, &true];
    values
        .into_iter()
        .find_map(|v| v.downcast_ref::<T>().copied())
}

fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// A buffer of `len` elements for an output its kernel overwrites in full: a recycled one
/// (stale values) when a shelf has one of that length, else `vec![zero; len]`.
pub fn take<T: Copy + 'static>(len: usize, zero: T) -> Vec<T> {
    if ENABLED.load(Ordering::Relaxed) && len * size_of::<T>() >= MIN_RECYCLED_BYTES {
        CLOCK.fetch_add(1, Ordering::Relaxed);
        if let Some(shelf) = shelf::<T>() {
            let (found, evicted) = {
                let mut q = shelf.lock().unwrap_or_else(|e| e.into_inner());
                // The most recently given back first: the likeliest to be still in cache.
                let found = q
                    .iter()
                    .rposition(|(_, b)| b.len() == len)
                    .and_then(|i| q.remove(i));
                // A length the shelf has none of (a shorter last batch, say): the smallest
                // shelved buffer at least as large goes back to the allocator, whose cache
                // can then hand its memory to the new buffer instead of adding to the peak
                // (the caching allocator's own rule, which settles after a step or two).
                let need = len * size_of::<T>();
                let evicted = if found.is_none() {
                    q.iter()
                        .enumerate()
                        .filter(|(_, (_, b))| bytes_of(b) >= need)
                        .min_by_key(|(_, (_, b))| bytes_of(b))
                        .map(|(i, _)| i)
                        .and_then(|i| q.remove(i))
                } else {
                    None
                };
                (found, evicted)
            };
            if let Some((_, old)) = evicted {
                SHELVED_BYTES.fetch_sub(bytes_of(&old), Ordering::Relaxed);
            }
            if let Some((_, mut v)) = found {
                SHELVED_BYTES.fetch_sub(bytes_of(&v), Ordering::Relaxed);
                if POISON.load(Ordering::Relaxed) {
                    if let Some(p) = poison::<T>() {
                        v.fill(p);
                    }
                }
                return v;
            }
        }
    }
    vec![zero; len]
}

/// Gives a buffer no tensor needs any more back to its shelf (or frees it: small buffers,
/// types without a shelf, recycling off, or a buffer larger than all shelves may hold).
/// Buffers older than [`MAX_AGE`], and the oldest ones while the shelves hold more than
/// [`MAX_SHELVED_BYTES`], leave this shelf.
pub fn give<T: 'static>(v: Vec<T>) {
    let bytes = bytes_of(&v);
    if !ENABLED.load(Ordering::Relaxed)
        || v.len() * size_of::<T>() < MIN_RECYCLED_BYTES
        || bytes > MAX_SHELVED_BYTES
    {
        return;
    }
    let Some(shelf) = shelf::<T>() else { return };
    let now = CLOCK.load(Ordering::Relaxed);
    let mut evicted = Vec::new();
    {
        let mut q = shelf.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back((now, v));
        SHELVED_BYTES.fetch_add(bytes, Ordering::Relaxed);
        // The front is the oldest: it leaves while too old or over the cap (never the
        // buffer just given). Freed outside the lock.
        while q.len() > 1 {
            let (given, ref front) = q[0];
            let too_old = now.saturating_sub(given) > MAX_AGE;
            if !too_old && SHELVED_BYTES.load(Ordering::Relaxed) <= MAX_SHELVED_BYTES {
                break;
            }
            SHELVED_BYTES.fetch_sub(bytes_of(front), Ordering::Relaxed);
            evicted.extend(q.pop_front());
        }
    }
    drop(evicted);
}

/// Bytes held on the shelves now.
pub fn shelved_bytes() -> usize {
    SHELVED_BYTES.load(Ordering::Relaxed)
}

/// Turns recycling on (the default) or off; off also frees every shelved buffer, so that
/// allocator counts (`stitch profile --memory`) see only what tensors hold.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    if !on {
        clear(&F32);
        clear(&F64);
        clear(&U32);
        clear(&BOOL);
    }
}

/// Frees every shelved buffer and every block the caching allocator holds
/// ([`stitch_kernels::alloc::release_cached`]), keeping recycling on. The trainer calls it
/// where the sizes of the buffers change: after an epoch's steps (whose last batch may be
/// shorter) and after evaluation (no graph, other buffers). Without it, each cache keeps
/// the previous phase's buffers beside the new phase's until they age out, and a resnet20
/// run's resident memory grew from epoch to epoch. The next phase's first step allocates
/// afresh (one step's page faults per phase).
pub fn release() {
    clear(&F32);
    clear(&F64);
    clear(&U32);
    clear(&BOOL);
    stitch_kernels::alloc::release_cached();
}

fn clear<T>(shelf: &Shelf<T>) {
    let drained: Vec<(u64, Vec<T>)> = shelf
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
        .collect();
    for (_, v) in &drained {
        SHELVED_BYTES.fetch_sub(bytes_of(v), Ordering::Relaxed);
    }
}

/// With poison on, every recycled buffer is filled with NaN (`u32::MAX` for indices, `true`
/// for masks) before it is handed out: an op that read its output before writing it, or
/// left part of it unwritten, would show it. For tests; costs a fill per recycled buffer.
pub fn set_poison(on: bool) {
    POISON.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shelves, the clock and the switches are process-wide: one test, in order, so the
    // checks cannot disturb each other. Lengths are odd ones no other test uses.
    #[test]
    fn take_give_poison_age_miss_and_cap_rules() {
        let n = MIN_RECYCLED_BYTES / 4 + 3;
        give(vec![1.5f32; n]);
        let v = take(n, 0.0f32);
        assert_eq!(v.len(), n);
        assert!(v.iter().all(|&x| x == 1.5), "the stale values come back");
        // A small buffer, or a type without a shelf, is a fresh zero-filled one.
        give(vec![7u32; 10]);
        assert!(take(10, 0u32).iter().all(|&x| x == 0));
        give(vec![1i64; n]);
        assert!(take(n, 0i64).iter().all(|&x| x == 0));

        // Poison.
        give(v);
        set_poison(true);
        let p = take(n, 0.0f32);
        assert!(p.iter().all(|x| x.is_nan()));
        give(vec![3u32; n]);
        assert!(take(n, 0u32).iter().all(|&x| x == u32::MAX));
        set_poison(false);

        // A miss frees the smallest shelved buffer at least as large.
        give(p);
        assert!(take(n - 1, 0.0f32).iter().all(|&x| x == 0.0), "a miss");
        assert!(
            take(n, 0.0f32).iter().all(|&x| x == 0.0),
            "freed by the miss"
        );

        // Age: large takes move the clock; the next give clears what is older.
        let m = MIN_RECYCLED_BYTES / 4 + 11;
        give(vec![2.5f32; m]);
        for _ in 0..MAX_AGE + 2 {
            drop(take(m + 5, 0.0f32));
        }
        give(vec![1.0f32; m + 7]);
        assert!(take(m, 0.0f32).iter().all(|&x| x == 0.0), "aged out");

        // The cap: three of these f64 buffers exceed it.
        let k = MAX_SHELVED_BYTES / 8 / 3 + 1;
        for _ in 0..5 {
            give(vec![0.0f64; k]);
        }
        assert!(shelved_bytes() <= MAX_SHELVED_BYTES);

        // Off: nothing is kept, everything is fresh.
        set_enabled(false);
        give(vec![4.0f32; n]);
        assert_eq!(shelved_bytes(), 0);
        assert!(take(n, 0.0f32).iter().all(|&x| x == 0.0));
        set_enabled(true);
    }
}
