//! Fashion-MNIST from the raw IDX files.
//!
//! - `idx.rs`: the IDX format reader (gzip or plain, detected by content), validating every
//!   header field against the bytes actually present.
//! - `error.rs`: [`DataError`], one line per failure, naming the file.
//! - `fashion.rs`: the dataset in memory (u8 pixels), where to find it, and batches
//!   converted to normalized f32 as they are drawn.
//! - `augment.rs`: flip, crop and random erasing as the batch is built, seeded per image.

pub mod augment;
mod error;
mod fashion;
pub mod idx;

pub use augment::Augment;
pub use error::DataError;
pub use fashion::{
    epoch_permutation, locate, FashionMnist, Split, CLASS_NAMES, DEFAULT_DIR, FALLBACK_DIR, MEAN,
    PIXELS, STD,
};
pub use idx::{idx_bytes, parse_idx_bytes, read_idx, write_idx, IdxArray, IdxKind};
