//! `stitch export`: a checkpoint's model weights as a safetensors file under PyTorch's
//! `state_dict` names, and the shared step of the commands that read weights: a file (a
//! stitch checkpoint or a safetensors state) into a freshly built model.

use std::path::Path;

use crate::checkpoint::Checkpoint;
use crate::nn::Module;

use super::ExportArgs;

/// A model's name, the file it was loaded from, and the model.
pub(crate) type Loaded = (String, Checkpoint, Box<dyn Module<f32>>);

/// The model `file` holds weights for, built and loaded: its name from the file's `model`
/// entry, or from `model_flag` (which must agree when both are there).
pub(crate) fn load_model(file: &Path, model_flag: Option<&str>) -> Result<Loaded, String> {
    let ck = Checkpoint::load(file).map_err(|e| e.to_string())?;
    let name = match (ck.get("model"), model_flag) {
        (Some(saved), Some(flag)) if saved != flag => {
            return Err(format!(
                "{}: holds weights of model {saved}, not of --model {flag}",
                file.display()
            ))
        }
        (Some(saved), _) => saved.to_string(),
        (None, Some(flag)) => flag.to_string(),
        (None, None) => {
            return Err(format!(
                "{}: the file names no model; say which with --model NAME (see `stitch models`)",
                file.display()
            ))
        }
    };
    let model = crate::models::build(&name, 0).map_err(|e| format!("{}: {e}", file.display()))?;
    ck.load_into(model.as_ref(), file)
        .map_err(|e| e.to_string())?;
    Ok((name, ck, model))
}

pub(crate) fn run(a: ExportArgs) -> Result<(), String> {
    let (name, _, model) = load_model(&a.load, None)?;
    crate::safetensors::save_module(
        model.as_ref(),
        &a.out,
        &[("model".to_string(), name.clone())],
    )
    .map_err(|e| e.to_string())?;
    println!(
        "wrote {}: model {name}, {} tensors (PyTorch's state_dict names, F32; num_batches_tracked as I64)",
        a.out.display(),
        model.named_parameters().len() + model.named_buffers().len() + model.named_counters().len()
    );
    Ok(())
}
