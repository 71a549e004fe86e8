//! Learning-rate (and momentum) schedules, per optimizer step.

use std::f64::consts::PI;

/// How the learning rate changes over the run, step by step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// The same learning rate for every step.
    Constant,
    /// Cosine annealing to 0 over all steps (PyTorch's `CosineAnnealingLR` with `T_max` =
    /// total steps): step t of T uses lr · (1 + cos(π t / T)) / 2.
    Cosine,
    /// PyTorch's `OneCycleLR` with its defaults (`pct_start=0.3`, `anneal_strategy='cos'`,
    /// `div_factor=25`, `final_div_factor=1e4`, `cycle_momentum=True`, momentum 0.85–0.95):
    /// a cosine warm-up from lr/25 to lr over the first 30 % of the steps, then a cosine
    /// down to lr/25e4; the momentum (SGD's μ, Adam's β₁) moves the other way, 0.95 → 0.85
    /// → 0.95.
    OneCycle,
    /// A linear warm-up over the first 5 % of the steps (at least one), from lr/W to lr,
    /// then cosine annealing to 0 over the rest.
    WarmupCosine,
}

/// The fraction of one-cycle's steps spent warming up (PyTorch's `pct_start`).
const PCT_START: f64 = 0.3;
/// lr / DIV_FACTOR is where one-cycle starts (PyTorch's `div_factor`).
const DIV_FACTOR: f64 = 25.0;
/// It ends at (lr / DIV_FACTOR) / FINAL_DIV_FACTOR (PyTorch's `final_div_factor`).
const FINAL_DIV_FACTOR: f64 = 1e4;
/// One-cycle's momentum range (PyTorch's `base_momentum`, `max_momentum`).
const MOMENTUM: (f64, f64) = (0.85, 0.95);
/// The warm-up fraction of `WarmupCosine`.
const WARMUP: f64 = 0.05;

/// PyTorch's `_annealing_cos`: from `start` at pct = 0 to `end` at pct = 1.
fn anneal_cos(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl Schedule {
    /// Every schedule, in `--schedule`'s order.
    pub const ALL: [Schedule; 4] = [
        Schedule::Constant,
        Schedule::Cosine,
        Schedule::OneCycle,
        Schedule::WarmupCosine,
    ];

    /// The schedule named `name` (as [`Schedule::name`] spells it).
    pub fn from_name(name: &str) -> Option<Schedule> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name used by `--schedule` and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Constant => "constant",
            Schedule::Cosine => "cosine",
            Schedule::OneCycle => "onecycle",
            Schedule::WarmupCosine => "warmup-cosine",
        }
    }

    /// One-cycle's phase of step `t`: (start, end, pct) with pct ∈ [0, 1], as PyTorch's
    /// `OneCycleLR.get_lr` computes it (phase ends at 0.3·T − 1 and T − 1, as floats).
    fn one_cycle_phase(t: u64, total: u64) -> (bool, f64) {
        let t = t as f64;
        let end1 = PCT_START * total as f64 - 1.0;
        let end2 = total as f64 - 1.0;
        if t <= end1 {
            (true, t / end1)
        } else {
            (false, (t - end1) / (end2 - end1))
        }
    }

    /// The learning rate of step `t` (from 0) out of `total`.
    pub fn lr_at(self, base: f64, t: u64, total: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => base * (1.0 + (PI * t as f64 / total.max(1) as f64).cos()) / 2.0,
            Schedule::OneCycle => {
                let initial = base / DIV_FACTOR;
                let min = initial / FINAL_DIV_FACTOR;
                match Self::one_cycle_phase(t, total) {
                    (true, pct) => anneal_cos(initial, base, pct),
                    (false, pct) => anneal_cos(base, min, pct),
                }
            }
            Schedule::WarmupCosine => {
                let warm = ((WARMUP * total as f64).round() as u64).max(1);
                if t < warm {
                    base * (t + 1) as f64 / warm as f64
                } else {
                    let rest = total.saturating_sub(warm).max(1) as f64;
                    base * (1.0 + (PI * (t - warm) as f64 / rest).cos()) / 2.0
                }
            }
        }
    }

    /// The momentum of step `t`, for schedules that cycle it (one-cycle); `None` keeps the
    /// optimizer's own.
    pub fn momentum_at(self, t: u64, total: u64) -> Option<f64> {
        match self {
            Schedule::OneCycle => {
                let (base, max) = MOMENTUM;
                Some(match Self::one_cycle_phase(t, total) {
                    (true, pct) => anneal_cos(max, base, pct),
                    (false, pct) => anneal_cos(base, max, pct),
                })
            }
            _ => None,
        }
    }
}
