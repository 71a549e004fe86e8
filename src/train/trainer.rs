//! [`Trainer`]: a model, its optimizer and where the recipe has got to; one training step,
//! one epoch, a checkpoint of everything and the resume from one. The model is any
//! [`Module`]: one of the registry's ([`Trainer::new`]) or the caller's own
//! ([`Trainer::with_model`]).

use std::path::Path;
use std::time::Instant;

use super::config::{OptimizerKind, TrainConfig};
use super::ema::Ema;
use super::evaluate::{evaluate_with, Evaluation};
use super::guard::{first_non_finite_grad, first_non_finite_op, stop_requested, TrainError};
use super::metrics::{EpochMetrics, Observer};
use crate::checkpoint::Checkpoint;
use crate::data::{epoch_permutation, Split};
use crate::nn::Module;
use crate::optim::{Adam, Optimizer, Sgd};
use crate::tensor::recycle;
use crate::{models, Tensor};

/// A model, its optimizer and where the recipe has got to.
pub struct Trainer {
    /// The recipe.
    pub config: TrainConfig,
    /// The model being trained.
    pub model: Box<dyn Module<f32>>,
    /// The optimizer, over the model's parameters.
    pub optimizer: Box<dyn Optimizer>,
    /// Optimizer steps taken so far (drives the schedule).
    pub step: u64,
    /// Epochs completed.
    pub epoch: usize,
    /// Per-epoch diagnostics, when on (see [`crate::diagnostics`]): steps then run with
    /// fusion off and traced (the same bits as the fused forward) to see every ReLU.
    pub diagnostics: Option<crate::diagnostics::Diagnostics>,
    /// The moving average of the weights that evaluation uses, with `config.ema`.
    pub ema: Option<Ema>,
    /// Held-out training images evaluated after every epoch (`--val`), if any.
    pub validation: Option<Split>,
}

fn optimizer_for(config: &TrainConfig, model: &dyn Module<f32>) -> Box<dyn Optimizer> {
    let params = model.parameters();
    match config.optimizer {
        OptimizerKind::Adam => {
            Box::new(Adam::new(params, config.lr).weight_decay(config.weight_decay))
        }
        OptimizerKind::AdamW => Box::new(Adam::adamw(params, config.lr, config.weight_decay)),
        OptimizerKind::Sgd => Box::new(
            Sgd::new(params, config.lr)
                .momentum(config.momentum)
                .nesterov(config.nesterov)
                .weight_decay(config.weight_decay),
        ),
    }
}

impl Trainer {
    /// The registry's model `config.model`, built from `config.seed`, and its optimizer.
    pub fn new(config: TrainConfig) -> Result<Trainer, String> {
        let model = models::build(&config.model, config.seed)?;
        Ok(Self::with_model(config, model))
    }

    /// Trains the caller's own `model` (built however the caller likes; `config.model` is
    /// the name its checkpoints record). Everything [`Trainer::new`]'s models get, this one
    /// gets too: the schedule, the guard, checkpoints, resume, diagnostics.
    pub fn with_model(config: TrainConfig, model: Box<dyn Module<f32>>) -> Trainer {
        let optimizer = optimizer_for(&config, model.as_ref());
        let ema = config.ema.map(|d| Ema::new(model.as_ref(), d));
        Trainer {
            config,
            model,
            optimizer,
            step: 0,
            epoch: 0,
            diagnostics: None,
            ema,
            validation: None,
        }
    }

    /// One optimizer step on the batch `x` with labels `y`: forward, cross-entropy, backward,
    /// update. Returns the batch's mean loss and how many of its predictions were right, or,
    /// when the loss or a gradient is not finite, where that first showed (and no update).
    pub fn train_step(&mut self, x: &Tensor<f32>, y: &[usize]) -> Result<(f64, usize), String> {
        let logits = match self.diagnostics.as_mut() {
            Some(d) => {
                let _f = crate::ops::no_fusion();
                let (logits, records) = crate::autograd::trace(|| self.model.forward(x));
                d.observe_activations(self.model.as_ref(), &records);
                logits
            }
            None => self.model.forward(x),
        };
        let loss = logits.cross_entropy_smoothed(y, self.config.label_smoothing);
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
                first_non_finite_op(self.model.as_ref(), x)
            ));
        }
        self.optimizer.zero_grad();
        loss.backward();
        if let Some(bad) = first_non_finite_grad(self.model.as_ref()) {
            return Err(bad);
        }
        let before: Option<Vec<Vec<f32>>> = self
            .diagnostics
            .as_ref()
            .map(|_| self.model.parameters().iter().map(|p| p.to_vec()).collect());
        self.optimizer.step();
        if let Some(e) = self.ema.as_mut() {
            e.update(self.model.as_ref());
        }
        if let (Some(d), Some(before)) = (self.diagnostics.as_mut(), before) {
            d.observe_step(self.model.as_ref(), &before);
        }
        self.step += 1;
        Ok((l, hits))
    }

    /// A checkpoint of everything the run's future depends on: parameters, buffers, the
    /// optimizer's state, the recipe, the epochs and steps done and the dropout counters.
    /// `data_dir` is recorded so a resume finds the same files.
    pub fn checkpoint(&self, data_dir: Option<&Path>) -> Checkpoint {
        let meta = self.meta(data_dir);
        let mut state = self.optimizer.state();
        if let Some(e) = &self.ema {
            e.save_into(&mut state);
        }
        Checkpoint::from_module(self.model.as_ref(), meta).with_optimizer_state(&state)
    }

    /// The metadata [`Trainer::checkpoint`] records (the recipe, epoch, step, random state
    /// and data directory), without copying any tensor.
    pub fn meta(&self, data_dir: Option<&Path>) -> Vec<(String, String)> {
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
        meta
    }

    /// Continues the run saved in `ck` (read from `file`) under `config`, which is the
    /// checkpoint's recipe with any changes the caller made (typically more `epochs`); the
    /// model comes from the registry.
    pub fn resume(ck: &Checkpoint, file: &Path, config: TrainConfig) -> Result<Trainer, String> {
        let model = models::build(&config.model, config.seed)?;
        Self::resume_with_model(ck, file, config, model)
    }

    /// [`Trainer::resume`] into the caller's own freshly built `model`.
    pub fn resume_with_model(
        ck: &Checkpoint,
        file: &Path,
        config: TrainConfig,
        model: Box<dyn Module<f32>>,
    ) -> Result<Trainer, String> {
        let bad = |what: String| format!("{}: {what}", file.display());
        let mut t = Trainer::with_model(config, model);
        ck.load_into(t.model.as_ref(), file)
            .map_err(|e| e.to_string())?;
        let state = ck
            .optimizer_state(file)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                bad("the checkpoint holds no optimizer state, so it cannot be resumed".into())
            })?;
        // The moving average's slots travel with the optimizer's; each takes its own.
        let (ema_slots, opt_slots) = state.slots.into_iter().partition(|(n, _, _)| n == "ema");
        let ema_state = crate::optim::OptimizerState {
            steps: state.steps,
            slots: ema_slots,
        };
        let opt_state = crate::optim::OptimizerState {
            steps: state.steps,
            slots: opt_slots,
        };
        t.optimizer.load_state(&opt_state).map_err(&bad)?;
        if let Some(e) = t.ema.as_mut() {
            e.load_from(&ema_state).map_err(&bad)?;
        }
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

    /// Evaluates the model on `split` the way the recipe says: with the moving average of
    /// the weights when `ema` is on, and with mirror averaging when `tta` is.
    pub fn evaluate(&self, split: &Split) -> Evaluation {
        let run = || evaluate_with(self.model.as_ref(), split, self.config.tta);
        match &self.ema {
            Some(e) => e.with_average(self.model.as_ref(), run),
            None => run(),
        }
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
            if let Some(m) = c.schedule.momentum_at(self.step, total_steps) {
                self.optimizer.set_momentum(m);
            }
            if b > 0 && idx.len() != c.batch {
                // A shorter last batch needs buffers of other sizes: it starts with empty
                // caches too, instead of allocating beside a full batch's.
                recycle::release();
            }
            let (x, y) = train.batch_augmented(idx, &c.augment, c.seed, epoch as u64);
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
        // Evaluation's buffers differ from training's: each phase starts with empty caches.
        recycle::release();
        let ev = self.evaluate(test);
        let val = self.validation.as_ref().map(|v| {
            let e = self.evaluate(v);
            (e.loss, e.accuracy)
        });
        recycle::release();
        self.epoch = epoch;
        let m = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_acc: 100.0 * correct as f64 / seen as f64,
            test_loss: ev.loss,
            test_acc: ev.accuracy,
            epoch_seconds,
            samples_per_second: seen as f64 / epoch_seconds.max(1e-9),
            val,
        };
        obs.epoch_done(&m);
        Ok(m)
    }
}
