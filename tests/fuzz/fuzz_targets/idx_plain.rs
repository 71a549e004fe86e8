//! The IDX reader on arbitrary bytes, as labels and as images: an error or an array, never a
//! panic, and never more memory than the input plus a small constant.
#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stitch::data::{parse_idx_bytes, IdxKind};

#[global_allocator]
static A: common::Counting = common::Counting;

fuzz_target!(|bytes: &[u8]| {
    for kind in [IdxKind::Labels, IdxKind::Images] {
        let peak = common::peak_during(|| {
            let _ = parse_idx_bytes(bytes, Path::new("fuzz.idx"), kind);
        });
        // Plain input: the payload buffer is at most the input; gzip input (the fuzzer finds
        // the magic bytes too): at most twice what deflate can expand it to (~1032×), plus
        // the decoder.
        let limit = 2 * 1100 * bytes.len() + (256 << 10);
        assert!(peak <= limit, "{} input bytes made the reader allocate {peak}", bytes.len());
    }
});
