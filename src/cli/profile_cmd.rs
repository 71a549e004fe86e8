//! `stitch profile`: training steps timed op by op, against the machine's probed peak.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{FashionMnist, Split, PIXELS};
use crate::nn::Module;
use crate::train::{TrainConfig, Trainer};
use stitch_kernels::isa::isa;
use stitch_kernels::probe;

use super::{setup, ProfileArgs};

/// Steps run before measuring: the allocator's cache and rayon's threads warm up.
const WARM_UP: usize = 3;

/// `n` random images and labels from a fixed seed: the right shapes without the dataset.
fn synthetic(n: usize) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let images = (0..n * PIXELS).map(|_| rng.gen::<u8>()).collect();
    let labels = (0..n).map(|_| rng.gen_range(0..10u8)).collect();
    Split { images, labels }
}

/// A model training on `train` batch after batch (wrapping round at the end), for timing.
struct Stepper<'a> {
    trainer: Trainer,
    train: &'a Split,
    batch: usize,
    next: usize,
}

impl<'a> Stepper<'a> {
    /// A fresh model in training mode; `warm` runs [`WARM_UP`] steps first (the allocator's
    /// cache and rayon's threads warm up).
    fn new(
        config: &TrainConfig,
        train: &'a Split,
        batch: usize,
        warm: bool,
    ) -> Result<Self, String> {
        let trainer = Trainer::new(config.clone())?;
        trainer.model.train();
        let mut s = Stepper {
            trainer,
            train,
            batch,
            next: 0,
        };
        if warm {
            s.steps(WARM_UP)?;
        }
        Ok(s)
    }

    /// The images and labels of the next batch.
    fn next_batch(&mut self) -> (crate::Tensor<f32>, Vec<usize>) {
        let end = (self.next + self.batch).min(self.train.len());
        let idx: Vec<usize> = (self.next..end).collect();
        self.next = if end == self.train.len() { 0 } else { end };
        self.train.batch(&idx)
    }

    /// `k` training steps; returns their milliseconds per step.
    fn steps(&mut self, k: usize) -> Result<f64, String> {
        let start = std::time::Instant::now();
        for _ in 0..k {
            let (x, y) = self.next_batch();
            self.trainer.train_step(&x, &y)?;
        }
        Ok(1e3 * start.elapsed().as_secs_f64() / k.max(1) as f64)
    }
}

pub(crate) fn run(a: ProfileArgs) -> Result<(), String> {
    let threads = setup(&a.run)?;
    if a.steps == 0 || a.batch == 0 {
        return Err("--steps and --batch must be at least 1".into());
    }
    let config = TrainConfig {
        model: a.model.clone(),
        batch: a.batch,
        ..TrainConfig::default()
    };
    config.validate(usize::MAX)?;
    let n = (a.steps + WARM_UP) * a.batch;
    let (train, source) = if a.real_data {
        let data =
            FashionMnist::locate_and_load(a.run.data.as_deref()).map_err(|e| e.to_string())?;
        if data.train.len() < n {
            return Err(format!(
                "--steps {} × --batch {} needs {n} training images, the set has {}",
                a.steps,
                a.batch,
                data.train.len()
            ));
        }
        (
            data.train.truncated(n),
            format!("real images from {}", data.dir.display()),
        )
    } else {
        (synthetic(n), "synthetic images".to_string())
    };

    // `--memory` counts what tensors hold: shelved buffers would hide in the allocator's
    // live bytes, so it runs without recycling too.
    crate::tensor::recycle::set_enabled(!(a.no_recycle || a.memory));
    if a.memory {
        // Before the probe, whose 64 MiB copy buffers would count in the peak.
        return memory(&a, &config, &train);
    }
    let (peak_all, bandwidth) = probe_machine(threads);

    if a.scaling {
        return scaling(&a, &config, &train, threads);
    }
    if a.overhead {
        return overhead(&a, &config, &train);
    }

    let mut stepper = Stepper::new(&config, &train, a.batch, true)?;
    crate::profile::reset();
    crate::profile::enable(true);
    let ms = stepper.steps(a.steps)?;
    crate::profile::enable(false);
    println!(
        "model {}, batch {}, {} steps on {source}, {} kernels{}: {:.2} ms per step\n",
        a.model,
        a.batch,
        a.steps,
        stitch_kernels::mode().name(),
        if a.no_recycle { ", no recycling" } else { "" },
        ms
    );
    print!(
        "{}",
        crate::profile::table(&crate::profile::rows(), Some(peak_all), Some(bandwidth))
    );
    Ok(())
}

/// `steps` profiled training steps of a fresh model of `config` on `train` (which must hold
/// `(steps + 3) × config.batch` images), after the machine's probe, for `stitch report`.
pub(crate) fn measure(
    config: &TrainConfig,
    train: &Split,
    steps: usize,
    threads: usize,
) -> Result<crate::report::ProfileSection, String> {
    let (peak, bandwidth) = probe_machine(threads);
    let mut stepper = Stepper::new(config, train, config.batch, true)?;
    crate::profile::reset();
    crate::profile::enable(true);
    let ms = stepper.steps(steps)?;
    crate::profile::enable(false);
    Ok(crate::report::ProfileSection {
        rows: crate::profile::rows(),
        peak_gflops: Some(peak),
        bandwidth_gbs: Some(bandwidth),
        note: format!(
            "{steps} training steps of a fresh {} at batch {} on real training images, {threads} threads, {} kernels ({}): {ms:.2} ms per step.",
            config.model,
            config.batch,
            stitch_kernels::mode().name(),
            isa().name()
        ),
    })
}

/// `--memory`: what each op keeps for backward after one training forward pass (walked
/// from the loss), the allocator's live bytes around it, then the peak of a few steps and
/// the process's peak resident memory.
fn memory(a: &ProfileArgs, config: &TrainConfig, train: &Split) -> Result<(), String> {
    use stitch_kernels::alloc;
    let mb = |b: usize| b as f64 / 1e6;
    let mut stepper = Stepper::new(config, train, a.batch, false)?;
    let (x, y) = stepper.next_batch();
    let before = alloc::live_bytes();
    let loss = stepper.trainer.model.forward(&x).cross_entropy(&y);
    let after = alloc::live_bytes();
    let rows = loss.saved_for_backward();
    println!(
        "model {}, batch {}: kept for backward after one training forward pass (buffer recycling off)\n",
        a.model, a.batch
    );
    let w = rows
        .iter()
        .map(|r| r.op.chars().count())
        .fold(26, usize::max);
    println!(
        "{:<w$} {:>5} {:>14} {:>12} {:>10}",
        "op", "nodes", "activations MB", "own MB", "total MB"
    );
    let (mut act, mut own) = (0, 0);
    for r in &rows {
        println!(
            "{:<w$} {:>5} {:>14.2} {:>12.2} {:>10.2}",
            r.op,
            r.nodes,
            mb(r.input_bytes),
            mb(r.own_bytes),
            mb(r.input_bytes + r.own_bytes)
        );
        act += r.input_bytes;
        own += r.own_bytes;
    }
    println!(
        "{:<w$} {:>5} {:>14.2} {:>12.2} {:>10.2}",
        "total",
        rows.iter().map(|r| r.nodes).sum::<usize>(),
        mb(act),
        mb(own),
        mb(act + own)
    );
    println!(
        "\nallocator (blocks of 256 KiB and more): {:.2} MB more live after the forward pass (the graph above, the logits, first-use scratch)",
        mb(after.saturating_sub(before))
    );
    loss.backward();
    drop(loss);
    alloc::reset_peak();
    let base = alloc::live_bytes();
    stepper.steps(a.steps.min(20))?;
    println!(
        "allocator (blocks of 256 KiB and more): peak {:.2} MB during a step, above the {:.2} MB live between steps",
        mb(alloc::peak_live_bytes().saturating_sub(base)),
        mb(base)
    );
    if let Some(hwm) = peak_rss_kb() {
        println!(
            "process peak resident memory (VmHWM): {:.1} MB",
            hwm as f64 / 1e3
        );
    }
    Ok(())
}

/// The process's peak resident set in kB, from /proc (Linux only).
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `--overhead`: the profiler's own cost, measured in one process so both arms share the
/// machine's state. Blocks of `BLOCK` steps alternate between profiler on and off (the arm
/// that goes first alternates too), and each arm's median block is compared.
fn overhead(a: &ProfileArgs, config: &TrainConfig, train: &Split) -> Result<(), String> {
    const BLOCK: usize = 5;
    let mut stepper = Stepper::new(config, train, a.batch, true)?;
    let rounds = a.steps.div_ceil(BLOCK).max(3);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for profiled in [r % 2 == 0, r % 2 == 1] {
            crate::profile::enable(profiled);
            let ms = stepper.steps(BLOCK)?;
            if profiled { &mut on } else { &mut off }.push(ms);
        }
    }
    crate::profile::enable(false);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Each pair's ratio cancels the drift of the machine between pairs.
    let mut ratios: Vec<f64> = on.iter().zip(&off).map(|(a, b)| a / b).collect();
    let ratio = median(&mut ratios);
    let (m_on, m_off) = (median(&mut on), median(&mut off));
    println!(
        "profiler overhead, {rounds} alternating pairs of {BLOCK}-step blocks: median {m_off:.2} ms per step off, {m_on:.2} ms on; median pair ratio {:+.1} %",
        100.0 * (ratio - 1.0)
    );
    Ok(())
}

/// `--scaling`: step time on 1, 2, … threads, with the speed-up over one thread and the
/// parallel efficiency (speed-up / threads).
fn scaling(
    a: &ProfileArgs,
    config: &TrainConfig,
    train: &Split,
    max_threads: usize,
) -> Result<(), String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(max_threads);
    println!(
        "\n{:>8} {:>12} {:>9} {:>11}",
        "threads", "ms per step", "speed-up", "efficiency"
    );
    let mut one = None;
    for t in 1..=cores {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| e.to_string())?;
        let ms = pool.install(|| Stepper::new(config, train, a.batch, true)?.steps(a.steps))?;
        let base = *one.get_or_insert(ms);
        println!(
            "{t:>8} {ms:>12.2} {:>8.2}× {:>10.0}%",
            base / ms,
            100.0 * base / ms / t as f64
        );
    }
    Ok(())
}

/// Measures and prints the machine's ceilings: the FMA peak at the SIMD level in use on one
/// thread and on `threads`, and the streaming-copy bandwidth. Returns (all-thread GFLOP/s,
/// GB/s).
pub(crate) fn probe_machine(threads: usize) -> (f64, f64) {
    let level = isa();
    // The best of three short runs: on a shared machine a neighbour can halve any one of them.
    let iters = 10_000_000;
    let best = |t: usize| {
        (0..3)
            .map(|_| probe::fma_peak(level, t, iters))
            .fold(0.0, f64::max)
    };
    let (peak1, peak_all) = (best(1), best(threads));
    // 64 MiB buffers: twice the 32 MiB L3 of this machine kind, so the copy streams from memory.
    let bandwidth = probe::copy_bandwidth(64 << 20, 8);
    println!(
        "probe: {} FMA peak {:.0} GFLOP/s on 1 thread, {:.0} GFLOP/s on {} threads; copy bandwidth {:.1} GB/s",
        level.name(),
        peak1,
        peak_all,
        threads,
        bandwidth
    );
    (peak_all, bandwidth)
}
