//! `stitch train`.

use std::fs::File;
use std::io::Write;

use stitch::checkpoint::Checkpoint;
use stitch::data::FashionMnist;
use stitch::nn::Module;
use stitch::train::{TrainConfig, Trainer};

use super::progress::Progress;
use super::{setup, TrainArgs};

pub fn run(a: TrainArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    let config = TrainConfig {
        model: a.model.clone(),
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        optimizer: a.optimizer.into(),
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        schedule: a.schedule.into(),
        seed: a.seed,
        limit_train: a.limit_train,
    };
    // Arguments first (cheap), then the data.
    config.validate(usize::MAX)?;
    let data = FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
    config.validate(data.train.len())?;
    let FashionMnist { dir, train, test } = data;
    let train = match config.limit_train {
        Some(n) => train.truncated(n),
        None => train,
    };
    let mut metrics = match &a.metrics {
        Some(p) => {
            Some(File::create(p).map_err(|e| format!("{}: cannot create: {e}", p.display()))?)
        }
        None => None,
    };
    let mut trainer = Trainer::new(config.clone())?;
    println!(
        "stitch: model {} ({} parameters), {} train / {} test images from {}, {} threads, {} kernels ({})",
        config.model,
        trainer.model.num_parameters(),
        train.len(),
        test.len(),
        dir.display(),
        threads,
        stitch_kernels::mode().name(),
        stitch_kernels::isa::isa().name(),
    );
    let mut progress = Progress::new(a.quiet);
    stitch::profile::enable(a.profile);
    for _ in 0..config.epochs {
        let m = trainer
            .run_epoch(&train, &test, &mut progress)
            .map_err(|e| e.to_string())?;
        if let Some(f) = metrics.as_mut() {
            writeln!(f, "{}", m.to_json(&[]))
                .and_then(|_| f.flush())
                .map_err(|e| format!("--metrics: {e}"))?;
        }
        if let Some(path) = &a.save {
            let meta = recipe(&config, trainer.epoch);
            Checkpoint::from_module(&trainer.model, meta)
                .save(path)
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some(path) = &a.save {
        println!("saved {}", path.display());
    }
    if a.profile {
        let (peak, bandwidth) = super::profile_cmd::probe_machine(threads);
        let rows = stitch::profile::rows();
        print!(
            "\n{}",
            stitch::profile::table(&rows, Some(peak), Some(bandwidth))
        );
    }
    Ok(())
}

/// The metadata stored with a checkpoint: the model and the recipe that produced it.
pub fn recipe(c: &TrainConfig, epoch: usize) -> Vec<(String, String)> {
    vec![
        ("model".into(), c.model.clone()),
        ("epoch".into(), epoch.to_string()),
        ("epochs".into(), c.epochs.to_string()),
        ("batch".into(), c.batch.to_string()),
        ("lr".into(), c.lr.to_string()),
        ("optimizer".into(), c.optimizer.name().into()),
        ("schedule".into(), c.schedule.name().into()),
        ("seed".into(), c.seed.to_string()),
    ]
}
