//! safetensors: the tensor file format of the Hugging Face stack, read and written by
//! PyTorch (`safetensors.torch`), candle, burn, dfdx and tinygrad. stitch's checkpoints are
//! safetensors files, and [`save_module`] / [`load_module`] move any model's weights to and
//! from the other tools under PyTorch's `state_dict` names.
//!
//! ## Format
//! ```text
//! N          u64 little-endian: the header's length in bytes
//! header     N bytes of UTF-8 JSON: {"name": {"dtype": "F32", "shape": [2, 3],
//!            "data_offsets": [begin, end]}, …, "__metadata__": {"key": "value", …}},
//!            padded with spaces
//! data       the tensors' bytes, little-endian, row-major, at [begin, end) of this section
//! ```
//!
//! ## Validation (as strict as the reference reader, `safetensors` 0.4+)
//! The header length is at most [`MAX_HEADER`] and within the file; the header is UTF-8 and
//! one JSON object (RFC 8259, no key twice); each tensor has a known dtype, a shape whose
//! element count × dtype size does not overflow and equals its byte range; the ranges, in
//! order, start at 0, leave no hole, overlap nothing and end exactly at the end of the file;
//! `__metadata__` maps strings to strings. Every failure is one line naming the file. The
//! reader works on the file's bytes in place: it allocates the names and shapes it keeps
//! and nothing sized by a number the file claims.

pub mod json;
mod module;

use std::fmt;
use std::path::{Path, PathBuf};

use json::Cursor;
pub use module::{fit_report, load_module, save_module, LoadReport};

/// The longest header accepted: 100 MB, the reference reader's limit.
pub const MAX_HEADER: u64 = 100_000_000;

/// What can be wrong with a safetensors file, or with loading one into a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetensorsError {
    /// The file concerned.
    pub file: PathBuf,
    /// What is wrong, in one line.
    pub what: String,
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.what)
    }
}

impl std::error::Error for SafetensorsError {}

/// A tensor's element type as the format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float (what stitch computes in).
    F32,
    /// 64-bit float (read, rounded to f32).
    F64,
    /// 64-bit signed integer (batch norm's `num_batches_tracked`).
    I64,
    /// Any other type of the format (F16, BF16, I32, U8, BOOL, …): its name and size.
    Other(&'static str, usize),
}

/// Every dtype name the format defines, with its size in bytes.
const DTYPES: [(&str, usize); 16] = [
    ("BOOL", 1),
    ("U8", 1),
    ("I8", 1),
    ("F8_E5M2", 1),
    ("F8_E4M3", 1),
    ("I16", 2),
    ("U16", 2),
    ("F16", 2),
    ("BF16", 2),
    ("I32", 4),
    ("U32", 4),
    ("F32", 4),
    ("F64", 8),
    ("I64", 8),
    ("U64", 8),
    ("F4", 1),
];

impl Dtype {
    /// The dtype named `name`, if the format has it.
    pub fn parse(name: &str) -> Option<Dtype> {
        let (n, size) = DTYPES.iter().copied().find(|(n, _)| *n == name)?;
        Some(match n {
            "F32" => Dtype::F32,
            "F64" => Dtype::F64,
            "I64" => Dtype::I64,
            _ => Dtype::Other(n, size),
        })
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::Other(n, _) => n,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::Other(_, s) => s,
        }
    }
}

/// One tensor of a parsed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Its shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Its bytes, [begin, end) of the data section.
    pub range: (usize, usize),
}

/// A parsed file: its metadata and tensors, over the file's bytes.
#[derive(Debug)]
pub struct SafeTensors<'a> {
    /// `__metadata__`, in file order.
    pub metadata: Vec<(String, String)>,
    /// The tensors, in the order of their data.
    pub tensors: Vec<TensorInfo>,
    data: &'a [u8],
}

impl<'a> SafeTensors<'a> {
    /// Parses and validates `bytes`, the contents of `file` (named in errors).
    pub fn parse(bytes: &'a [u8], file: &Path) -> Result<SafeTensors<'a>, SafetensorsError> {
        parse(bytes).map_err(|what| SafetensorsError {
            file: file.to_path_buf(),
            what,
        })
    }

    /// The value of metadata key `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The bytes of `t`.
    pub fn bytes(&self, t: &TensorInfo) -> &'a [u8] {
        &self.data[t.range.0..t.range.1]
    }

    /// The whole data section.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The values of a floating-point tensor as f32 (F64 rounded), or an error naming the
    /// tensor and its dtype.
    pub fn f32_values(&self, t: &TensorInfo) -> Result<Vec<f32>, String> {
        let b = self.bytes(t);
        match t.dtype {
            Dtype::F32 => Ok(b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()),
            Dtype::F64 => Ok(b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()),
            d => Err(format!(
                "tensor {} has dtype {}; stitch reads F32 and F64 tensors",
                t.name,
                d.name()
            )),
        }
    }

    /// The value of a one-element integer tensor (I64, or an integral F32/F64).
    pub fn count_value(&self, t: &TensorInfo) -> Result<u64, String> {
        let b = self.bytes(t);
        let v = match t.dtype {
            Dtype::I64 if b.len() == 8 => i64::from_le_bytes(b.try_into().expect("8 bytes")),
            Dtype::F32 | Dtype::F64 if b.len() == t.dtype.size() => {
                let f = self.f32_values(t)?[0] as f64;
                if f.fract() != 0.0 {
                    return Err(format!("tensor {} holds {f}, not a count", t.name));
                }
                f as i64
            }
            _ => {
                return Err(format!(
                    "tensor {} ({} {:?}) is not a one-element count",
                    t.name,
                    t.dtype.name(),
                    t.shape
                ))
            }
        };
        u64::try_from(v).map_err(|_| format!("tensor {} holds {v}, not a count", t.name))
    }
}

/// The header and data of `bytes`, checked as the module docs say.
fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, String> {
    if bytes.len() < 8 {
        return Err(format!(
            "{} bytes is too short for a safetensors file (it starts with an 8-byte header length)",
            bytes.len()
        ));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER {
        return Err(format!(
            "the header length {n} exceeds the {MAX_HEADER}-byte limit"
        ));
    }
    let rest = (bytes.len() - 8) as u64;
    if n > rest {
        return Err(format!(
            "the header length {n} is more than the {rest} bytes after it"
        ));
    }
    let n = n as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n])
        .map_err(|e| format!("the header is not UTF-8 ({e})"))?;
    let data = &bytes[8 + n..];
    let (metadata, mut tensors) = parse_header(header)?;
    // The byte ranges, in order, must tile the data section exactly.
    tensors.sort_by_key(|t| t.range);
    let mut end = 0usize;
    for t in &tensors {
        if t.range.0 != end {
            return Err(if t.range.0 > end {
                format!(
                    "tensor {} starts at byte {} of the data, leaving a hole after byte {end}",
                    t.name, t.range.0
                )
            } else {
                format!(
                    "tensor {} starts at byte {}, inside the previous tensor (which ends at {end})",
                    t.name, t.range.0
                )
            });
        }
        end = t.range.1;
    }
    if end != data.len() {
        return Err(if end > data.len() {
            format!(
                "the tensors need {end} bytes of data, the file holds {}",
                data.len()
            )
        } else {
            format!(
                "{} unexpected bytes after the last tensor's data",
                data.len() - end
            )
        });
    }
    Ok(SafeTensors {
        metadata,
        tensors,
        data,
    })
}

type Header = (Vec<(String, String)>, Vec<TensorInfo>);

/// The header's JSON: one object of tensor entries and an optional `__metadata__`.
fn parse_header(header: &str) -> Result<Header, String> {
    let mut c = Cursor::new(header);
    let mut metadata: Option<Vec<(String, String)>> = None;
    let mut tensors: Vec<TensorInfo> = Vec::new();
    let mut names = std::collections::HashSet::new();
    let syntax = |e: String| format!("the header is not valid JSON: {e}");
    c.expect(b'{').map_err(syntax)?;
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            let key = c.string(true).map_err(syntax)?;
            if !names.insert(key.clone()) {
                return Err(format!("the header names {key:?} twice"));
            }
            c.expect(b':').map_err(syntax)?;
            if key == "__metadata__" {
                metadata = Some(parse_metadata(&mut c)?);
            } else {
                let (dtype, shape, range) = parse_entry(&mut c, &key)?;
                tensors.push(TensorInfo {
                    name: key,
                    dtype,
                    shape,
                    range,
                });
            }
            if !c.comma_or(b'}').map_err(syntax)? {
                break;
            }
        }
    }
    if !c.at_end() {
        return Err(format!(
            "the header is not valid JSON: unexpected {} after its object at byte {}",
            c.what(),
            c.i
        ));
    }
    Ok((metadata.unwrap_or_default(), tensors))
}

fn parse_metadata(c: &mut Cursor) -> Result<Vec<(String, String)>, String> {
    let syntax = |e: String| format!("the header is not valid JSON at __metadata__: {e}");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut keys = std::collections::HashSet::new();
    c.expect(b'{').map_err(syntax)?;
    if c.peek() == Some(b'}') {
        c.i += 1;
        return Ok(out);
    }
    loop {
        let k = c.string(true).map_err(syntax)?;
        if !keys.insert(k.clone()) {
            return Err(format!("__metadata__ has the key {k:?} twice"));
        }
        c.expect(b':').map_err(syntax)?;
        if c.peek() != Some(b'"') {
            return Err(format!(
                "__metadata__ entry {k:?} is not a string (the format's metadata maps strings to strings)"
            ));
        }
        let v = c.string(true).map_err(syntax)?;
        out.push((k, v));
        if !c.comma_or(b'}').map_err(syntax)? {
            return Ok(out);
        }
    }
}

type Entry = (Dtype, Vec<usize>, (usize, usize));

/// One tensor's {"dtype", "shape", "data_offsets"} (other keys are skipped, as the
/// reference reader skips them).
fn parse_entry(c: &mut Cursor, name: &str) -> Result<Entry, String> {
    let syntax = |e: String| format!("the header is not valid JSON at tensor {name}: {e}");
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    let mut seen = Vec::new();
    c.expect(b'{').map_err(syntax)?;
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            let k = c.string(true).map_err(syntax)?;
            if seen.contains(&k) {
                return Err(format!("tensor {name} has the key {k:?} twice"));
            }
            c.expect(b':').map_err(syntax)?;
            match k.as_str() {
                "dtype" => {
                    let d = c.string(true).map_err(syntax)?;
                    dtype = Some(
                        Dtype::parse(&d)
                            .ok_or_else(|| format!("tensor {name} has the unknown dtype {d:?}"))?,
                    );
                }
                "shape" => shape = Some(u64_list(c).map_err(syntax)?),
                "data_offsets" => offsets = Some(u64_list(c).map_err(syntax)?),
                _ => c.skip_value(1).map_err(syntax)?,
            }
            seen.push(k);
            if !c.comma_or(b'}').map_err(syntax)? {
                break;
            }
        }
    }
    let missing = |what: &str| format!("tensor {name} has no {what:?}");
    let dtype = dtype.ok_or_else(|| missing("dtype"))?;
    let shape = shape.ok_or_else(|| missing("shape"))?;
    let offsets = offsets.ok_or_else(|| missing("data_offsets"))?;
    let [begin, end] = offsets[..] else {
        return Err(format!(
            "tensor {name}: data_offsets has {} numbers, not 2",
            offsets.len()
        ));
    };
    if begin > end {
        return Err(format!(
            "tensor {name}: data_offsets [{begin}, {end}] end before they begin"
        ));
    }
    let numel = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size() as u64))
        .ok_or_else(|| {
            format!(
                "tensor {name}: shape {shape:?} of {} overflows",
                dtype.name()
            )
        })?;
    if numel != end - begin {
        return Err(format!(
            "tensor {name}: shape {shape:?} of {} needs {numel} bytes, data_offsets [{begin}, {end}] give {}",
            dtype.name(),
            end - begin
        ));
    }
    let to_usize = |v: u64| {
        usize::try_from(v).map_err(|_| format!("tensor {name}: {v} does not fit this machine"))
    };
    let shape = shape.into_iter().map(to_usize).collect::<Result<_, _>>()?;
    Ok((dtype, shape, (to_usize(begin)?, to_usize(end)?)))
}

/// A JSON array of non-negative integers.
fn u64_list(c: &mut Cursor) -> Result<Vec<u64>, String> {
    let mut v = Vec::new();
    c.expect(b'[')?;
    if c.peek() == Some(b']') {
        c.i += 1;
        return Ok(v);
    }
    loop {
        v.push(c.u64()?);
        if !c.comma_or(b']')? {
            return Ok(v);
        }
    }
}

/// One tensor to write: name, dtype, shape and its little-endian bytes.
pub struct TensorBytes {
    /// The name.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<usize>,
    /// The bytes (numel × dtype size of them).
    pub bytes: Vec<u8>,
}

impl TensorBytes {
    /// An F32 tensor.
    pub fn f32(name: &str, shape: &[usize], values: &[f32]) -> Self {
        TensorBytes {
            name: name.to_string(),
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// A 0-dim I64 tensor (a count).
    pub fn i64_scalar(name: &str, v: i64) -> Self {
        TensorBytes {
            name: name.to_string(),
            dtype: Dtype::I64,
            shape: vec![],
            bytes: v.to_le_bytes().to_vec(),
        }
    }
}

/// A file's bytes: the header (tensors in the given order, then `__metadata__`, padded
/// with spaces to a multiple of 8 bytes as the reference writer pads it) and the data.
/// Panics on a duplicate or reserved name, or bytes that do not match a shape (a caller's
/// bug, not bad input).
pub fn serialize(metadata: &[(String, String)], tensors: &[TensorBytes]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0usize;
    let mut names = std::collections::HashSet::new();
    for t in tensors {
        assert!(
            t.name != "__metadata__" && names.insert(t.name.as_str()),
            "safetensors::serialize: tensor name {:?} is reserved or used twice",
            t.name
        );
        let numel: usize = t.shape.iter().product();
        assert_eq!(
            numel * t.dtype.size(),
            t.bytes.len(),
            "safetensors::serialize: {} bytes for {} {:?}",
            t.bytes.len(),
            t.dtype.name(),
            t.shape
        );
        if header.len() > 1 {
            header.push(',');
        }
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        header += &format!(
            "{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            json::quote(&t.name),
            t.dtype.name(),
            shape.join(","),
            offset,
            offset + t.bytes.len()
        );
        offset += t.bytes.len();
    }
    if !metadata.is_empty() {
        if header.len() > 1 {
            header.push(',');
        }
        let entries: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json::quote(k), json::quote(v)))
            .collect();
        header += &format!("\"__metadata__\":{{{}}}", entries.join(","));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in tensors {
        out.extend_from_slice(&t.bytes);
    }
    out
}
