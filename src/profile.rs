//! A per-op profiler: wall time and call count of every op's forward pass, backward rule
//! and optimizer step, off by default.
//!
//! Each op opens a [`scope`] at its start; when profiling is on, the scope's guard adds the
//! elapsed time to the op's row when it drops. When off, a scope costs one relaxed atomic
//! load. Rows are keyed by (op name, pass) and kept in first-seen order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which part of a training step a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    /// An op's forward computation.
    Forward,
    /// An op's backward rule.
    Backward,
    /// The optimizer's update.
    Optimizer,
    /// Building a batch from the dataset.
    Data,
}

impl Pass {
    /// The name printed in the table's pass column.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::Backward => "backward",
            Pass::Optimizer => "optimizer",
            Pass::Data => "data",
        }
    }
}

/// One row: an op in one pass.
#[derive(Clone, Debug)]
pub struct Row {
    /// The op's name (its backward rule's name for backward rows).
    pub op: &'static str,
    /// Forward, backward, optimizer or data.
    pub pass: Pass,
    /// Calls measured.
    pub calls: u64,
    /// Wall time over all calls.
    pub total: Duration,
    /// Floating-point operations over all calls (analytic: 2 per multiply-add).
    pub flops: u64,
    /// Bytes the op must read and write at least once, over all calls.
    pub bytes: u64,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Turns recording on or off.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether recording is on.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Forgets every row.
pub fn reset() {
    ROWS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// A copy of the rows so far.
pub fn rows() -> Vec<Row> {
    ROWS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Adds one call of `elapsed`, `flops` and `bytes` to the row of (op, pass).
pub fn record(op: &'static str, pass: Pass, elapsed: Duration, flops: u64, bytes: u64) {
    let mut rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
    match rows.iter_mut().find(|r| r.op == op && r.pass == pass) {
        Some(r) => {
            r.calls += 1;
            r.total += elapsed;
            r.flops += flops;
            r.bytes += bytes;
        }
        None => rows.push(Row {
            op,
            pass,
            calls: 1,
            total: elapsed,
            flops,
            bytes,
        }),
    }
}

/// Times the rest of the enclosing block as (op, pass) when profiling is on.
#[must_use = "the scope measures until the guard drops"]
pub fn scope(op: &'static str, pass: Pass) -> Option<Scope> {
    scope_with(op, pass, 0, 0)
}

/// As [`scope`], also counting the call's analytic `flops` and the `bytes` it must move.
#[must_use = "the scope measures until the guard drops"]
pub fn scope_with(op: &'static str, pass: Pass, flops: u64, bytes: u64) -> Option<Scope> {
    is_enabled().then(|| Scope {
        op,
        pass,
        flops,
        bytes,
        start: Instant::now(),
    })
}

/// Records its lifetime on drop.
pub struct Scope {
    op: &'static str,
    pass: Pass,
    flops: u64,
    bytes: u64,
    start: Instant,
}

impl Scope {
    /// Ends the scope without recording it: a fused op that fell back to its parts, which
    /// record themselves.
    pub fn cancel(self) {
        std::mem::forget(self);
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        record(
            self.op,
            self.pass,
            self.start.elapsed(),
            self.flops,
            self.bytes,
        );
    }
}

/// A table of the rows, slowest first: op, pass, calls, total ms, ms per call, % of the
/// step, and where counted, FLOPs per call, GFLOP/s, bytes per call, GB/s and the share of
/// the machine's peak (`peak_gflops` for rows with FLOPs, `bandwidth_gbs` for rows with
/// only bytes). Sub-rows such as `conv2d.d_weight` are parts of their op's row and are not
/// added again to the step's total.
pub fn table(rows: &[Row], peak_gflops: Option<f64>, bandwidth_gbs: Option<f64>) -> String {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| std::cmp::Reverse(r.total));
    let all: f64 = rows
        .iter()
        .filter(|r| !r.op.contains('.'))
        .map(|r| r.total.as_secs_f64())
        .sum::<f64>()
        .max(1e-12);
    // The op column fits the longest name (26 at the least, the fused blocks' names are longer).
    let w = rows
        .iter()
        .map(|r| r.op.chars().count())
        .fold(26, usize::max);
    let mut s = format!(
        "{:<w$} {:<9} {:>6} {:>9} {:>8} {:>5} {:>10} {:>8} {:>10} {:>7} {:>6}\n",
        "op",
        "pass",
        "calls",
        "total ms",
        "ms/call",
        "%",
        "FLOP/call",
        "GFLOP/s",
        "bytes/call",
        "GB/s",
        "% peak"
    );
    for r in &rows {
        let t = r.total.as_secs_f64();
        let calls = r.calls.max(1) as f64;
        let (gflops, gbs) = (
            r.flops as f64 / t.max(1e-12) / 1e9,
            r.bytes as f64 / t.max(1e-12) / 1e9,
        );
        let peak = if r.flops > 0 {
            peak_gflops.map(|p| format!("{:.0}", 100.0 * gflops / p))
        } else if r.bytes > 0 {
            bandwidth_gbs.map(|b| format!("{:.0}", 100.0 * gbs / b))
        } else {
            None
        };
        let num = |v: f64, show: bool| if show { format!("{v:.1}") } else { "-".into() };
        s += &format!(
            "{:<w$} {:<9} {:>6} {:>9.1} {:>8.3} {:>5.1} {:>10} {:>8} {:>10} {:>7} {:>6}\n",
            r.op,
            r.pass.name(),
            r.calls,
            t * 1e3,
            t * 1e3 / calls,
            100.0 * t / all,
            if r.flops > 0 {
                human(r.flops as f64 / calls)
            } else {
                "-".into()
            },
            num(gflops, r.flops > 0),
            if r.bytes > 0 {
                human(r.bytes as f64 / calls)
            } else {
                "-".into()
            },
            num(gbs, r.bytes > 0),
            peak.unwrap_or_else(|| "-".into()),
        );
    }
    s
}

/// 1234567 → "1.23M".
fn human(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2}G", v / 1e9),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}K", v / 1e3),
        v => format!("{v:.0}"),
    }
}
