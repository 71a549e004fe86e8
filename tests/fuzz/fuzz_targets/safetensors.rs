//! The safetensors reader on arbitrary bytes, twice: as a whole file, and as the header
//! text of a file with an empty data section (so every input reaches the JSON parser rather
//! than stopping at the length prefix). Parsed files are then loaded as a checkpoint and
//! into a model.
#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stitch::checkpoint::Checkpoint;
use stitch::safetensors::SafeTensors;

#[global_allocator]
static A: common::Counting = common::Counting;

fuzz_target!(|bytes: &[u8]| {
    let mut as_header = (bytes.len() as u64).to_le_bytes().to_vec();
    as_header.extend_from_slice(bytes);
    for input in [bytes, &as_header[..]] {
        let file = Path::new("fuzz.safetensors");
        let peak = common::peak_during(|| {
            if let Ok(st) = SafeTensors::parse(input, file) {
                for t in &st.tensors {
                    let _ = st.f32_values(t);
                }
            }
            if let Ok(ck) = Checkpoint::from_bytes(input, file) {
                let m = stitch::models::build("dnn", 0).unwrap();
                let _ = ck.load_into(m.as_ref(), file);
            }
        });
        // The reader works on the bytes in place; what it keeps (names, shapes, metadata,
        // and a checkpoint's f32 copies of the tensors) is a bounded multiple of the input.
        // The dnn built for the load is 101,770 floats.
        let limit = 32 * input.len() + (1 << 20);
        assert!(peak <= limit, "{} bytes made the reader allocate {peak}", input.len());
    }
});
