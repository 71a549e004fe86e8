//! Everything that can be wrong with a dataset file, each a one-line message that names the
//! file, what was found and what was expected.

use std::fmt;
use std::path::PathBuf;

/// A failure to read or validate an IDX file or to find the dataset.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be opened or read.
    Io {
        /// The file concerned.
        file: PathBuf,
        /// What the system or decoder said.
        message: String,
    },
    /// The file has no bytes at all.
    Empty {
        /// The file concerned.
        file: PathBuf,
    },
    /// The file starts like gzip (1f 8b) but does not decompress.
    Gzip {
        /// The file concerned.
        file: PathBuf,
        /// What the system or decoder said.
        message: String,
    },
    /// The first two bytes of the magic number are not zero.
    BadMagic {
        /// The file concerned.
        file: PathBuf,
        /// The value found in the file.
        found: u32,
        /// The value expected.
        expected: u32,
    },
    /// The element type code is not 0x08 (unsigned byte).
    WrongTypeCode {
        /// The file concerned.
        file: PathBuf,
        /// The value found in the file.
        found: u8,
    },
    /// The number of dimensions is not what this kind of file has.
    WrongDimensionCount {
        /// The file concerned.
        file: PathBuf,
        /// The value found in the file.
        found: u8,
        /// The value expected.
        expected: u8,
    },
    /// Images are not 28×28.
    WrongImageSize {
        /// The file concerned.
        file: PathBuf,
        /// Rows.
        rows: u32,
        /// Columns.
        cols: u32,
    },
    /// The header ends before all its dimensions are given.
    ShortHeader {
        /// The file concerned.
        file: PathBuf,
        /// The value found in the file.
        found: usize,
        /// The value expected.
        expected: usize,
    },
    /// The header claims more data than this reader accepts (a lying header).
    TooLarge {
        /// The file concerned.
        file: PathBuf,
        /// Bytes of data the header claims.
        claimed: u64,
        /// The largest payload accepted.
        limit: u64,
    },
    /// Fewer payload bytes than the header's dimensions require.
    Truncated {
        /// The file concerned.
        file: PathBuf,
        /// The value expected.
        expected: u64,
        /// The value found in the file.
        found: u64,
    },
    /// More bytes than the header's dimensions account for.
    TrailingBytes {
        /// The file concerned.
        file: PathBuf,
        /// The value expected.
        expected: u64,
    },
    /// A label outside 0..=9.
    LabelOutOfRange {
        /// The file concerned.
        file: PathBuf,
        /// The label value found.
        label: u8,
        /// The label's position in the file (from 0).
        index: usize,
    },
    /// The image and label files disagree on the number of items.
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Images in the images file.
        n_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Labels in the labels file.
        n_labels: usize,
    },
    /// None of the searched directories holds the files.
    NotFound {
        /// The directories searched, in order.
        looked: Vec<PathBuf>,
    },
    /// A directory given by `--data` or `STITCH_DATA` lacks some of the four files.
    Incomplete {
        /// The directory.
        dir: PathBuf,
        /// Where it was given: "--data" or "STITCH_DATA".
        given_by: &'static str,
        /// The files it lacks (each may be plain or `.gz`).
        missing: Vec<String>,
    },
    /// A split's file holds no examples.
    EmptySplit {
        /// The file concerned.
        file: PathBuf,
    },
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
            DataError::Incomplete { dir, given_by, missing } => write!(
                f,
                "{} (given by {given_by}) lacks {} (plain or .gz)",
                name(dir),
                missing.join(", ")
            ),
            DataError::EmptySplit { file } => {
                write!(f, "{}: the file holds no images (its count is 0)", name(file))
            }
        }
    }
}

impl std::error::Error for DataError {}
