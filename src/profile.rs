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
    Forward,
    Backward,
    Optimizer,
    Data,
}

impl Pass {
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
    pub op: &'static str,
    pub pass: Pass,
    pub calls: u64,
    pub total: Duration,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Turns recording on or off.
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

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

/// Adds `elapsed` to the row of (op, pass).
pub fn record(op: &'static str, pass: Pass, elapsed: Duration) {
    let mut rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
    match rows.iter_mut().find(|r| r.op == op && r.pass == pass) {
        Some(r) => {
            r.calls += 1;
            r.total += elapsed;
        }
        None => rows.push(Row {
            op,
            pass,
            calls: 1,
            total: elapsed,
        }),
    }
}

/// Times the rest of the enclosing block as (op, pass) when profiling is on.
#[must_use = "the scope measures until the guard drops"]
pub fn scope(op: &'static str, pass: Pass) -> Option<Scope> {
    is_enabled().then(|| Scope {
        op,
        pass,
        start: Instant::now(),
    })
}

/// Records its lifetime on drop.
pub struct Scope {
    op: &'static str,
    pass: Pass,
    start: Instant,
}

impl Drop for Scope {
    fn drop(&mut self) {
        record(self.op, self.pass, self.start.elapsed());
    }
}

/// A table of the rows, slowest first: op, pass, calls, total ms, ms per call, % of all.
pub fn table(rows: &[Row]) -> String {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| std::cmp::Reverse(r.total));
    // Rows named "op.part" (conv2d.d_weight …) time a part of their op's row: they are
    // shown, but not counted twice in the total.
    let all: f64 = rows
        .iter()
        .filter(|r| !r.op.contains('.'))
        .map(|r| r.total.as_secs_f64())
        .sum::<f64>()
        .max(1e-12);
    let mut s = format!(
        "{:<16} {:<10} {:>7} {:>10} {:>9} {:>6}\n",
        "op", "pass", "calls", "total ms", "ms/call", "%"
    );
    for r in &rows {
        let t = r.total.as_secs_f64();
        s += &format!(
            "{:<16} {:<10} {:>7} {:>10.1} {:>9.3} {:>6.1}\n",
            r.op,
            r.pass.name(),
            r.calls,
            t * 1e3,
            t * 1e3 / r.calls.max(1) as f64,
            100.0 * t / all
        );
    }
    s
}
