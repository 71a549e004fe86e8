//! What an epoch reports: [`EpochMetrics`], its JSON line (`--metrics`) and summary line.

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
