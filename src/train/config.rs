//! A training recipe: the optimizer, the learning-rate schedule and every other knob, with
//! its form in checkpoint metadata.

use std::path::Path;

pub use super::schedule::Schedule;
use crate::checkpoint::Checkpoint;
use crate::data::Augment;
use crate::models;

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

/// A training recipe.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The model's name (in the registry, or the name a model given to
    /// [`Trainer::with_model`](super::Trainer::with_model) is saved under).
    pub model: String,
    /// Epochs to train in all.
    pub epochs: usize,
    /// Images per batch.
    pub batch: usize,
    /// The learning rate.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// SGD's momentum (one-cycle overrides it step by step).
    pub momentum: f64,
    /// Nesterov momentum for SGD (PyTorch's `nesterov=True`).
    pub nesterov: bool,
    /// L2 (Adam, SGD) or decoupled (AdamW) weight decay.
    pub weight_decay: f64,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// The seed of every random draw.
    pub seed: u64,
    /// Train on the first N images only.
    pub limit_train: Option<usize>,
    /// Label smoothing ε of the cross-entropy (PyTorch's `label_smoothing`).
    pub label_smoothing: f64,
    /// Augmentation of the training images (off by default; never the test split).
    pub augment: Augment,
    /// Evaluate on each image and its mirror, averaging the logits.
    pub tta: bool,
    /// Evaluate an exponential moving average of the weights with this decay.
    pub ema: Option<f64>,
    /// Hold out this many training images (chosen by the seed) to choose recipes on.
    pub val: usize,
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
            nesterov: false,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            seed: 0,
            limit_train: None,
            label_smoothing: 0.0,
            augment: Augment::default(),
            tta: false,
            ema: None,
            val: 0,
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
            ("nesterov".into(), self.nesterov.to_string()),
            ("label_smoothing".into(), self.label_smoothing.to_string()),
            ("augment".into(), self.augment.to_string()),
            ("tta".into(), self.tta.to_string()),
            (
                "ema".into(),
                self.ema.map_or("none".into(), |d| d.to_string()),
            ),
            ("val".into(), self.val.to_string()),
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
        // Entries added after format version 2's first release: absent in older
        // checkpoints, whose runs had them off.
        let defaults = TrainConfig::default();
        let newer = |key: &str| ck.get(key);
        let augment = match newer("augment") {
            Some(a) => Augment::parse(a).map_err(|e| format!("{}: {e}", file.display()))?,
            None => defaults.augment,
        };
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
            nesterov: match newer("nesterov") {
                Some(v) => parse(file, "nesterov", v)?,
                None => defaults.nesterov,
            },
            label_smoothing: match newer("label_smoothing") {
                Some(v) => parse(file, "label_smoothing", v)?,
                None => defaults.label_smoothing,
            },
            augment,
            tta: match newer("tta") {
                Some(v) => parse(file, "tta", v)?,
                None => defaults.tta,
            },
            ema: match newer("ema") {
                None | Some("none") => None,
                Some(v) => Some(parse(file, "ema", v)?),
            },
            val: match newer("val") {
                Some(v) => parse(file, "val", v)?,
                None => defaults.val,
            },
        })
    }

    /// Checks every field, the model's name in the registry included, returning one line
    /// naming the bad one.
    pub fn validate(&self, train_len: usize) -> Result<(), String> {
        models::entry(&self.model)?;
        self.validate_recipe(train_len)
    }

    /// [`TrainConfig::validate`] without the registry: for a model given to
    /// [`Trainer::with_model`](super::Trainer::with_model).
    pub fn validate_recipe(&self, train_len: usize) -> Result<(), String> {
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
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(format!(
                "--label-smoothing must be in [0, 1), got {}",
                self.label_smoothing
            ));
        }
        if let Some(d) = self.ema {
            if !(0.0..1.0).contains(&d) {
                return Err(format!("--ema must be in [0, 1), got {d}"));
            }
        }
        if self.val > 0 && self.val >= train_len.min(self.limit_train.unwrap_or(usize::MAX)) {
            return Err(format!(
                "--val {} leaves no training images (the training set has {})",
                self.val,
                train_len.min(self.limit_train.unwrap_or(usize::MAX))
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
