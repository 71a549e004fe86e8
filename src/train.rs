//! The training loop: shuffle, batches, forward, cross-entropy, backward, optimizer step,
//! then evaluation on the test split, once per epoch.
//!
//! Everything random follows from the seed: the initial weights (see [`crate::models`]),
//! the order of each epoch ([`crate::data::epoch_permutation`], stream = epoch), and later
//! the dropout masks. The kernels' parallel reductions have fixed split points, so the same
//! seed gives the same bits on any number of threads.

use std::time::Instant;

use crate::data::{epoch_permutation, Split};
use crate::nn::{Module, Sequential};
use crate::optim::{Adam, Optimizer, Sgd};
use crate::{models, no_grad, Tensor};

/// The optimizer to train with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    Adam,
    AdamW,
    Sgd,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::Sgd => "sgd",
        }
    }
}

/// How the learning rate changes over the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    Constant,
    /// Cosine annealing to 0 over all steps, per step (PyTorch's `CosineAnnealingLR` with
    /// `T_max` = total steps): step t of T uses lr · (1 + cos(π t / T)) / 2.
    Cosine,
}

impl Schedule {
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Constant => "constant",
            Schedule::Cosine => "cosine",
        }
    }

    /// The learning rate of step `t` (from 0) out of `total`.
    pub fn lr_at(self, base: f64, t: u64, total: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                base * (1.0 + (std::f64::consts::PI * t as f64 / total.max(1) as f64).cos()) / 2.0
            }
        }
    }
}

/// A training recipe.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub model: String,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub optimizer: OptimizerKind,
    pub momentum: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub seed: u64,
    pub limit_train: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: "dnn".into(),
            epochs: 10,
            batch: 128,
            lr: 1e-3,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            seed: 0,
            limit_train: None,
        }
    }
}

impl TrainConfig {
    /// Checks every field, returning one line naming the bad one.
    pub fn validate(&self, train_len: usize) -> Result<(), String> {
        models::build(&self.model, 0)?;
        if self.epochs == 0 {
            return Err("--epochs must be at least 1".into());
        }
        if self.batch == 0 {
            return Err("--batch must be at least 1".into());
        }
        if !self.lr.is_finite() || self.lr <= 0.0 {
            return Err(format!(
                "--lr must be a positive finite number, got {}",
                self.lr
            ));
        }
        if !self.momentum.is_finite() || !(0.0..1.0).contains(&self.momentum) {
            return Err(format!(
                "--momentum must be in [0, 1), got {}",
                self.momentum
            ));
        }
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return Err(format!(
                "--weight-decay must be a non-negative finite number, got {}",
                self.weight_decay
            ));
        }
        match self.limit_train {
            Some(0) => return Err("--limit-train must be at least 1".into()),
            Some(n) if n > train_len => {
                return Err(format!(
                    "--limit-train {n} is larger than the training set ({train_len} images)"
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

/// The figures of one epoch (accuracies in percent).
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    /// Seconds of the training loop alone (no evaluation).
    pub epoch_seconds: f64,
    pub samples_per_second: f64,
}

impl EpochMetrics {
    /// One JSON object with exactly the keys of `--metrics`, plus `extra` key/value pairs
    /// (already JSON-encoded values) in front.
    pub fn to_json(&self, extra: &[(&str, String)]) -> String {
        let mut parts: Vec<String> = extra.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        parts.push(format!("\"epoch\": {}", self.epoch));
        parts.push(format!("\"train_loss\": {}", json_num(self.train_loss)));
        parts.push(format!("\"train_acc\": {}", json_num(self.train_acc)));
        parts.push(format!("\"test_loss\": {}", json_num(self.test_loss)));
        parts.push(format!("\"test_acc\": {}", json_num(self.test_acc)));
        parts.push(format!(
            "\"epoch_seconds\": {}",
            json_num(self.epoch_seconds)
        ));
        parts.push(format!(
            "\"samples_per_second\": {}",
            json_num(self.samples_per_second)
        ));
        format!("{{{}}}", parts.join(", "))
    }

    /// The one summary line printed per epoch.
    pub fn summary(&self) -> String {
        format!(
            "epoch {:>2}  train loss {:.4}  train acc {:6.2}%  test loss {:.4}  test acc {:6.2}%  {:6.2} s  {:>7.0} samples/s",
            self.epoch, self.train_loss, self.train_acc, self.test_loss, self.test_acc, self.epoch_seconds, self.samples_per_second
        )
    }
}

/// A finite number as JSON (NaN and infinities have no JSON form: `null`).
fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{}", (v * 1e6).round() / 1e6)
    } else {
        "null".into()
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Told about progress; the CLI draws its bar from these calls.
pub trait Observer {
    /// After each training batch: batches done, batches in the epoch, mean loss so far,
    /// samples per second so far.
    fn batch_done(
        &mut self,
        _epoch: usize,
        _done: usize,
        _total: usize,
        _loss: f64,
        _samples_per_s: f64,
    ) {
    }
    /// After each epoch's evaluation.
    fn epoch_done(&mut self, _m: &EpochMetrics) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// Why training stopped early.
#[derive(Debug)]
pub struct NonFinite {
    pub epoch: usize,
    pub step: usize,
    pub lr: f64,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training diverged: the loss is not finite at epoch {} step {} (lr {}); try a lower --lr",
            self.epoch, self.step, self.lr
        )
    }
}

impl std::error::Error for NonFinite {}

/// A model, its optimizer and where the recipe has got to.
pub struct Trainer {
    pub config: TrainConfig,
    pub model: Sequential,
    pub optimizer: Box<dyn Optimizer>,
    /// Optimizer steps taken so far (drives the schedule).
    pub step: u64,
    /// Epochs completed.
    pub epoch: usize,
}

impl Trainer {
    /// A fresh model and optimizer for `config`.
    pub fn new(config: TrainConfig) -> Result<Trainer, String> {
        let model = models::build(&config.model, config.seed)?;
        let params = model.parameters();
        let optimizer: Box<dyn Optimizer> = match config.optimizer {
            OptimizerKind::Adam => {
                Box::new(Adam::new(params, config.lr).weight_decay(config.weight_decay))
            }
            OptimizerKind::AdamW => Box::new(Adam::adamw(params, config.lr, config.weight_decay)),
            OptimizerKind::Sgd => Box::new(
                Sgd::new(params, config.lr)
                    .momentum(config.momentum)
                    .weight_decay(config.weight_decay),
            ),
        };
        Ok(Trainer {
            config,
            model,
            optimizer,
            step: 0,
            epoch: 0,
        })
    }

    /// One optimizer step on the batch `x` with labels `y`: forward, cross-entropy, backward,
    /// update. Returns the batch's mean loss and how many of its predictions were right.
    /// A non-finite loss skips the update (the caller decides what to do).
    pub fn train_step(&mut self, x: &Tensor<f32>, y: &[usize]) -> (f64, usize) {
        let logits = self.model.forward(x);
        let loss = logits.cross_entropy(y);
        let l = loss.item() as f64;
        let hits = logits
            .argmax()
            .iter()
            .zip(y)
            .filter(|(p, t)| p == t)
            .count();
        if l.is_finite() {
            self.optimizer.zero_grad();
            loss.backward();
            self.optimizer.step();
            self.step += 1;
        }
        (l, hits)
    }

    /// Trains one more epoch on `train`, evaluates on `test`, and returns the figures.
    pub fn run_epoch(
        &mut self,
        train: &Split,
        test: &Split,
        obs: &mut dyn Observer,
    ) -> Result<EpochMetrics, NonFinite> {
        let epoch = self.epoch + 1;
        let c = self.config.clone();
        let n = train.len();
        let batches = n.div_ceil(c.batch);
        let total_steps = (c.epochs * batches) as u64;
        // The shuffle's generator is seeded apart from the init's (seed + a constant).
        let order = epoch_permutation(n, c.seed.wrapping_add(0x5348_5546), epoch as u64);
        self.model.train();
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (b, idx) in order.chunks(c.batch).enumerate() {
            let lr = c.schedule.lr_at(c.lr, self.step, total_steps);
            self.optimizer.set_lr(lr);
            let (x, y) = train.batch(idx);
            let (l, hits) = self.train_step(&x, &y);
            if !l.is_finite() {
                return Err(NonFinite {
                    epoch,
                    step: b + 1,
                    lr,
                });
            }
            loss_sum += l * idx.len() as f64;
            correct += hits;
            seen += idx.len();
            let secs = start.elapsed().as_secs_f64();
            obs.batch_done(
                epoch,
                b + 1,
                batches,
                loss_sum / seen as f64,
                seen as f64 / secs.max(1e-9),
            );
        }
        let epoch_seconds = start.elapsed().as_secs_f64();
        let (test_loss, test_acc, _) = evaluate(&mut self.model, test);
        self.epoch = epoch;
        let m = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_acc: 100.0 * correct as f64 / seen as f64,
            test_loss,
            test_acc,
            epoch_seconds,
            samples_per_second: seen as f64 / epoch_seconds.max(1e-9),
        };
        obs.epoch_done(&m);
        Ok(m)
    }
}

/// Mean cross-entropy, accuracy (percent) and the predicted class of every example, in
/// evaluation mode with no graph.
pub fn evaluate(model: &mut Sequential, split: &Split) -> (f64, f64, Vec<usize>) {
    // The training batch size: the same buffer sizes as a training step, which the
    // allocator's cache already holds, and a low peak memory.
    const EVAL_BATCH: usize = 128;
    // The profiler measures training steps only.
    let profiling = crate::profile::is_enabled();
    crate::profile::enable(false);
    model.eval();
    let _g = no_grad();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut preds = Vec::with_capacity(split.len());
    let all: Vec<usize> = (0..split.len()).collect();
    for idx in all.chunks(EVAL_BATCH) {
        let (x, y): (Tensor<f32>, Vec<usize>) = split.batch(idx);
        let logits = model.forward(&x);
        loss_sum += logits.cross_entropy(&y).item() as f64 * idx.len() as f64;
        let p = logits.argmax();
        correct += p.iter().zip(&y).filter(|(p, t)| p == t).count();
        preds.extend(p);
    }
    crate::profile::enable(profiling);
    let n = split.len().max(1) as f64;
    (loss_sum / n, 100.0 * correct as f64 / n, preds)
}
