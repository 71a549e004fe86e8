//! `stitch train`: a fresh run, or `--resume` of a saved one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::data::FashionMnist;
use crate::nn::Module;
use crate::train::{TrainConfig, TrainError, Trainer};

use super::progress::Progress;
use super::{setup, TrainArgs};

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const INTERRUPTED: i32 = 130;

pub(crate) fn run(a: TrainArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    let resumed = match &a.resume {
        Some(path) => Some((Checkpoint::load(path).map_err(|e| e.to_string())?, path)),
        None => None,
    };
    if a.resume.is_some() && a.init.is_some() {
        return Err(
            "--init and --resume exclude each other: a resumed run continues from its own weights"
                .into(),
        );
    }
    let config = match &resumed {
        Some((ck, path)) => {
            let saved = TrainConfig::from_checkpoint(ck, path)?;
            if let Some(m) = a.model.as_ref().filter(|m| **m != saved.model) {
                return Err(format!(
                    "--model {m} differs from the model {} saved in {}",
                    saved.model,
                    path.display()
                ));
            }
            a.apply(saved)?
        }
        None => a.apply(TrainConfig::default())?,
    };
    // Arguments first (cheap), then every output path, then the data.
    config.validate(usize::MAX)?;
    if let Some(p) = &a.save {
        super::check_save_target(p)?;
    }
    for (flag, p) in [
        ("--plot", &a.plot),
        ("--metrics", &a.metrics),
        ("--report", &a.report),
    ] {
        if let Some(p) = p {
            super::check_writable(flag, p)?;
        }
    }
    // A resumed run reads the directory it trained on unless --data says otherwise.
    let saved_dir = resumed
        .as_ref()
        .and_then(|(ck, _)| ck.get("data"))
        .map(PathBuf::from)
        .filter(|d| d.is_dir());
    let data_arg = a.run.data.clone().or(saved_dir);
    let data = FashionMnist::locate_and_load(data_arg.as_deref()).map_err(|e| e.to_string())?;
    config.validate(data.train.len())?;
    let FashionMnist { dir, train, test } = data;
    let train = match config.limit_train {
        Some(n) => train.truncated(n),
        None => train,
    };
    // --val: the held-out images leave the training set; the test set is never touched.
    if config.batch > train.len() {
        eprintln!(
            "warning: --batch {} is larger than the training set ({} images): each epoch is one batch of {}",
            config.batch,
            train.len(),
            train.len()
        );
    }
    let (train, validation) = if config.val > 0 {
        let (rest, held) = train.hold_out(config.val, config.seed);
        (rest, Some(held))
    } else {
        (train, None)
    };
    let mut trainer = match &resumed {
        Some((ck, path)) => {
            let t = Trainer::resume(ck, path, config.clone())?;
            if t.epoch >= config.epochs {
                return Err(format!(
                    "{}: the checkpoint has already trained {} of {} epochs; pass --epochs N with N > {} to train more",
                    path.display(),
                    t.epoch,
                    config.epochs,
                    t.epoch
                ));
            }
            t
        }
        None => {
            let t = Trainer::new(config.clone())?;
            if let Some(init) = &a.init {
                // A safetensors state (a stitch export, PyTorch's state_dict) or any stitch
                // checkpoint: its model tensors; optimizer state, if any, is not used.
                let ck = Checkpoint::load(init).map_err(|e| e.to_string())?;
                ck.load_into(t.model.as_ref(), init)
                    .map_err(|e| e.to_string())?;
                println!("starting from the weights in {}", init.display());
            }
            t
        }
    };
    let mut metrics = match &a.metrics {
        Some(p) => {
            let f = if resumed.is_some() {
                OpenOptions::new().create(true).append(true).open(p)
            } else {
                File::create(p)
            };
            Some(f.map_err(|e| format!("{}: cannot create: {e}", p.display()))?)
        }
        None => None,
    };
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
    if let Some((_, path)) = &resumed {
        println!(
            "resuming {} after epoch {} (step {}), training to epoch {}",
            path.display(),
            trainer.epoch,
            trainer.step,
            config.epochs
        );
    }
    // The last complete checkpoint on disk, for the messages of an early stop.
    let mut last_saved: Option<(PathBuf, usize)> = match (&resumed, &a.save) {
        (Some((_, r)), Some(s)) if *r == s => Some((s.clone(), trainer.epoch)),
        _ => None,
    };
    if a.diagnostics {
        trainer.diagnostics = Some(Default::default());
    }
    trainer.validation = validation;
    // Per-epoch figures of this invocation, for --plot.
    let mut history = Vec::new();
    // The same with each epoch's diagnostics, for --report.
    let mut lines = Vec::new();
    install_ctrl_c();
    let mut progress = Progress::new(a.quiet);
    crate::profile::enable(a.profile);
    while trainer.epoch < config.epochs {
        let m = match trainer.run_epoch(&train, &test, &mut progress) {
            Ok(m) => m,
            Err(e) => {
                drop(progress);
                let kept = kept_message(&last_saved, a.save.as_deref());
                if let TrainError::Interrupted { .. } = e {
                    eprintln!("stitch: {e}; {kept}");
                    std::process::exit(INTERRUPTED);
                }
                return Err(format!("{e}; {kept}"));
            }
        };
        let diagnostics = trainer.diagnostics.as_mut().map(|d| d.finish());
        if let Some(d) = &diagnostics {
            print!("{d}");
        }
        history.push(m.clone());
        lines.push(crate::train::MetricsLine {
            metrics: m.clone(),
            diagnostics: diagnostics.clone(),
        });
        if let Some(p) = &a.plot {
            let svg = crate::viz::svg::training_curves(
                &config.model,
                &[(config.model.clone(), history.clone())],
            );
            std::fs::write(p, svg).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
        }
        if let Some(f) = metrics.as_mut() {
            let extra: Vec<(&str, String)> = diagnostics
                .iter()
                .map(|d| ("diagnostics", d.to_json()))
                .collect();
            writeln!(f, "{}", m.to_json(&extra))
                .and_then(|_| f.flush())
                .map_err(|e| format!("--metrics: {e}"))?;
        }
        if let Some(path) = &a.report {
            write_report(path, &trainer, &dir, &lines, &test, a.profile)?;
        }
        if let Some(path) = &a.save {
            trainer
                .checkpoint(Some(&dir))
                .save(path)
                .map_err(|e| e.to_string())?;
            last_saved = Some((path.clone(), trainer.epoch));
        }
    }
    if let Some(path) = &a.save {
        println!("saved {}", path.display());
    }
    if a.profile {
        let (peak, bandwidth) = super::profile_cmd::probe_machine(threads);
        let rows = crate::profile::rows();
        print!(
            "\n{}",
            crate::profile::table(&rows, Some(peak), Some(bandwidth))
        );
    }
    Ok(())
}

/// The first Ctrl-C asks the epoch to stop after its batch; a second one quits at once
/// (checkpoints are written atomically, so that cannot leave half a file either).
pub(crate) fn install_ctrl_c() {
    // Fails only if a handler is already set (a second run in the same process).
    let _ = ctrlc::set_handler(|| {
        if crate::train::stop_requested() {
            eprintln!("\nstitch: interrupted again, quitting now");
            std::process::exit(INTERRUPTED);
        }
        eprintln!("\nstitch: stopping after the current batch (Ctrl-C again to quit now)");
        crate::train::request_stop();
    });
}

/// What an early stop leaves behind.
fn kept_message(last_saved: &Option<(PathBuf, usize)>, save: Option<&Path>) -> String {
    match (last_saved, save) {
        (Some((p, e)), _) => format!(
            "the last complete checkpoint is {} (epoch {e}); continue with --resume {}",
            p.display(),
            p.display()
        ),
        (None, Some(p)) => format!(
            "no epoch finished, so nothing was written to {}",
            p.display()
        ),
        (None, None) => "no checkpoint was written (pass --save FILE to keep one per epoch)".into(),
    }
}

/// `--report`: the page of [`crate::report`] for the model as it is now, with the run's
/// history so far, written atomically.
fn write_report(
    path: &Path,
    trainer: &crate::train::Trainer,
    dir: &Path,
    lines: &[crate::train::MetricsLine],
    test: &crate::data::Split,
    profiled: bool,
) -> Result<(), String> {
    let profile = profiled.then(|| crate::report::ProfileSection {
        rows: crate::profile::rows(),
        peak_gflops: None,
        bandwidth_gbs: None,
        note: format!(
            "Every training step of this run so far ({} steps). The machine's peaks are not probed during training: `stitch report --profile` measures them.",
            trainer.step
        ),
    });
    let input = crate::report::ReportInput {
        name: trainer.config.model.clone(),
        model: trainer.model.as_ref(),
        meta: trainer.meta(Some(dir)),
        history: lines.to_vec(),
        test,
        images: None,
        profile,
    };
    // The page's own forward passes are not training steps: keep them out of the profile.
    let on = crate::profile::is_enabled();
    crate::profile::enable(false);
    let page = crate::report::build(&input);
    crate::profile::enable(on);
    crate::checkpoint::write_atomically(path, page.as_bytes())
}
