//! What an epoch reports: [`EpochMetrics`], its JSON line (`--metrics`) and summary line,
//! and [`read_metrics`], which reads such a file back.

use std::path::Path;

use crate::diagnostics::EpochDiagnostics;
use crate::safetensors::json::Cursor;

/// The figures of one epoch (accuracies in percent).
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// The epoch (from 1).
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
    /// Loss and accuracy on the held-out validation images (`--val N`), if any.
    pub val: Option<(f64, f64)>,
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
        if let Some((loss, acc)) = self.val {
            parts.push(format!("\"val_loss\": {}", json_num(loss)));
            parts.push(format!("\"val_acc\": {}", json_num(acc)));
        }
        format!("{{{}}}", parts.join(", "))
    }

    /// The one summary line printed per epoch.
    pub fn summary(&self) -> String {
        let val = self
            .val
            .map(|(l, a)| format!("  val loss {l:.4}  val acc {a:6.2}%"))
            .unwrap_or_default();
        format!(
            "epoch {:>2}  train loss {:.4}  train acc {:6.2}%{val}  test loss {:.4}  test acc {:6.2}%  {:6.2} s  {:>7.0} samples/s",
            self.epoch, self.train_loss, self.train_acc, self.test_loss, self.test_acc, self.epoch_seconds, self.samples_per_second
        )
    }
}

/// A finite number as JSON (NaN and infinities have no JSON form: `null`).
pub fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{}", (v * 1e6).round() / 1e6)
    } else {
        "null".into()
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    crate::safetensors::json::quote(s)
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

/// One line of a `--metrics` file: the epoch's figures, and its diagnostics when the run
/// kept `--diagnostics`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsLine {
    /// The epoch's figures.
    pub metrics: EpochMetrics,
    /// Its diagnostics, if recorded.
    pub diagnostics: Option<EpochDiagnostics>,
}

/// Reads a `--metrics` JSON-lines file (one object per epoch, as
/// [`EpochMetrics::to_json`] writes; `null` reads as NaN, unknown members are skipped).
/// Errors name the file and the line.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsLine>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed =
            parse_line(line).map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
        out.push(parsed);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<MetricsLine, String> {
    let mut m = EpochMetrics {
        epoch: 0,
        train_loss: f64::NAN,
        train_acc: f64::NAN,
        test_loss: f64::NAN,
        test_acc: f64::NAN,
        epoch_seconds: f64::NAN,
        samples_per_second: f64::NAN,
        val: None,
    };
    let (mut val_loss, mut val_acc) = (None, None);
    let mut diagnostics = None;
    let mut seen_epoch = false;
    let mut c = Cursor::new(line);
    c.object(|c, key| {
        match key {
            "epoch" => {
                m.epoch = c.u64()? as usize;
                seen_epoch = true;
            }
            "train_loss" => m.train_loss = c.number_or_null()?,
            "train_acc" => m.train_acc = c.number_or_null()?,
            "test_loss" => m.test_loss = c.number_or_null()?,
            "test_acc" => m.test_acc = c.number_or_null()?,
            "epoch_seconds" => m.epoch_seconds = c.number_or_null()?,
            "samples_per_second" => m.samples_per_second = c.number_or_null()?,
            "val_loss" => val_loss = Some(c.number_or_null()?),
            "val_acc" => val_acc = Some(c.number_or_null()?),
            "diagnostics" => diagnostics = Some(EpochDiagnostics::parse(c)?),
            _ => c.skip_value(0)?,
        }
        Ok(())
    })?;
    if !c.at_end() {
        return Err(format!("unexpected {} after the object", c.what()));
    }
    if !seen_epoch {
        return Err("no \"epoch\" member (not a stitch --metrics line)".into());
    }
    if let (Some(l), Some(a)) = (val_loss, val_acc) {
        m.val = Some((l, a));
    }
    Ok(MetricsLine {
        metrics: m,
        diagnostics,
    })
}
