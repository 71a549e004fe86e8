//! The caching allocator gives memory back: every large block it gets from glibc has its
//! own mapping (also after glibc would have raised its mmap threshold), and after
//! [`release_cached`] the cache is empty and the blocks it held have left the process (its
//! resident memory falls), also when live blocks sit between them. (One test: the cache
//! and glibc's counters are process-wide.)

use stitch_kernels::alloc::{cached_bytes, release_cached, CachingAlloc};

#[global_allocator]
static ALLOC: CachingAlloc = CachingAlloc;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
/// The process's resident memory in KiB (`VmRSS` of `/proc/self/status`).
fn resident_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// glibc's `struct mallinfo2`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[repr(C)]
#[allow(dead_code)] // only hblkhd is read
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallinfo2() -> MallInfo2;
}

/// Bytes glibc holds in blocks mapped on their own (`mallinfo2().hblkhd`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn mapped_bytes() -> usize {
    // SAFETY: `mallinfo2` only reads glibc's counters (glibc ≥ 2.33).
    unsafe { mallinfo2() }.hblkhd
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn released_blocks_leave_the_process() {
    // A first large block freed to glibc: on its own, glibc would now raise its mmap
    // threshold to that block's size and carve the next ones out of a heap.
    drop(vec![1u8; 1 << 20]);
    release_cached();
    // (At most 32 blocks of one size class stay cached.)
    const BLOCKS: usize = 24;
    let mut blocks = Vec::new();
    let mut pins = Vec::new();
    for i in 0..BLOCKS {
        blocks.push(vec![i as u8; 1 << 20]);
        // Still-live blocks between the freed ones (as a training step has).
        pins.push(vec![i as u8; 1 << 20]);
    }
    let mapped = mapped_bytes();
    assert!(
        mapped >= (2 * BLOCKS) << 20,
        "{mapped} bytes mapped on their own; expected the {} MiB of large blocks",
        2 * BLOCKS
    );
    let touched: usize = blocks.iter().map(|b| b[b.len() / 2] as usize).sum();
    assert_eq!(touched, (0..BLOCKS).sum());
    let before = resident_kib();
    drop(blocks);
    assert!(
        cached_bytes() >= BLOCKS << 20,
        "the cache holds the freed blocks"
    );
    release_cached();
    assert_eq!(cached_bytes(), 0);
    let after = resident_kib();
    assert!(
        before.saturating_sub(after) >= 16 << 10,
        "resident memory fell by {} KiB only ({before} → {after}); expected about {} KiB",
        before.saturating_sub(after),
        BLOCKS << 10
    );
    assert_eq!(pins.len(), BLOCKS);
}
