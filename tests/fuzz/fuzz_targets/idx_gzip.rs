//! The IDX reader behind gzip: the fuzzer's bytes are compressed first, so every header
//! check is reached through the decoder; then the raw bytes under a gzip magic test the
//! decoder's own error paths.
#![no_main]

mod common;

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use stitch::data::{parse_idx_bytes, IdxKind};

#[global_allocator]
static A: common::Counting = common::Counting;

fuzz_target!(|bytes: &[u8]| {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    let gz = enc.finish().unwrap();
    let mut raw = vec![0x1f, 0x8b];
    raw.extend_from_slice(bytes);
    for input in [&gz, &raw] {
        for kind in [IdxKind::Labels, IdxKind::Images] {
            let peak = common::peak_during(|| {
                let _ = parse_idx_bytes(input, Path::new("fuzz.idx.gz"), kind);
            });
            // What the reader keeps grows with the bytes that really decompress: deflate
            // expands at most ~1032× its input, and the buffer at most doubles.
            let limit = 2 * 1100 * input.len() + (256 << 10);
            assert!(peak <= limit, "{} gzip bytes made the reader allocate {peak}", input.len());
        }
    }
});
