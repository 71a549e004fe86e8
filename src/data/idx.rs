//! The IDX file format (LeCun's MNIST format), read and written.
//!
//! ```text
//! offset  size  field
//! 0       2     0x00 0x00
//! 2       1     element type: 0x08 = unsigned byte (the only one Fashion-MNIST uses)
//! 3       1     number of dimensions d: 1 for labels, 3 for images
//! 4       4·d   each dimension, a big-endian u32: count (, rows, columns)
//! 4+4d    …     the elements, row-major, one byte each
//! ```
//! So labels start with the magic number 0x00000801 and images with 0x00000803.
//!
//! A file is gzip-compressed when its first two bytes are 1f 8b, whatever its name. Every
//! header field is checked, and the payload length is compared with the bytes actually
//! present before anything the header claims is allocated: a header that claims four
//! billion images fails with a one-line error, it never asks for 3 TB of memory.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ReadBytesExt, WriteBytesExt};
use flate2::read::GzDecoder;

use super::DataError;

/// The largest payload this reader accepts: 1 GiB, twenty times the largest Fashion-MNIST
/// file, so a lying header is rejected before it costs anything.
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// The two kinds of IDX files in the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxKind {
    /// `[count]` unsigned bytes in 0..=9.
    Labels,
    /// `[count, 28, 28]` unsigned bytes.
    Images,
}

impl IdxKind {
    /// The number of dimensions the header must declare (1 for labels, 3 for images).
    pub fn ndim(self) -> u8 {
        match self {
            IdxKind::Labels => 1,
            IdxKind::Images => 3,
        }
    }

    /// The magic number: 0x0000_0801 for labels, 0x0000_0803 for images.
    pub fn magic(self) -> u32 {
        0x0800 | self.ndim() as u32
    }
}

/// The dimensions and bytes of one IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header.
    pub dims: Vec<usize>,
    /// The elements.
    pub data: Vec<u8>,
}

/// Reads and validates the IDX file at `path` (gzip or plain).
pub fn read_idx(path: &Path, kind: IdxKind) -> Result<IdxArray, DataError> {
    let io_err = |e: io::Error| DataError::Io {
        file: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = File::open(path).map_err(io_err)?;
    let file_len = f.metadata().map_err(io_err)?.len();
    let mut sniff = [0u8; 2];
    let got = read_up_to(&mut f, &mut sniff).map_err(io_err)?;
    drop(f);
    let f = File::open(path).map_err(io_err)?;
    if got == 2 && sniff == [0x1f, 0x8b] {
        parse(
            GzDecoder::new(BufReader::new(f)),
            path,
            kind,
            Source::Gzip {
                compressed: file_len,
            },
        )
    } else {
        parse(
            BufReader::new(f),
            path,
            kind,
            Source::Plain { len: file_len },
        )
    }
}

/// As [`read_idx`] on bytes already in memory; `file` names them in errors. Used by tests
/// and the fuzz targets.
pub fn parse_idx_bytes(bytes: &[u8], file: &Path, kind: IdxKind) -> Result<IdxArray, DataError> {
    let len = bytes.len() as u64;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse(
            GzDecoder::new(bytes),
            file,
            kind,
            Source::Gzip { compressed: len },
        )
    } else {
        parse(Cursor::new(bytes), file, kind, Source::Plain { len })
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What the bytes of a stream are known to be before it is read.
#[derive(Clone, Copy)]
enum Source {
    /// Uncompressed, `len` bytes in all: the payload is checked against it before reading.
    Plain { len: u64 },
    /// A gzip stream of `compressed` bytes: its decompressed length is only known once read.
    Gzip { compressed: u64 },
}

/// Deflate rarely expands data more than this: the payload buffer of a gzip file starts at
/// most this many times the compressed size and grows (by doubling) only as decompressed
/// bytes really arrive, so a small file with a lying header never reserves its claim. What
/// a gzip file can make the reader allocate is bounded by the bytes it really decompresses
/// to (deflate's own limit is about 1032× the compressed size), by its header's claim, and
/// by [`MAX_PAYLOAD`]; no ratio is imposed, so a valid file of mostly-blank images that
/// compresses 1000× is read like any other.
const EXPECTED_RATIO: u64 = 16;

/// Parses an IDX stream from `source`.
fn parse(
    mut r: impl Read,
    file: &Path,
    kind: IdxKind,
    source: Source,
) -> Result<IdxArray, DataError> {
    let file_buf = file.to_path_buf();
    let gzip = matches!(source, Source::Gzip { .. });
    let plain_len = match source {
        Source::Plain { len } => Some(len),
        Source::Gzip { .. } => None,
    };
    // Any read error of a gzip stream is a corrupt or cut stream; of a plain file, an I/O error.
    let read_err = |e: io::Error| -> DataError {
        if gzip {
            DataError::Gzip {
                file: file_buf.clone(),
                message: e.to_string(),
            }
        } else {
            DataError::Io {
                file: file_buf.clone(),
                message: e.to_string(),
            }
        }
    };

    let mut magic = [0u8; 4];
    let n = read_up_to(&mut r, &mut magic).map_err(read_err)?;
    if n == 0 {
        return Err(DataError::Empty { file: file.into() });
    }
    if n < 4 {
        return Err(DataError::ShortHeader {
            file: file.into(),
            found: n,
            expected: 4,
        });
    }
    let found = u32::from_be_bytes(magic);
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::BadMagic {
            file: file.into(),
            found,
            expected: kind.magic(),
        });
    }
    if magic[2] != 0x08 {
        return Err(DataError::WrongTypeCode {
            file: file.into(),
            found: magic[2],
        });
    }
    if magic[3] != kind.ndim() {
        return Err(DataError::WrongDimensionCount {
            file: file.into(),
            found: magic[3],
            expected: kind.ndim(),
        });
    }

    let header_len = 4 + 4 * kind.ndim() as usize;
    let mut dim_bytes = vec![0u8; 4 * kind.ndim() as usize];
    let n = read_up_to(&mut r, &mut dim_bytes).map_err(read_err)?;
    if n < dim_bytes.len() {
        return Err(DataError::ShortHeader {
            file: file.into(),
            found: 4 + n,
            expected: header_len,
        });
    }
    let mut cur = Cursor::new(&dim_bytes);
    let dims: Vec<u32> = (0..kind.ndim())
        .map(|_| cur.read_u32::<BigEndian>().unwrap_or(0))
        .collect();
    if kind == IdxKind::Images && (dims[1] != 28 || dims[2] != 28) {
        return Err(DataError::WrongImageSize {
            file: file.into(),
            rows: dims[1],
            cols: dims[2],
        });
    }
    // A product of at most three u32 values always fits in u128.
    let payload: u128 = dims.iter().map(|&d| d as u128).product();
    if payload > MAX_PAYLOAD as u128 {
        return Err(DataError::TooLarge {
            file: file.into(),
            claimed: payload.min(u64::MAX as u128) as u64,
            limit: MAX_PAYLOAD,
        });
    }
    let payload = payload as u64;
    if let Some(total) = plain_len {
        let available = total.saturating_sub(header_len as u64);
        if available < payload {
            return Err(DataError::Truncated {
                file: file.into(),
                expected: payload,
                found: available,
            });
        }
        if available > payload {
            return Err(DataError::TrailingBytes {
                file: file.into(),
                expected: payload,
            });
        }
    }

    // Read at most one byte more than the payload. A plain file's payload was checked against
    // its length; a gzip stream's buffer starts at the payload or EXPECTED_RATIO × the
    // compressed size, whichever is smaller, and grows only as real bytes arrive.
    let reserve = match source {
        Source::Plain { .. } => payload,
        Source::Gzip { compressed } => payload.min(compressed.saturating_mul(EXPECTED_RATIO)),
    } as usize;
    let mut data = Vec::with_capacity(reserve);
    (&mut r)
        .take(payload + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if (data.len() as u64) < payload {
        return Err(DataError::Truncated {
            file: file.into(),
            expected: payload,
            found: data.len() as u64,
        });
    }
    if data.len() as u64 > payload {
        return Err(DataError::TrailingBytes {
            file: file.into(),
            expected: payload,
        });
    }
    if kind == IdxKind::Labels {
        if let Some((index, &label)) = data.iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(DataError::LabelOutOfRange {
                file: file.into(),
                label,
                index,
            });
        }
    }
    Ok(IdxArray {
        dims: dims.into_iter().map(|d| d as usize).collect(),
        data,
    })
}

/// The bytes of an IDX file with unsigned-byte elements.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, 0x08, dims.len() as u8]);
    for &d in dims {
        out.write_u32::<BigEndian>(d)
            .expect("writing to a Vec cannot fail");
    }
    out.extend_from_slice(data);
    out
}

/// Writes an IDX file (gzip-compressed if `gzip`). Used by tests to make small datasets.
pub fn write_idx(path: &Path, dims: &[u32], data: &[u8], gzip: bool) -> io::Result<()> {
    let bytes = idx_bytes(dims, data);
    let mut f = File::create(path)?;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        enc.write_all(&bytes)?;
        enc.finish()?.sync_all()
    } else {
        f.write_all(&bytes)?;
        f.sync_all()
    }
}

/// `dir/name.gz` if it exists, else `dir/name`, else `None`.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}
