//! Checkpoints: every parameter, buffer and counter of a model by name, the optimizer's
//! state, and text metadata (the recipe, the epoch, the step, the random counters).
//!
//! ## The format: safetensors
//! A checkpoint is a [safetensors](crate::safetensors) file, so every tool of the field
//! opens it: the model's tensors under PyTorch's `state_dict` names (F32; batch norm's
//! `num_batches_tracked` as 0-dim I64), the optimizer's slots as extra F32 tensors
//! `optimizer.<slot>.<parameter index>` (for example `optimizer.exp_avg.3`), and the
//! metadata in `__metadata__`, with `stitch.format` = `checkpoint`, the names of the
//! buffers in `stitch.buffers`, and `stitch.crc32`: the CRC-32 (IEEE) of every other
//! metadata entry (key, NUL, value, NUL, in file order) followed by the whole data section,
//! so a damaged file is refused rather than half-trusted. `stitch export` writes the model's
//! tensors alone, for `load_state_dict(strict=True)`.
//!
//! ## The earlier format, STITCHCK (read, no longer written)
//! Checkpoints written before the switch still load: the reader tells the two apart by
//! the first 8 bytes. Version 2, all integers little-endian:
//! ```text
//! magic      8 bytes  "STITCHCK"
//! version    u32      2 (version 1 files, which never hold optimizer state, are read too)
//! n_meta     u32      number of metadata entries (the "model" key names the model)
//! n_meta ×   key: u32 length + UTF-8 bytes, value: u32 length + UTF-8 bytes
//! n_tensors  u32
//! n_tensors × name: u32 length + UTF-8 bytes
//!             kind: u8 (0 = parameter, 1 = buffer, 2 = optimizer state)
//!             ndim: u8, then ndim × u32 dimensions
//!             data: (product of dimensions) × f32
//! crc32      u32      CRC-32 (IEEE, as zlib and PNG) of every byte before it
//! ```
//! Optimizer state tensors are named `optimizer.<slot>.<parameter index>` (for example
//! `optimizer.exp_avg.3`), and the optimizer's step counter is the `optimizer_steps`
//! metadata entry; together with the recipe in the metadata they let `stitch train
//! --resume` continue a run exactly.
//! A checkpoint is written to a temporary file in the same directory, flushed to disk and
//! renamed over the target: a crash leaves the old file or the new one, never half of one.
//! Reading checks the checksum first, then every length against the bytes that remain
//! before allocating anything, so a damaged file gives an error, not a panic or a huge
//! allocation.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::nn::Module;
use crate::optim::OptimizerState;
use crate::Tensor;

/// The first 8 bytes of every checkpoint file.
pub const MAGIC: &[u8; 8] = b"STITCHCK";
/// The format version this stitch writes.
pub const VERSION: u32 = 2;
const MAX_STRING: usize = 1 << 16;
const MAX_NDIM: usize = 8;

/// Whether a saved tensor is trained or only tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A trained tensor (weights, biases).
    Parameter,
    /// A tracked, untrained tensor (batch norm's running statistics).
    Buffer,
    /// A slot of the optimizer's state (Adam's moments, SGD's momentum).
    OptimizerState,
}

/// One saved tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedTensor {
    /// The name.
    pub name: String,
    /// Parameter, buffer or optimizer state.
    pub kind: TensorKind,
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements.
    pub data: Vec<f32>,
}

/// A checkpoint in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Metadata entries, key and value (the recipe, the epoch, …).
    pub meta: Vec<(String, String)>,
    /// The saved tensors.
    pub tensors: Vec<SavedTensor>,
    /// The model's counters by name (batch norm's `num_batches_tracked`).
    pub counters: Vec<(String, u64)>,
}

/// Metadata keys the format itself writes (not part of [`Checkpoint::meta`]).
const FORMAT_KEY: &str = "stitch.format";
const BUFFERS_KEY: &str = "stitch.buffers";
const CRC_KEY: &str = "stitch.crc32";

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, renamed over the target. A crash leaves the old file or the new one, never half of
/// one; on an error the temporary file is removed. The error is the system's message.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().ok_or("not a file path")?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| e.to_string())
}

/// The checksum of a safetensors checkpoint: CRC-32 of each metadata entry but the checksum
/// itself (key, NUL, value, NUL) and of the data section.
fn safetensors_crc(meta: &[(String, String)], data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    for (k, v) in meta.iter().filter(|(k, _)| k != CRC_KEY) {
        c.update(k.as_bytes());
        c.update(&[0]);
        c.update(v.as_bytes());
        c.update(&[0]);
    }
    c.update(data);
    c.sum()
}

/// What can be wrong with a checkpoint file.
#[derive(Debug)]
pub enum CheckpointError {
    /// The file could not be read or written.
    Io {
        /// The file concerned.
        file: PathBuf,
        /// What the system or decoder said.
        message: String,
    },
    /// The file does not start with [`MAGIC`].
    NotACheckpoint {
        /// The file concerned.
        file: PathBuf,
    },
    /// A format version this stitch cannot read.
    UnsupportedVersion {
        /// The file concerned.
        file: PathBuf,
        /// The value found in the file.
        found: u32,
    },
    /// The stored CRC-32 differs from the bytes' own.
    Checksum {
        /// The file concerned.
        file: PathBuf,
        /// The CRC-32 stored in the file.
        stored: u32,
        /// The CRC-32 of the bytes read.
        computed: u32,
    },
    /// A length, kind or string inside the file is impossible.
    Malformed {
        /// The file concerned.
        file: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// A well-formed checkpoint that does not fit the model it is loaded into.
    Mismatch {
        /// The file concerned.
        file: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { file, message } => write!(f, "{}: {message}", file.display()),
            CheckpointError::NotACheckpoint { file } => {
                write!(f, "{}: not a stitch checkpoint (expected the magic bytes \"STITCHCK\")", file.display())
            }
            CheckpointError::UnsupportedVersion { file, found } => write!(
                f,
                "{}: checkpoint format version {found}, this stitch reads versions 1 and {VERSION}",
                file.display()
            ),
            CheckpointError::Checksum { file, stored, computed } => write!(
                f,
                "{}: checksum mismatch (stored 0x{stored:08x}, computed 0x{computed:08x}): the file is damaged or truncated",
                file.display()
            ),
            CheckpointError::Malformed { file, what } => write!(f, "{}: malformed checkpoint: {what}", file.display()),
            CheckpointError::Mismatch { file, what } => write!(f, "{}: {what}", file.display()),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// CRC-32 (IEEE 802.3), the checksum of zlib, gzip and PNG, via flate2.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Checkpoint {
    /// The parameters, buffers and counters of `model` with the given metadata.
    pub fn from_module(model: &dyn Module<f32>, meta: Vec<(String, String)>) -> Checkpoint {
        let mut tensors = Vec::new();
        for (kind, named) in [
            (TensorKind::Parameter, model.named_parameters()),
            (TensorKind::Buffer, model.named_buffers()),
        ] {
            for (name, t) in named {
                tensors.push(SavedTensor {
                    name,
                    kind,
                    shape: t.shape().to_vec(),
                    data: t.to_vec(),
                });
            }
        }
        Checkpoint {
            meta,
            tensors,
            counters: model.named_counters(),
        }
    }

    /// The value of metadata key `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The file's bytes: a safetensors file (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        use crate::safetensors::{serialize, TensorBytes};
        let mut tensors: Vec<TensorBytes> = self
            .tensors
            .iter()
            .map(|t| TensorBytes::f32(&t.name, &t.shape, &t.data))
            .collect();
        tensors.extend(
            self.counters
                .iter()
                .map(|(n, v)| TensorBytes::i64_scalar(n, *v as i64)),
        );
        let buffers: Vec<&str> = self
            .tensors
            .iter()
            .filter(|t| t.kind == TensorKind::Buffer)
            .map(|t| t.name.as_str())
            .collect();
        let mut meta = vec![
            ("format".to_string(), "pt".to_string()),
            (FORMAT_KEY.to_string(), "checkpoint".to_string()),
            (BUFFERS_KEY.to_string(), buffers.join(",")),
        ];
        meta.extend(self.meta.iter().cloned());
        let data: Vec<u8> = tensors
            .iter()
            .flat_map(|t| t.bytes.iter().copied())
            .collect();
        let crc = safetensors_crc(&meta, &data);
        meta.push((CRC_KEY.to_string(), format!("{crc:08x}")));
        serialize(&meta, &tensors)
    }

    /// The bytes of the earlier STITCHCK format, version 2 (no longer written by stitch;
    /// kept so tests can check that such files still load). Counters are not part of it.
    pub fn to_stitchck_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.meta.len() as u32).to_le_bytes());
        for (k, v) in &self.meta {
            put_str(&mut out, k);
            put_str(&mut out, v);
        }
        out.extend_from_slice(&(self.tensors.len() as u32).to_le_bytes());
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.push(match t.kind {
                TensorKind::Parameter => 0,
                TensorKind::Buffer => 1,
                TensorKind::OptimizerState => 2,
            });
            out.push(t.shape.len() as u8);
            for &d in &t.shape {
                out.extend_from_slice(&(d as u32).to_le_bytes());
            }
            for &v in &t.data {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Writes the checkpoint atomically: temporary file in the same directory, flush, fsync,
    /// rename.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        write_atomically(path, &self.to_bytes()).map_err(|message| CheckpointError::Io {
            file: path.to_path_buf(),
            message,
        })
    }

    /// Reads and validates a checkpoint file.
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = fs::read(path).map_err(|e| CheckpointError::Io {
            file: path.into(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses checkpoint bytes, safetensors or STITCHCK; `file` names them in errors.
    pub fn from_bytes(bytes: &[u8], file: &Path) -> Result<Checkpoint, CheckpointError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Self::from_safetensors(bytes, file);
        }
        Self::from_stitchck(bytes, file)
    }

    /// A safetensors file as a checkpoint: its tensors (`optimizer.*` as optimizer state,
    /// the names in `stitch.buffers` as buffers, 0-dim I64 tensors as counters), its
    /// metadata, and the checksum checked when the file has one (files from other tools,
    /// such as PyTorch's `state_dict`, have none and load without it).
    fn from_safetensors(bytes: &[u8], file: &Path) -> Result<Checkpoint, CheckpointError> {
        use crate::safetensors::{Dtype, SafeTensors};
        let st = SafeTensors::parse(bytes, file).map_err(|e| {
            // A file that is not safetensors at all is not a checkpoint of either kind.
            if bytes.len() < 8
                || e.what.contains("header length")
                || e.what.contains("not valid JSON")
                || e.what.contains("UTF-8")
                || e.what.contains("too short")
            {
                CheckpointError::NotACheckpoint { file: file.into() }
            } else {
                CheckpointError::Malformed {
                    file: file.into(),
                    what: e.what,
                }
            }
        })?;
        if let Some(stored) = st.meta(CRC_KEY) {
            let computed = safetensors_crc(&st.metadata, st.data());
            let stored_v = u32::from_str_radix(stored, 16).ok();
            if stored_v != Some(computed) {
                return Err(CheckpointError::Checksum {
                    file: file.into(),
                    stored: stored_v.unwrap_or(0),
                    computed,
                });
            }
        }
        let buffers: Vec<&str> = st
            .meta(BUFFERS_KEY)
            .map(|b| b.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let mut ck = Checkpoint {
            meta: st
                .metadata
                .iter()
                .filter(|(k, _)| !k.starts_with("stitch.") && k != "format")
                .cloned()
                .collect(),
            ..Checkpoint::default()
        };
        // Tensors in the writer's order (the parser sorted them by offset: the same).
        for t in &st.tensors {
            if t.dtype == Dtype::I64 && t.shape.is_empty() {
                let v = st
                    .count_value(t)
                    .map_err(|what| CheckpointError::Malformed {
                        file: file.into(),
                        what,
                    })?;
                ck.counters.push((t.name.clone(), v));
                continue;
            }
            let data = st
                .f32_values(t)
                .map_err(|what| CheckpointError::Malformed {
                    file: file.into(),
                    what,
                })?;
            let kind = if t.name.starts_with("optimizer.") {
                TensorKind::OptimizerState
            } else if buffers.contains(&t.name.as_str())
                || (buffers.is_empty() && is_buffer_name(&t.name))
            {
                TensorKind::Buffer
            } else {
                TensorKind::Parameter
            };
            ck.tensors.push(SavedTensor {
                name: t.name.clone(),
                kind,
                shape: t.shape.clone(),
                data,
            });
        }
        Ok(ck)
    }

    fn from_stitchck(bytes: &[u8], file: &Path) -> Result<Checkpoint, CheckpointError> {
        let malformed = |what: String| CheckpointError::Malformed {
            file: file.into(),
            what,
        };
        if bytes.len() < 16 {
            return Err(malformed(format!(
                "{} bytes is too short for a header and checksum",
                bytes.len()
            )));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != 1 && version != VERSION {
            return Err(CheckpointError::UnsupportedVersion {
                file: file.into(),
                found: version,
            });
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
        let computed = crc32(body);
        if stored != computed {
            return Err(CheckpointError::Checksum {
                file: file.into(),
                stored,
                computed,
            });
        }
        let mut r = Reader {
            bytes: body,
            pos: 12,
            version,
        };
        let mut ck = Checkpoint::default();
        let n_meta = r.u32().map_err(&malformed)? as usize;
        for i in 0..n_meta {
            let k = r
                .string()
                .map_err(|e| malformed(format!("metadata entry {i}: {e}")))?;
            let v = r
                .string()
                .map_err(|e| malformed(format!("metadata entry {i}: {e}")))?;
            ck.meta.push((k, v));
        }
        let n_tensors = r.u32().map_err(&malformed)? as usize;
        for i in 0..n_tensors {
            let t = r
                .tensor()
                .map_err(|e| malformed(format!("tensor {i}: {e}")))?;
            ck.tensors.push(t);
        }
        if r.pos != body.len() {
            return Err(malformed(format!(
                "{} unexpected bytes after the last tensor",
                body.len() - r.pos
            )));
        }
        Ok(ck)
    }

    /// Adds an optimizer's state: one tensor per slot and the `optimizer_steps` entry.
    pub fn with_optimizer_state(mut self, state: &OptimizerState) -> Checkpoint {
        self.meta
            .push(("optimizer_steps".into(), state.steps.to_string()));
        for (slot, index, values) in &state.slots {
            self.tensors.push(SavedTensor {
                name: format!("optimizer.{slot}.{index}"),
                kind: TensorKind::OptimizerState,
                shape: vec![values.len()],
                data: values.iter().map(|&v| v as f32).collect(),
            });
        }
        self
    }

    /// The optimizer state saved by [`Checkpoint::with_optimizer_state`], if any.
    pub fn optimizer_state(&self, file: &Path) -> Result<Option<OptimizerState>, CheckpointError> {
        let malformed = |what: String| CheckpointError::Malformed {
            file: file.into(),
            what,
        };
        let Some(steps) = self.get("optimizer_steps") else {
            return Ok(None);
        };
        let steps = steps
            .parse()
            .map_err(|_| malformed(format!("optimizer_steps is {steps:?}, not a count")))?;
        let mut slots = Vec::new();
        for t in self
            .tensors
            .iter()
            .filter(|t| t.kind == TensorKind::OptimizerState)
        {
            let parsed = t.name.strip_prefix("optimizer.").and_then(|rest| {
                let (slot, index) = rest.rsplit_once('.')?;
                Some((slot.to_string(), index.parse::<usize>().ok()?))
            });
            let (slot, index) = parsed.ok_or_else(|| {
                malformed(format!(
                    "optimizer state tensor {} is not named optimizer.<slot>.<index>",
                    t.name
                ))
            })?;
            slots.push((slot, index, t.data.iter().map(|&v| v as f64).collect()));
        }
        Ok(Some(OptimizerState { steps, slots }))
    }

    /// Copies the saved tensors (and counters, where saved) into `model`, which must have
    /// exactly the same tensor names and shapes.
    pub fn load_into(&self, model: &dyn Module<f32>, file: &Path) -> Result<(), CheckpointError> {
        let mismatch = |what: String| CheckpointError::Mismatch {
            file: file.into(),
            what,
        };
        // Optimizer state is not part of the model (see `optimizer_state`).
        let mut expected: Vec<(String, Tensor<f32>)> = model.named_parameters();
        expected.extend(model.named_buffers());
        let (mut missing, mut wrong) = (Vec::new(), Vec::new());
        for (name, t) in &expected {
            match self.tensors.iter().find(|s| &s.name == name) {
                None => missing.push(format!("{name} {:?}", t.shape())),
                Some(saved) if saved.shape != t.shape() => wrong.push(format!(
                    "tensor {name} has shape {:?}, the model expects {:?}",
                    saved.shape,
                    t.shape()
                )),
                Some(_) => {}
            }
        }
        let unexpected: Vec<String> = self
            .tensors
            .iter()
            .filter(|s| {
                s.kind != TensorKind::OptimizerState && !expected.iter().any(|(n, _)| n == &s.name)
            })
            .map(|s| format!("{} {:?}", s.name, s.shape))
            .collect();
        if let Some(what) = crate::safetensors::fit_report(&missing, &unexpected, &wrong, &[]) {
            return Err(mismatch(what));
        }
        for (name, t) in &expected {
            let saved = self
                .tensors
                .iter()
                .find(|s| &s.name == name)
                .expect("checked above");
            t.data_mut().copy_from_slice(&saved.data);
        }
        for (name, v) in &self.counters {
            model.set_counter(name, *v);
        }
        Ok(())
    }
}

/// Batch norm's running statistics, by their PyTorch names: the buffers of a state file
/// that does not list its buffers (a PyTorch export).
fn is_buffer_name(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

/// A cursor that checks every length against the bytes that remain.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    version: u32,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(format!(
                "needs {n} more bytes at offset {}, only {left} remain",
                self.pos
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        if n > MAX_STRING {
            return Err(format!("a string of {n} bytes (limit {MAX_STRING})"));
        }
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }

    fn tensor(&mut self) -> Result<SavedTensor, String> {
        let name = self.string()?;
        let kind = match self.u8()? {
            0 => TensorKind::Parameter,
            1 => TensorKind::Buffer,
            2 if self.version >= 2 => TensorKind::OptimizerState,
            k => {
                return Err(format!(
                    "{name}: kind {k}, expected 0 (parameter), 1 (buffer) or 2 (optimizer state, version 2)"
                ))
            }
        };
        let ndim = self.u8()? as usize;
        if ndim > MAX_NDIM {
            return Err(format!("{name}: {ndim} dimensions (limit {MAX_NDIM})"));
        }
        let shape: Vec<usize> = (0..ndim)
            .map(|_| self.u32().map(|d| d as usize))
            .collect::<Result<_, _>>()?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= (self.bytes.len() - self.pos) / 4)
            .ok_or_else(|| {
                format!("{name}: shape {shape:?} needs more data than the file holds")
            })?;
        let raw = self.take(numel * 4)?;
        let data = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(SavedTensor {
            name,
            kind,
            shape,
            data,
        })
    }
}
