//! The training loop: shuffle, batches, forward, cross-entropy, backward, optimizer step,
//! then evaluation on the test split, once per epoch.
//!
//! Everything random follows from the seed: the initial weights (see [`crate::models`]),
//! the order of each epoch ([`crate::data::epoch_permutation`], stream = epoch), and later
//! the dropout masks. The kernels' parallel reductions have fixed split points, so the same
//! seed gives the same bits on any number of threads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::checkpoint::Checkpoint;

use crate::data::{epoch_permutation, Split};
use crate::nn::{Module, Sequential};
use crate::optim::{Adam, Optimizer, Sgd};
use crate::{models, no_grad, Tensor};

/// The optimizer to train with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Adam with L2 weight decay folded into the gradient.
    Adam,
    /// Adam with decoupled weight decay.
    AdamW,
    /// Stochastic gradient descent with momentum.
    Sgd,
}

impl OptimizerKind {
    /// The kind named `name` (as [`OptimizerKind::name`] spells it).
    pub fn from_name(name: &str) -> Option<OptimizerKind> {
        [
            OptimizerKind::Adam,
            OptimizerKind::AdamW,
            OptimizerKind::Sgd,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// The name used by `--optimizer` and in checkpoints.
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
    /// The same learning rate for every step.
    Constant,
    /// Cosine annealing to 0 over all steps, per step (PyTorch's `CosineAnnealingLR` with
    /// `T_max` = total steps): step t of T uses lr · (1 + cos(π t / T)) / 2.
    Cosine,
}

impl Schedule {
    /// The schedule named `name` (as [`Schedule::name`] spells it).
    pub fn from_name(name: &str) -> Option<Schedule> {
        [Schedule::Constant, Schedule::Cosine]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The name used by `--schedule` and in checkpoints.
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
    /// The model (or its name).
    pub model: String,
    /// Epochs to train in all.
    pub epochs: usize,
    /// Images per batch.
    pub batch: usize,
    /// The learning rate.
    pub lr: f64,
    /// The optimizer (or its kind).
    pub optimizer: OptimizerKind,
    /// Momentum (for batch norm: the running statistics' update weight, PyTorch's 0.1).
    pub momentum: f64,
    /// L2 (Adam, SGD) or decoupled (AdamW) weight decay.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// The seed of every random draw.
    pub seed: u64,
    /// Train on the first N images only.
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
    /// The recipe as checkpoint metadata (numbers in Rust's shortest round-trip form).
    pub fn to_meta(&self) -> Vec<(String, String)> {
        vec![
            ("model".into(), self.model.clone()),
            ("epochs".into(), self.epochs.to_string()),
            ("batch".into(), self.batch.to_string()),
            ("lr".into(), self.lr.to_string()),
            ("optimizer".into(), self.optimizer.name().into()),
            ("momentum".into(), self.momentum.to_string()),
            ("weight_decay".into(), self.weight_decay.to_string()),
            ("schedule".into(), self.schedule.name().into()),
            ("seed".into(), self.seed.to_string()),
            (
                "limit_train".into(),
                self.limit_train.map_or("none".into(), |n| n.to_string()),
            ),
        ]
    }

    /// The recipe stored in a checkpoint by [`TrainConfig::to_meta`]; `file` names it in
    /// errors.
    pub fn from_checkpoint(ck: &Checkpoint, file: &Path) -> Result<TrainConfig, String> {
        let get = |key: &str| {
            ck.get(key).ok_or_else(|| {
                format!(
                    "{}: the checkpoint has no {key:?} entry: it was not written by `stitch train` (version 2), so it cannot be resumed",
                    file.display()
                )
            })
        };
        fn parse<V: std::str::FromStr>(file: &Path, key: &str, v: &str) -> Result<V, String> {
            v.parse().map_err(|_| {
                format!(
                    "{}: checkpoint entry {key} = {v:?} is not valid",
                    file.display()
                )
            })
        }
        let optimizer = get("optimizer")?;
        let schedule = get("schedule")?;
        let limit = get("limit_train")?;
        Ok(TrainConfig {
            model: get("model")?.to_string(),
            epochs: parse(file, "epochs", get("epochs")?)?,
            batch: parse(file, "batch", get("batch")?)?,
            lr: parse(file, "lr", get("lr")?)?,
            optimizer: OptimizerKind::from_name(optimizer)
                .ok_or_else(|| format!("{}: unknown optimizer {optimizer:?}", file.display()))?,
            momentum: parse(file, "momentum", get("momentum")?)?,
            weight_decay: parse(file, "weight_decay", get("weight_decay")?)?,
            schedule: Schedule::from_name(schedule)
                .ok_or_else(|| format!("{}: unknown schedule {schedule:?}", file.display()))?,
            seed: parse(file, "seed", get("seed")?)?,
            limit_train: match limit {
                "none" => None,
                n => Some(parse(file, "limit_train", n)?),
            },
        })
    }

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
    /// The epoch (from 1), or epochs completed.
    pub epoch: usize,
    /// Mean training cross-entropy over the epoch.
    pub train_loss: f64,
    /// Training accuracy in percent over the epoch.
    pub train_acc: f64,
    /// Mean test cross-entropy.
    pub test_loss: f64,
    /// Test accuracy in percent.
    pub test_acc: f64,
    /// Seconds of the training loop alone (no evaluation).
    pub epoch_seconds: f64,
    /// Training images per second.
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
pub enum TrainError {
    /// A loss or gradient went NaN or infinite; `culprit` names where it first appeared
    /// (a layer's output, the loss, or a parameter's gradient).
    NonFinite {
        /// The epoch (from 1), or epochs completed.
        epoch: usize,
        /// The step within the epoch (from 1).
        step: usize,
        /// The learning rate.
        lr: f64,
        /// Where the non-finite value first appeared.
        culprit: String,
    },
    /// [`request_stop`] was called (Ctrl-C): the epoch stopped after its current batch.
    Interrupted {
        /// The epoch (from 1), or epochs completed.
        epoch: usize,
        /// The step within the epoch (from 1).
        step: usize,
    },
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::NonFinite {
                epoch,
                step,
                lr,
                culprit,
            } => write!(
                f,
                "training diverged at epoch {epoch} step {step} (lr {lr}): {culprit}; try a lower --lr"
            ),
            TrainError::Interrupted { epoch, step } => {
                write!(f, "interrupted during epoch {epoch} after step {step}")
            }
        }
    }
}

impl std::error::Error for TrainError {}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks a running epoch to stop after its current batch (the CLI's Ctrl-C handler calls
/// this); the epoch then returns [`TrainError::Interrupted`].
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether [`request_stop`] has been called.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Where a non-finite loss first appears: runs the batch again layer by layer (without a
/// graph) and names the first layer whose output holds a NaN or an infinity.
fn first_non_finite_layer(model: &Sequential, x: &Tensor<f32>) -> String {
    let _g = no_grad();
    let outs = model.forward_all(x);
    for (i, (o, layer)) in outs.iter().zip(model.layers()).enumerate() {
        if let Some(bad) = o.to_vec().into_iter().find(|v| !v.is_finite()) {
            return format!(
                "the output of layer {i} {} holds {bad} (first non-finite op)",
                layer.describe()
            );
        }
    }
    "every layer's output is finite, the cross-entropy loss is not".into()
}

/// The first parameter whose gradient holds a NaN or an infinity.
///
/// Runs every step, so the common case is one SIMD, multi-threaded sum per parameter: a sum
/// of finite terms is finite (unless it overflows, which the element scan then clears), and
/// only a non-finite sum pays for the scan that finds the value.
fn first_non_finite_grad(model: &Sequential) -> Option<String> {
    for (name, p) in model.named_parameters() {
        let g = p.grad_lock();
        let Some(g) = g.as_ref() else { continue };
        if stitch_kernels::reduce::sum(g).is_finite() {
            continue;
        }
        if let Some(bad) = g.iter().find(|v| !v.is_finite()) {
            return Some(format!("the gradient of {name} holds {bad}"));
        }
    }
    None
}

/// A model, its optimizer and where the recipe has got to.
pub struct Trainer {
    /// The recipe.
    pub config: TrainConfig,
    /// The model (or its name).
    pub model: Sequential,
    /// The optimizer (or its kind).
    pub optimizer: Box<dyn Optimizer>,
    /// Optimizer steps taken so far (drives the schedule).
    pub step: u64,
    /// Epochs completed.
    pub epoch: usize,
    /// Per-epoch diagnostics, when on (see [`crate::diagnostics`]): steps then run the
    /// layers one by one (bitwise the same results as the fused forward) to see every
    /// ReLU's output.
    pub diagnostics: Option<crate::diagnostics::Diagnostics>,
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
            diagnostics: None,
        })
    }

    /// One optimizer step on the batch `x` with labels `y`: forward, cross-entropy, backward,
    /// update. Returns the batch's mean loss and how many of its predictions were right, or,
    /// when the loss or a gradient is not finite, where that first showed (and no update).
    pub fn train_step(&mut self, x: &Tensor<f32>, y: &[usize]) -> Result<(f64, usize), String> {
        let logits = match self.diagnostics.as_mut() {
            Some(d) => {
                let outs = self.model.forward_all(x);
                d.observe_activations(&self.model, &outs);
                outs.last().cloned().unwrap_or_else(|| x.clone())
            }
            None => self.model.forward(x),
        };
        let loss = logits.cross_entropy(y);
        let l = loss.item() as f64;
        let hits = logits
            .argmax()
            .iter()
            .zip(y)
            .filter(|(p, t)| p == t)
            .count();
        if !l.is_finite() {
            drop(loss);
            return Err(format!(
                "the loss is {l}; {}",
                first_non_finite_layer(&self.model, x)
            ));
        }
        self.optimizer.zero_grad();
        loss.backward();
        if let Some(bad) = first_non_finite_grad(&self.model) {
            return Err(bad);
        }
        let before: Option<Vec<Vec<f32>>> = self
            .diagnostics
            .as_ref()
            .map(|_| self.model.parameters().iter().map(|p| p.to_vec()).collect());
        self.optimizer.step();
        if let (Some(d), Some(before)) = (self.diagnostics.as_mut(), before) {
            d.observe_step(&self.model, &before);
        }
        self.step += 1;
        Ok((l, hits))
    }

    /// A checkpoint of everything the run's future depends on: parameters, buffers, the
    /// optimizer's state, the recipe, the epochs and steps done and the dropout counters.
    /// `data_dir` is recorded so a resume finds the same files.
    pub fn checkpoint(&self, data_dir: Option<&Path>) -> Checkpoint {
        let mut meta = self.config.to_meta();
        meta.push(("epoch".into(), self.epoch.to_string()));
        meta.push(("step".into(), self.step.to_string()));
        let rs: Vec<String> = self
            .model
            .random_state()
            .iter()
            .map(|v| v.to_string())
            .collect();
        meta.push(("random_state".into(), rs.join(",")));
        if let Some(d) = data_dir {
            meta.push(("data".into(), d.display().to_string()));
        }
        Checkpoint::from_module(&self.model, meta).with_optimizer_state(&self.optimizer.state())
    }

    /// Continues the run saved in `ck` (read from `file`) under `config`, which is the
    /// checkpoint's recipe with any changes the caller made (typically more `epochs`).
    pub fn resume(ck: &Checkpoint, file: &Path, config: TrainConfig) -> Result<Trainer, String> {
        let bad = |what: String| format!("{}: {what}", file.display());
        let mut t = Trainer::new(config)?;
        ck.load_into(&t.model, file).map_err(|e| e.to_string())?;
        let state = ck
            .optimizer_state(file)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                bad("the checkpoint holds no optimizer state, so it cannot be resumed".into())
            })?;
        t.optimizer.load_state(&state).map_err(&bad)?;
        let count = |key: &str| -> Result<u64, String> {
            ck.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
                bad(format!(
                    "the checkpoint's {key:?} entry is missing or not a count"
                ))
            })
        };
        t.epoch = count("epoch")? as usize;
        t.step = count("step")?;
        let rs: Vec<u64> = match ck.get("random_state") {
            Some("") => Vec::new(),
            Some(v) => v
                .split(',')
                .map(|x| x.parse())
                .collect::<Result<_, _>>()
                .map_err(|_| bad(format!("random_state {v:?} is not a list of counts")))?,
            None => return Err(bad("the checkpoint has no random_state entry".into())),
        };
        let want = t.model.random_state().len();
        if rs.len() != want {
            return Err(bad(format!(
                "random_state has {} counters, the model has {want}",
                rs.len()
            )));
        }
        t.model.set_random_state(&rs);
        Ok(t)
    }

    /// Trains one more epoch on `train`, evaluates on `test`, and returns the figures.
    pub fn run_epoch(
        &mut self,
        train: &Split,
        test: &Split,
        obs: &mut dyn Observer,
    ) -> Result<EpochMetrics, TrainError> {
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
            let (l, hits) = self
                .train_step(&x, &y)
                .map_err(|culprit| TrainError::NonFinite {
                    epoch,
                    step: b + 1,
                    lr,
                    culprit,
                })?;
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
            if stop_requested() {
                return Err(TrainError::Interrupted { epoch, step: b + 1 });
            }
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
