//! The caching allocator gives memory back: after [`release_cached`] the cache is empty and
//! the blocks it held have left the process (its resident memory falls), also when live
//! blocks sit between them. (One test: the cache is process-wide.)

use stitch_kernels::alloc::{cached_bytes, release_cached, CachingAlloc};

#[global_allocator]
static ALLOC: CachingAlloc = CachingAlloc;

#[cfg(target_os = "linux")]
/// The process's resident memory in KiB (`VmRSS` of `/proc/self/status`).
fn resident_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn released_blocks_leave_the_process() {
    // (At most 32 blocks of one size class stay cached.)
    const BLOCKS: usize = 24;
    let mut blocks = Vec::new();
    let mut pins = Vec::new();
    for i in 0..BLOCKS {
        blocks.push(vec![i as u8; 1 << 20]);
        // Still-live blocks between the freed ones (as a training step has).
        pins.push(vec![i as u8; 1 << 20]);
    }
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
