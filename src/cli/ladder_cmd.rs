//! `stitch ladder`: the steps of the write-up in turn, each with its own recipe (the one the
//! README's accuracy table gives), and with `--deeper` the next step, resnet20 and
//! vgg-small; a table of test accuracy beside the write-up's (or the literature's) at the
//! end, also after Ctrl-C for the steps finished so far.

use std::fs::File;
use std::io::Write;
use std::time::Instant;

use crate::data::{Augment, FashionMnist};
use crate::models::{self, DEEPER, LADDER};
use crate::nn::Module;
use crate::train::{json_str, OptimizerKind, Schedule, TrainConfig, TrainError, Trainer};

use super::progress::Progress;
use super::{setup, LadderArgs};

/// One finished step of the ladder.
struct Step {
    model: &'static str,
    params: usize,
    recipe: String,
    test_acc: f64,
    mean_epoch_seconds: f64,
}

/// Each step's own recipe: the write-up's (Adam 1e-3, 10 epochs; cnn 15 epochs with a
/// cosine schedule) and, for the deeper nets, the reference recipe R10 of the PyTorch
/// script (SGD 0.1 with Nesterov momentum 0.9, weight decay 5e-4, label smoothing 0.1,
/// one-cycle, flip + 2-pixel crop, mirror averaging at evaluation).
pub(crate) fn step_recipe(model: &str) -> TrainConfig {
    let base = TrainConfig {
        model: model.to_string(),
        ..TrainConfig::default()
    };
    match model {
        "cnn" => TrainConfig {
            epochs: 15,
            schedule: Schedule::Cosine,
            ..base
        },
        "resnet20" | "vgg-small" => TrainConfig {
            epochs: 10,
            lr: 0.1,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            schedule: Schedule::OneCycle,
            augment: Augment {
                flip: true,
                crop: 2,
                erase: false,
            },
            tta: true,
            ..base
        },
        _ => base,
    }
}

/// A recipe in a few words, for the table.
fn describe(c: &TrainConfig) -> String {
    let mut s = format!(
        "{} ep, {} {}, {}",
        c.epochs,
        c.optimizer.name(),
        c.lr,
        c.schedule.name()
    );
    if c.augment.is_on() {
        s += &format!(", {}", c.augment);
    }
    if c.tta {
        s += ", tta";
    }
    s
}

/// A count given on the command line, checked to be at least 1.
fn count(flag: &str, v: Option<i64>) -> Result<Option<usize>, String> {
    match v {
        None => Ok(None),
        Some(n) if n >= 1 => Ok(Some(n as usize)),
        Some(n) => Err(format!("--{flag} must be at least 1, got {n}")),
    }
}

pub(crate) fn run(a: LadderArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    let (epochs, batch) = (count("epochs", a.epochs)?, count("batch", a.batch)?);
    let seed = match a.seed {
        None => 0,
        Some(s) if s >= 0 => s as u64,
        Some(s) => return Err(format!("--seed must be a non-negative integer, got {s}")),
    };
    let names: Vec<&'static str> = LADDER
        .iter()
        .chain(if a.deeper { &DEEPER[..] } else { &[] })
        .copied()
        .collect();
    let recipe = |model: &str| {
        let mut c = step_recipe(model);
        c.epochs = epochs.unwrap_or(c.epochs);
        c.batch = batch.unwrap_or(c.batch);
        c.lr = a.lr.unwrap_or(c.lr);
        if let Some(s) = a.schedule {
            c.schedule = s.into();
        }
        c.seed = seed;
        c.limit_train = a.limit_train;
        c
    };
    for m in &names {
        recipe(m).validate(usize::MAX)?;
    }
    for (flag, p) in [("--plot", &a.plot), ("--metrics", &a.metrics)] {
        if let Some(p) = p {
            super::check_writable(flag, p)?;
        }
    }
    let FashionMnist { dir, train, test } =
        FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
    recipe("dnn").validate(train.len())?;
    let train = match a.limit_train {
        Some(n) => train.truncated(n),
        None => train,
    };
    let mut metrics = match &a.metrics {
        Some(p) => {
            Some(File::create(p).map_err(|e| format!("{}: cannot create: {e}", p.display()))?)
        }
        None => None,
    };
    println!(
        "stitch ladder: {} steps, each with its own recipe, seed {seed}, {} train images from {}, {} threads",
        names.len(),
        train.len(),
        dir.display(),
        threads
    );
    super::train_cmd::install_ctrl_c();
    // The time left: the work still to do in multiply-adds, at the rate measured so far.
    let work: Vec<f64> = names
        .iter()
        .map(|m| {
            let model = models::build(m, 0).expect("validated");
            let c = recipe(m);
            crate::summary::mult_adds_per_image(model.as_ref()) as f64
                * c.epochs as f64
                * train.len() as f64
        })
        .collect();
    let started = Instant::now();
    let mut done_work = 0.0;
    let mut steps: Vec<Step> = Vec::new();
    let mut runs: Vec<(String, Vec<crate::train::EpochMetrics>)> = Vec::new();
    for (k, model) in names.iter().copied().enumerate() {
        let c = recipe(model);
        println!(
            "\n== step {} of {}: {model} ({})",
            k + 1,
            names.len(),
            describe(&c)
        );
        runs.push((model.to_string(), Vec::new()));
        let mut trainer = Trainer::new(c.clone())?;
        let mut progress = Progress::new(a.quiet);
        let mut last = None;
        let mut seconds = 0.0;
        for _ in 0..c.epochs {
            let m = match trainer.run_epoch(&train, &test, &mut progress) {
                Ok(m) => m,
                Err(TrainError::Interrupted { .. }) => {
                    drop(progress);
                    eprintln!(
                        "stitch: interrupted during step {} ({model}); the steps finished so far:",
                        k + 1
                    );
                    print_table(&steps);
                    std::process::exit(super::train_cmd::INTERRUPTED);
                }
                Err(e) => return Err(format!("{model}: {e}")),
            };
            if let Some(f) = metrics.as_mut() {
                writeln!(f, "{}", m.to_json(&[("model", json_str(model))]))
                    .and_then(|_| f.flush())
                    .map_err(|e| format!("--metrics: {e}"))?;
            }
            seconds += m.epoch_seconds;
            done_work += work[k] / c.epochs as f64;
            let total: f64 = work.iter().sum();
            let elapsed = started.elapsed().as_secs_f64();
            if done_work > 0.0 && done_work < total {
                println!(
                    "   about {} left (step {} of {})",
                    human(elapsed * (total - done_work) / done_work),
                    k + 1,
                    names.len()
                );
            }
            runs.last_mut().expect("pushed").1.push(m.clone());
            last = Some(m);
        }
        let last = last.expect("epochs ≥ 1");
        steps.push(Step {
            model,
            params: trainer.model.num_parameters(),
            recipe: describe(&c),
            test_acc: last.test_acc,
            mean_epoch_seconds: seconds / c.epochs as f64,
        });
    }
    println!();
    print_table(&steps);
    if let Some(p) = &a.plot {
        // "~93" is read as 93.
        let seed_acc: Vec<f64> = steps
            .iter()
            .map(|s| {
                models::seed_accuracy(s.model)
                    .trim_start_matches('~')
                    .parse()
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let bars = crate::viz::svg::bar_chart(
            "the ladder: test accuracy of each step",
            "test accuracy (%)",
            &steps
                .iter()
                .map(|s| s.model.to_string())
                .collect::<Vec<_>>(),
            &[
                (
                    "stitch".to_string(),
                    steps.iter().map(|s| s.test_acc).collect(),
                ),
                ("write-up / literature".to_string(), seed_acc),
            ],
        );
        let curves = crate::viz::svg::training_curves("the ladder", &runs);
        let svg = crate::viz::svg::stack(&[curves, bars]);
        std::fs::write(p, svg).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Seconds as "1 h 05 min", "3 min 20 s" or "40 s".
fn human(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

fn print_table(steps: &[Step]) {
    println!(
        "{:<5} {:<10} {:>10} {:<44} {:>10} {:>12} {:>10}",
        "step", "model", "params", "recipe", "test acc", "reference", "epoch s"
    );
    for (i, s) in steps.iter().enumerate() {
        println!(
            "{:<5} {:<10} {:>10} {:<44} {:>9.2}% {:>11}% {:>10.2}",
            i + 1,
            s.model,
            s.params,
            s.recipe,
            s.test_acc,
            models::seed_accuracy(s.model),
            s.mean_epoch_seconds
        );
    }
    println!("(reference: the write-up's figure for steps 1-4; the literature's for resnet20 (a 272k-parameter ResNet-20, 300 epochs) and vgg-small (VGG16's))");
}
