//! The checkpoint loader on arbitrary bytes. Most inputs stop at the checksum, so the
//! target also appends the right CRC-32 to reach the parser behind it; loaded checkpoints
//! are then tried against a model and as optimizer state.
#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stitch::checkpoint::{crc32, Checkpoint};

#[global_allocator]
static A: common::Counting = common::Counting;

fuzz_target!(|bytes: &[u8]| {
    let mut sealed = bytes.to_vec();
    sealed.extend_from_slice(&crc32(bytes).to_le_bytes());
    for input in [bytes, &sealed[..]] {
        let file = Path::new("fuzz.ck");
        let peak = common::peak_during(|| {
            if let Ok(ck) = Checkpoint::from_bytes(input, file) {
                let _ = ck.optimizer_state(file);
                let _ = stitch::train::TrainConfig::from_checkpoint(&ck, file);
            }
        });
        // Every tensor is checked against the bytes left before it is allocated: the parsed
        // checkpoint is a bounded multiple of the input (a 6-byte tensor entry becomes an 80-byte
        // record, and vectors grow by doubling).
        let limit = 32 * input.len() + (64 << 10);
        assert!(peak <= limit, "{} checkpoint bytes made the loader allocate {peak}", input.len());
    }
});
