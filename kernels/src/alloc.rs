//! A caching global allocator for the large, short-lived buffers of a training step.
//!
//! Every op of a training step allocates its output and every backward rule its gradients:
//! buffers of hundreds of kilobytes to tens of megabytes, freed a few milliseconds later and
//! allocated again, the same sizes, at the next step. The system allocator hands such
//! blocks back to the kernel (`munmap`) and gets fresh ones (`mmap`), so every step pays a
//! page fault and a page clear per 4 KiB touched: a third of a `conv-pool` epoch here.
//!
//! [`CachingAlloc`] keeps freed blocks of at least [`MIN_CACHED`] bytes in size classes
//! (eight per power of two, so at most 12.5 % is wasted by rounding up) and reuses them;
//! everything smaller goes straight to the system allocator, as does everything once the
//! cache holds [`MAX_CACHED_BYTES`]. The binary installs it with
//! `#[global_allocator] static ALLOC: CachingAlloc = CachingAlloc;`.
//!
//! ## Giving memory back
//! A cache keeps the blocks of the sizes it has seen. When the sizes change (the shorter
//! last batch of an epoch, evaluation without a graph), it would still hold the old phase's
//! blocks while the new phase allocates its own; [`release_cached`] frees every cached
//! block at such a boundary (the trainer calls it through `stitch::tensor::recycle::release`).
//! For the freed memory to leave the process, each large block must have its own mapping:
//! glibc's `malloc` maps a block of at least its *mmap threshold* on its own pages and
//! carves smaller ones out of its heaps, and the threshold starts at 128 KiB but rises to
//! the size of each mapped block freed (up to 32 MiB), so after the first step nearly every
//! activation comes from a heap, where a block freed between two live ones stays resident.
//! Without the release, a resnet20 run's resident memory grew by 40–55 MB per epoch (277 MB
//! in the first, 331 MB in the second, 441 MB after ten); with the release but glibc's own
//! threshold, it still stayed at 297–299 MB from the second epoch on, and at 277 MB with
//! both (`stitch train --model resnet20` + R10 on all 60,000 images). Reusing large
//! blocks is this cache's job, not the heaps', so on first use it fixes the threshold at
//! [`MIN_CACHED`] (`mallopt(M_MMAP_THRESHOLD, …)`, which also stops the rise): every block
//! it asks the system for is mapped on its own, and every block it frees is unmapped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Blocks smaller than this are not cached (256 KiB: below it glibc's heap already reuses).
pub const MIN_CACHED: usize = 256 << 10;
/// The most bytes the cache holds in freed blocks: about one `cnn` training step's worth
/// of activations and gradients at batch 128, so the cache never doubles peak memory.
pub const MAX_CACHED_BYTES: usize = 160 << 20;
/// Cached blocks are aligned to a cache line (and to any SIMD vector).
const ALIGN: usize = 64;
/// Size classes: 8 per power of two from 2^18 to 2^40.
const SUB: usize = 8;
const CLASSES: usize = (40 - 18 + 1) * SUB;
/// Blocks kept per class.
const SLOTS: usize = 32;

/// glibc's `mallopt` parameter for the mmap threshold (`M_MMAP_THRESHOLD` in `malloc.h`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: i32 = -3;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    /// glibc: sets one of `malloc`'s tunables; returns 1 on success.
    fn mallopt(param: i32, value: i32) -> i32;
}

static THRESHOLD_FIXED: AtomicBool = AtomicBool::new(false);

/// Fixes the system allocator's mmap threshold at [`MIN_CACHED`] the first time it runs
/// (see the module docs); a no-op after that, and off glibc.
fn fix_mmap_threshold() {
    if THRESHOLD_FIXED.load(Ordering::Relaxed) || THRESHOLD_FIXED.swap(true, Ordering::Relaxed) {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets a tunable under glibc's own lock and allocates nothing (so it
    // cannot re-enter this allocator); M_MMAP_THRESHOLD accepts any value up to 32 MiB.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, MIN_CACHED as i32);
    }
}

/// The class of a size ≥ MIN_CACHED, and the size that class allocates.
fn class_of(size: usize) -> Option<(usize, usize)> {
    let exp = usize::BITS as usize - 1 - size.leading_zeros() as usize; // floor(log2)
    if !(18..=40).contains(&exp) {
        return None;
    }
    let base = 1usize << exp;
    let step = base / SUB;
    let sub = (size - base).div_ceil(step); // 0..=SUB
    let class_size = base + sub * step;
    let class = (exp - 18) * SUB + sub;
    (class < CLASSES).then_some((class, class_size))
}

struct Class {
    lock: AtomicBool,
    len: AtomicUsize,
    slots: [AtomicUsize; SLOTS],
}

impl Class {
    const fn new() -> Self {
        Class {
            lock: AtomicBool::new(false),
            len: AtomicUsize::new(0),
            slots: [const { AtomicUsize::new(0) }; SLOTS],
        }
    }

    fn with<R>(&self, f: impl FnOnce(&AtomicUsize, &[AtomicUsize; SLOTS]) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        let r = f(&self.len, &self.slots);
        self.lock.store(false, Ordering::Release);
        r
    }

    /// Takes the most recently cached block of this class, if any.
    fn pop(&self) -> Option<usize> {
        self.with(|len, slots| {
            let n = len.load(Ordering::Relaxed);
            (n > 0).then(|| {
                len.store(n - 1, Ordering::Relaxed);
                slots[n - 1].load(Ordering::Relaxed)
            })
        })
    }
}

static CACHE: [Class; CLASSES] = [const { Class::new() }; CLASSES];
static CACHED_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes in large blocks handed out and not yet freed (by size class).
pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// The most bytes of large blocks alive at once so far.
pub fn peak_live_bytes() -> usize {
    PEAK_LIVE_BYTES.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the current live bytes.
pub fn reset_peak() {
    PEAK_LIVE_BYTES.store(LIVE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn note_alloc(bytes: usize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_LIVE_BYTES.fetch_max(live, Ordering::Relaxed);
}

/// The caching allocator (see the module docs).
pub struct CachingAlloc;

/// The size a class allocates.
fn class_size_of(class: usize) -> usize {
    let (exp, sub) = (class / SUB + 18, class % SUB);
    (1usize << exp) + sub * ((1usize << exp) / SUB)
}

/// Frees one cached block of the smallest class ≥ `class` that has one, if any.
fn evict_one_at_least(class: usize) {
    for (c, cache) in CACHE.iter().enumerate().skip(class) {
        if CACHED_BYTES.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(p) = cache.pop() {
            free_cached(p, c);
            return;
        }
    }
}

/// Gives block `p`, just taken from the cache of `class`, back to the system.
fn free_cached(p: usize, class: usize) {
    let size = class_size_of(class);
    CACHED_BYTES.fetch_sub(size, Ordering::Relaxed);
    // SAFETY: cached blocks of a class were allocated by the system with exactly this
    // layout, and a block leaves the cache under the class lock, so it is freed once.
    unsafe { System.dealloc(p as *mut u8, Layout::from_size_align_unchecked(size, ALIGN)) };
}

/// Gives every cached block back to the system (see the module docs). Blocks in
/// use are untouched; the cache fills again as they are freed.
pub fn release_cached() {
    for (class, cache) in CACHE.iter().enumerate() {
        while let Some(p) = cache.pop() {
            free_cached(p, class);
        }
    }
}

/// Bytes currently held in freed blocks.
pub fn cached_bytes() -> usize {
    CACHED_BYTES.load(Ordering::Relaxed)
}

fn cacheable(layout: &Layout) -> Option<(usize, usize)> {
    if layout.size() >= MIN_CACHED && layout.align() <= ALIGN {
        class_of(layout.size())
    } else {
        None
    }
}

// SAFETY: every block handed out is either the system allocator's answer for the same
// layout, or (for cacheable layouts) a block the system allocated for the class layout
// (class size ≥ requested size, alignment 64 ≥ requested alignment) and that is not in use:
// it entered the cache only through `dealloc`, after its owner gave it up, and leaves it
// under the class lock, so no two callers receive it.
unsafe impl GlobalAlloc for CachingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((class, class_size)) = cacheable(&layout) else {
            // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
            return unsafe { System.alloc(layout) };
        };
        fix_mmap_threshold();
        note_alloc(class_size);
        let reused = CACHE[class].pop();
        match reused {
            Some(p) => {
                CACHED_BYTES.fetch_sub(class_size, Ordering::Relaxed);
                p as *mut u8
            }
            None => {
                // A size the cache has none of (a smaller last batch, say): first give the
                // system back one cached block at least as large, so the new block can take
                // its memory instead of adding to the peak.
                evict_one_at_least(class);
                // SAFETY: a non-zero size and a power-of-two alignment make a valid layout.
                unsafe { System.alloc(Layout::from_size_align_unchecked(class_size, ALIGN)) }
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if cacheable(&layout).is_none() {
            // SAFETY: forwarded unchanged.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: `alloc` returns a block of at least `layout.size()` bytes, or null.
        unsafe {
            let p = self.alloc(layout);
            if !p.is_null() {
                ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let Some((class, class_size)) = cacheable(&layout) else {
            // SAFETY: `p` came from `System.alloc(layout)` above.
            return unsafe { System.dealloc(p, layout) };
        };
        LIVE_BYTES.fetch_sub(class_size, Ordering::Relaxed);
        let kept = CACHED_BYTES.load(Ordering::Relaxed) + class_size <= MAX_CACHED_BYTES
            && CACHE[class]
                .with(|len, slots| {
                    let n = len.load(Ordering::Relaxed);
                    (n < SLOTS).then(|| {
                        slots[n].store(p as usize, Ordering::Relaxed);
                        len.store(n + 1, Ordering::Relaxed);
                    })
                })
                .is_some();
        if kept {
            CACHED_BYTES.fetch_add(class_size, Ordering::Relaxed);
        } else {
            // SAFETY: cacheable blocks are allocated with the class layout.
            unsafe { System.dealloc(p, Layout::from_size_align_unchecked(class_size, ALIGN)) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = cacheable(&layout);
        // SAFETY: the caller guarantees `new_size` is valid for `layout.align()`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = cacheable(&new_layout);
        if old.is_none() && new.is_none() {
            // SAFETY: neither side is cached: the system's realloc owns both.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        if let (Some((_, a)), Some((_, b))) = (old, new) {
            if a == b {
                return p; // same class: the block already has room
            }
        }
        // SAFETY: allocate, copy the smaller size, free the old block, as the default does.
        unsafe {
            let q = self.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_sizes_agree() {
        for size in [MIN_CACHED, 300_000, 3_211_264, 100 << 20] {
            let (c, bytes) = class_of(size).unwrap();
            assert_eq!(class_size_of(c), bytes);
        }
    }

    #[test]
    fn classes_round_up_by_at_most_an_eighth() {
        for size in [
            MIN_CACHED,
            MIN_CACHED + 1,
            300_000,
            3_211_264,
            12_845_056,
            100 << 20,
        ] {
            let (_, c) = class_of(size).unwrap();
            assert!(c >= size && c <= size + size / 8 + 1, "{size} -> {c}");
        }
        assert!(class_of(1 << 41).is_none());
    }

    #[test]
    fn blocks_are_reused_aligned_and_zeroed_on_request() {
        let a = CachingAlloc;
        let layout = Layout::from_size_align(1 << 20, 4).unwrap();
        // SAFETY: a valid non-zero layout; every block is freed with the layout it was made with.
        unsafe {
            let p = a.alloc(layout);
            assert_eq!(p as usize % ALIGN, 0);
            p.write_bytes(0xAB, layout.size());
            a.dealloc(p, layout);
            let q = a.alloc_zeroed(layout);
            assert!(std::slice::from_raw_parts(q, layout.size())
                .iter()
                .all(|&b| b == 0));
            let r = a.realloc(q, layout, 3 << 20);
            assert!(!r.is_null());
            a.dealloc(r, Layout::from_size_align(3 << 20, 4).unwrap());
        }
    }
}
