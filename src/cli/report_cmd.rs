//! `stitch report`: the HTML page of [`crate::report`] for a checkpoint (or a safetensors
//! file of weights), with the run's metrics file and, on request, a profile measured now.

use std::time::Instant;

use crate::data::FashionMnist;
use crate::report::{build, ReportInput};
use crate::train::{read_metrics, TrainConfig};

use super::{setup, ReportArgs};

pub(crate) fn run(a: ReportArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    super::check_writable("--out", &a.out)?;
    let (name, ck, model) = super::export_cmd::load_model(&a.load, a.model.as_deref())?;
    let history = match &a.metrics {
        Some(p) => read_metrics(p)?,
        None => Vec::new(),
    };
    let data = FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
    let images = match a.images.as_deref() {
        Some(&[i, j]) => {
            for k in [i, j] {
                if k >= data.test.len() {
                    return Err(format!(
                        "--images: {k} is outside the test set (0..{})",
                        data.test.len()
                    ));
                }
            }
            Some([i, j])
        }
        Some(other) => {
            return Err(format!(
                "--images takes two test image numbers as I,J, not {} of them",
                other.len()
            ))
        }
        None => None,
    };
    let profile = if a.profile {
        if a.steps == 0 {
            return Err("--steps must be at least 1".into());
        }
        // The checkpoint's recipe when it has one (its batch size), else the defaults.
        let config = TrainConfig::from_checkpoint(&ck, &a.load).unwrap_or(TrainConfig {
            model: name.clone(),
            ..TrainConfig::default()
        });
        let n = (a.steps + 3) * config.batch;
        if data.train.len() < n {
            return Err(format!(
                "--steps {} at batch {} needs {n} training images, the set has {}",
                a.steps,
                config.batch,
                data.train.len()
            ));
        }
        Some(super::profile_cmd::measure(
            &config,
            &data.train.truncated(n),
            a.steps,
            threads,
        )?)
    } else {
        None
    };
    let start = Instant::now();
    let input = ReportInput {
        name: name.clone(),
        model: model.as_ref(),
        meta: ck.meta.clone(),
        history,
        test: &data.test,
        images,
        profile,
    };
    let page = build(&input);
    crate::checkpoint::write_atomically(&a.out, page.as_bytes())?;
    println!(
        "wrote {}: model {name}, {:.2} MB, built in {:.2} s",
        a.out.display(),
        page.len() as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
