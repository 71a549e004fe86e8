//! `stitch ladder`: the four steps of the write-up in turn, with one recipe.

use std::fs::File;
use std::io::Write;

use crate::data::FashionMnist;
use crate::models::{self, LADDER};
use crate::nn::Module;
use crate::train::{json_str, TrainConfig, Trainer};

use super::progress::Progress;
use super::{setup, LadderArgs};

/// One finished step of the ladder.
struct Step {
    model: &'static str,
    params: usize,
    test_acc: f64,
    mean_epoch_seconds: f64,
}

pub(crate) fn run(a: LadderArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    let recipe = |model: &str| TrainConfig {
        model: model.to_string(),
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        schedule: a.schedule.into(),
        seed: a.seed,
        limit_train: a.limit_train,
        ..TrainConfig::default()
    };
    recipe("dnn").validate(usize::MAX)?;
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
        "stitch ladder: {} epochs each, batch {}, lr {}, {} schedule, seed {}, {} train images from {}, {} threads",
        a.epochs,
        a.batch,
        a.lr,
        crate::train::Schedule::from(a.schedule).name(),
        a.seed,
        train.len(),
        dir.display(),
        threads
    );
    let mut steps = Vec::new();
    let mut runs: Vec<(String, Vec<crate::train::EpochMetrics>)> = Vec::new();
    for model in LADDER {
        println!("\n== {model}");
        runs.push((model.to_string(), Vec::new()));
        let mut trainer = Trainer::new(recipe(model))?;
        let mut progress = Progress::new(a.quiet);
        let mut last = None;
        let mut seconds = 0.0;
        for _ in 0..a.epochs {
            let m = trainer
                .run_epoch(&train, &test, &mut progress)
                .map_err(|e| format!("{model}: {e}"))?;
            if let Some(f) = metrics.as_mut() {
                writeln!(f, "{}", m.to_json(&[("model", json_str(model))]))
                    .and_then(|_| f.flush())
                    .map_err(|e| format!("--metrics: {e}"))?;
            }
            seconds += m.epoch_seconds;
            runs.last_mut().expect("pushed").1.push(m.clone());
            last = Some(m);
        }
        let last = last.ok_or("--epochs must be at least 1")?;
        steps.push(Step {
            model,
            params: trainer.model.num_parameters(),
            test_acc: last.test_acc,
            mean_epoch_seconds: seconds / a.epochs as f64,
        });
    }
    println!(
        "\n{:<5} {:<10} {:>10} {:>10} {:>10} {:>10}",
        "step", "model", "params", "test acc", "seed's", "epoch s"
    );
    for (i, s) in steps.iter().enumerate() {
        println!(
            "{:<5} {:<10} {:>10} {:>9.2}% {:>9}% {:>10.2}",
            i + 1,
            s.model,
            s.params,
            s.test_acc,
            models::seed_accuracy(s.model),
            s.mean_epoch_seconds
        );
    }
    if let Some(p) = &a.plot {
        // The seed's "~93" is read as 93.
        let seed: Vec<f64> = steps
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
                ("seed write-up".to_string(), seed),
            ],
        );
        let curves = crate::viz::svg::training_curves("the ladder", &runs);
        let svg = crate::viz::svg::stack(&[curves, bars]);
        std::fs::write(p, svg).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
