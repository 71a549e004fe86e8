//! A model's weights to and from a safetensors file under PyTorch's `state_dict` names:
//! every parameter and buffer as F32, every counter (batch norm's `num_batches_tracked`)
//! as a 0-dim I64, `__metadata__` with `"format": "pt"`. A file written here loads into the
//! PyTorch model of the same architecture with `load_state_dict(strict=True)`, and a file
//! PyTorch's `safetensors.torch.save_file(model.state_dict(), …)` wrote loads here.

use std::path::Path;

use super::{serialize, Dtype, SafeTensors, SafetensorsError, TensorBytes};
use crate::nn::Module;

/// The tensors of `model`'s state: parameters and buffers (F32), then counters (I64).
pub(crate) fn state_tensors(model: &dyn Module<f32>) -> Vec<TensorBytes> {
    let mut out: Vec<TensorBytes> = model
        .named_parameters()
        .into_iter()
        .chain(model.named_buffers())
        .map(|(n, t)| TensorBytes::f32(&n, t.shape(), &t.data()))
        .collect();
    out.extend(
        model
            .named_counters()
            .into_iter()
            .map(|(n, v)| TensorBytes::i64_scalar(&n, v as i64)),
    );
    out
}

/// Writes `model`'s state to `path` (atomically: a temporary file beside it, fsync,
/// rename), with `"format": "pt"` and the caller's `metadata` (for example `("model",
/// "resnet20")`) in `__metadata__`.
pub fn save_module(
    model: &dyn Module<f32>,
    path: &Path,
    metadata: &[(String, String)],
) -> Result<(), SafetensorsError> {
    let mut meta = vec![("format".to_string(), "pt".to_string())];
    meta.extend(metadata.iter().filter(|(k, _)| k != "format").cloned());
    let bytes = serialize(&meta, &state_tensors(model));
    crate::checkpoint::write_atomically(path, &bytes).map_err(|e| SafetensorsError {
        file: path.to_path_buf(),
        what: e,
    })
}

/// What [`load_module`] read besides the weights.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// The file's `__metadata__`.
    pub metadata: Vec<(String, String)>,
    /// Tensors of the file that the model does not have but that were accepted anyway:
    /// `num_batches_tracked` entries for layers that keep no such counter.
    pub ignored: Vec<String>,
}

/// The one line that says why a state does not fit a model: up to three of each kind of
/// problem, with the shapes; `None` when everything fits.
pub fn fit_report(
    missing: &[String],
    unexpected: &[String],
    wrong: &[String],
    bad_dtype: &[String],
) -> Option<String> {
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing {}", listed(missing)));
    }
    if !unexpected.is_empty() {
        problems.push(format!("unexpected {}", listed(unexpected)));
    }
    if !wrong.is_empty() {
        problems.push(listed(wrong));
    }
    if !bad_dtype.is_empty() {
        problems.push(format!("{} (stitch reads F32 and F64)", listed(bad_dtype)));
    }
    (!problems.is_empty()).then(|| format!("does not fit the model: {}", problems.join("; ")))
}

/// Up to `MAX_LISTED` items, then "and N more".
fn listed(items: &[String]) -> String {
    const MAX_LISTED: usize = 3;
    let mut s = items[..items.len().min(MAX_LISTED)].join(", ");
    if items.len() > MAX_LISTED {
        s += &format!(" and {} more", items.len() - MAX_LISTED);
    }
    s
}

/// Copies the tensors of a parsed file into `model`: every parameter and buffer must be
/// there with its shape (F32, or F64 rounded to f32); counters are read when present. One
/// error lists what is missing, unexpected and wrong-shaped (a few of each, with the
/// shapes expected and found); nothing is written into the model unless all of it fits.
pub(crate) fn load_state(
    model: &dyn Module<f32>,
    st: &SafeTensors,
    file: &Path,
    skip: impl Fn(&str) -> bool,
) -> Result<Vec<String>, SafetensorsError> {
    let err = |what: String| SafetensorsError {
        file: file.to_path_buf(),
        what,
    };
    let mut expected = model.named_parameters();
    expected.extend(model.named_buffers());
    let counters = model.named_counters();
    let (mut missing, mut wrong, mut bad_dtype) = (Vec::new(), Vec::new(), Vec::new());
    for (name, t) in &expected {
        match st.tensor(name) {
            None => missing.push(format!("{name} {:?}", t.shape())),
            Some(info) if !matches!(info.dtype, Dtype::F32 | Dtype::F64) => {
                bad_dtype.push(format!("tensor {name} has dtype {}", info.dtype.name()))
            }
            Some(info) if info.shape != t.shape() => wrong.push(format!(
                "tensor {name} has shape {:?}, the model expects {:?}",
                info.shape,
                t.shape()
            )),
            Some(_) => {}
        }
    }
    let mut ignored = Vec::new();
    let mut unexpected = Vec::new();
    for info in &st.tensors {
        let known = expected.iter().any(|(n, _)| *n == info.name)
            || counters.iter().any(|(n, _)| *n == info.name);
        if known || skip(&info.name) {
            continue;
        }
        if info.name.ends_with("num_batches_tracked") {
            ignored.push(info.name.clone());
        } else {
            unexpected.push(format!("{} {:?}", info.name, info.shape));
        }
    }
    if let Some(what) = fit_report(&missing, &unexpected, &wrong, &bad_dtype) {
        return Err(err(what));
    }
    let mut values = Vec::with_capacity(expected.len());
    for (name, _) in &expected {
        let info = st.tensor(name).expect("checked above");
        values.push(st.f32_values(info).map_err(&err)?);
    }
    let mut counts = Vec::new();
    for (name, _) in &counters {
        if let Some(info) = st.tensor(name) {
            counts.push((name.clone(), st.count_value(info).map_err(&err)?));
        }
    }
    for ((_, t), v) in expected.iter().zip(values) {
        t.data_mut().copy_from_slice(&v);
    }
    for (name, v) in counts {
        model.set_counter(&name, v);
    }
    Ok(ignored)
}

/// Reads the safetensors file `path` into `model` and returns its metadata: every parameter
/// and buffer must be there with its shape (F32, or F64 rounded to f32); counters are read
/// when present; one line lists what is missing, unexpected and wrong-shaped, and nothing
/// is written into the model unless all of it fits. Tensors named `optimizer.*` (the optimizer state of a stitch checkpoint)
/// are not the model's and are skipped.
pub fn load_module(model: &dyn Module<f32>, path: &Path) -> Result<LoadReport, SafetensorsError> {
    let bytes = std::fs::read(path).map_err(|e| SafetensorsError {
        file: path.to_path_buf(),
        what: format!("cannot read: {e}"),
    })?;
    let st = SafeTensors::parse(&bytes, path)?;
    let ignored = load_state(model, &st, path, |n| n.starts_with("optimizer."))?;
    Ok(LoadReport {
        metadata: st.metadata.clone(),
        ignored,
    })
}
