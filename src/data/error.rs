//! Everything that can be wrong with a dataset file, each a one-line message that names the
//! file, what was found and what was expected.

use std::fmt;
use std::path::PathBuf;

/// A failure to read or validate an IDX file or to find the dataset.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be opened or read.
    Io { file: PathBuf, message: String },
    /// The file has no bytes at all.
    Empty { file: PathBuf },
    /// The file starts like gzip (1f 8b) but does not decompress.
    Gzip { file: PathBuf, message: String },
    /// The first two bytes of the magic number are not zero.
    BadMagic {
        file: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The element type code is not 0x08 (unsigned byte).
    WrongTypeCode { file: PathBuf, found: u8 },
    /// The number of dimensions is not what this kind of file has.
    WrongDimensionCount {
        file: PathBuf,
        found: u8,
        expected: u8,
    },
    /// Images are not 28×28.
    WrongImageSize { file: PathBuf, rows: u32, cols: u32 },
    /// The header ends before all its dimensions are given.
    ShortHeader {
        file: PathBuf,
        found: usize,
        expected: usize,
    },
    /// The header claims more data than this reader accepts (a lying header).
    TooLarge {
        file: PathBuf,
        claimed: u64,
        limit: u64,
    },
    /// A gzip file whose header claims more data than [`super::idx::MAX_GZIP_RATIO`] times
    /// its own size (deflate can expand up to ~1032×: a "zip bomb" guard).
    Expansion {
        file: PathBuf,
        claimed: u64,
        compressed: u64,
    },
    /// Fewer payload bytes than the header's dimensions require.
    Truncated {
        file: PathBuf,
        expected: u64,
        found: u64,
    },
    /// More bytes than the header's dimensions account for.
    TrailingBytes { file: PathBuf, expected: u64 },
    /// A label outside 0..=9.
    LabelOutOfRange {
        file: PathBuf,
        label: u8,
        index: usize,
    },
    /// The image and label files disagree on the number of items.
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },
    /// None of the searched directories holds the files.
    NotFound { looked: Vec<PathBuf> },
}

fn name(p: &std::path::Path) -> String {
    p.display().to_string()
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { file, message } => write!(f, "{}: cannot read: {message}", name(file)),
            DataError::Empty { file } => write!(f, "{}: the file is empty, expected an IDX header", name(file)),
            DataError::Gzip { file, message } => {
                write!(f, "{}: starts like gzip (1f 8b) but does not decompress: {message}", name(file))
            }
            DataError::BadMagic { file, found, expected } => write!(
                f,
                "{}: magic number 0x{found:08x} is not an IDX magic, expected 0x{expected:08x}",
                name(file)
            ),
            DataError::WrongTypeCode { file, found } => write!(
                f,
                "{}: element type code 0x{found:02x}, expected 0x08 (unsigned byte)",
                name(file)
            ),
            DataError::WrongDimensionCount { file, found, expected } => write!(
                f,
                "{}: {found} dimensions, expected {expected} ({})",
                name(file),
                if *expected == 1 { "labels: count" } else { "images: count × rows × columns" }
            ),
            DataError::WrongImageSize { file, rows, cols } => {
                write!(f, "{}: images are {rows}×{cols}, expected 28×28", name(file))
            }
            DataError::ShortHeader { file, found, expected } => write!(
                f,
                "{}: the header is cut short: {found} bytes, expected {expected}",
                name(file)
            ),
            DataError::TooLarge { file, claimed, limit } => write!(
                f,
                "{}: the header claims {claimed} bytes of data, more than the {limit}-byte limit of this reader",
                name(file)
            ),
            DataError::Expansion { file, claimed, compressed } => write!(
                f,
                "{}: the header claims {claimed} bytes of data from {compressed} compressed bytes, more than {}× expansion, so the file is refused",
                name(file),
                super::idx::MAX_GZIP_RATIO
            ),
            DataError::Truncated { file, expected, found } => write!(
                f,
                "{}: the header's dimensions need {expected} data bytes, but the file holds only {found}",
                name(file)
            ),
            DataError::TrailingBytes { file, expected } => write!(
                f,
                "{}: more bytes than the header's dimensions account for ({expected} data bytes expected)",
                name(file)
            ),
            DataError::LabelOutOfRange { file, label, index } => {
                write!(f, "{}: label {label} at index {index} is outside 0..=9", name(file))
            }
            DataError::CountMismatch { images, n_images, labels, n_labels } => write!(
                f,
                "{}: {n_images} images, but {} has {n_labels} labels; they must agree",
                name(images),
                name(labels)
            ),
            DataError::NotFound { looked } => {
                let dirs: Vec<String> = looked.iter().map(|p| name(p)).collect();
                write!(
                    f,
                    "Fashion-MNIST not found (looked in {}); install it with: sudo apt-get install -y dataset-fashion-mnist (or pass --data DIR)",
                    dirs.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for DataError {}
