//! Softmax and log-softmax over the last axis, numerically stable.
//!
//! For one row x of length C, with m = maxⱼ xⱼ:
//!   log_softmax(x)ᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)      (subtracting m keeps every eˣ ≤ 1)
//!   backward:  ∂xᵢ = Gᵢ − softmax(x)ᵢ · Σⱼ Gⱼ
//!   softmax(x)ᵢ = e^(log_softmax(x)ᵢ)
//!   backward:  ∂xᵢ = sᵢ (Gᵢ − Σⱼ Gⱼ sⱼ)

use crate::autograd::Backward;
use crate::{Real, Tensor};

/// log_softmax of each `c`-long row of `x`.
pub(crate) fn log_softmax_rows<T: Real>(x: &[T], c: usize) -> Vec<T> {
    let mut y = vec![T::ZERO; x.len()];
    for (row, out) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
        let m = row.iter().fold(row[0], |m, &v| m.max_nan(v));
        let mut s = T::ZERO;
        for &v in row {
            s += (v - m).exp();
        }
        let log_s = s.ln();
        for (o, &v) in out.iter_mut().zip(row) {
            *o = v - m - log_s;
        }
    }
    y
}

struct LogSoftmaxBackward {
    c: usize,
    softmax: bool,
}

impl<T: Real> Backward<T> for LogSoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.softmax {
            "softmax"
        } else {
            "log_softmax"
        }
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let c = self.c;
            let log_p = log_softmax_rows(&inputs[0].data(), c);
            let mut dx = vec![T::ZERO; g.len()];
            for ((d, g), lp) in dx
                .chunks_exact_mut(c)
                .zip(g.chunks_exact(c))
                .zip(log_p.chunks_exact(c))
            {
                if self.softmax {
                    let dot: T = g.iter().zip(lp).map(|(&g, &l)| g * l.exp()).sum();
                    for i in 0..c {
                        d[i] = lp[i].exp() * (g[i] - dot);
                    }
                } else {
                    let total: T = g.iter().copied().sum();
                    for i in 0..c {
                        d[i] = g[i] - lp[i].exp() * total;
                    }
                }
            }
            dx
        })]
    }
}

impl<T: Real> Tensor<T> {
    #[track_caller]
    fn last_axis_len(&self, op: &str) -> usize {
        match self.shape().last() {
            Some(&c) if c > 0 => c,
            _ => panic!(
                "{op}: needs at least one dimension with a non-zero last axis, got shape {:?}",
                self.shape()
            ),
        }
    }

    /// log(softmax(x)) over the last axis.
    #[track_caller]
    pub fn log_softmax(&self) -> Tensor<T> {
        let _p = crate::profile::scope("log_softmax", crate::profile::Pass::Forward);
        let c = self.last_axis_len("log_softmax");
        let y = log_softmax_rows(&self.data(), c);
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            LogSoftmaxBackward { c, softmax: false },
        )
    }

    /// softmax(x) over the last axis.
    #[track_caller]
    pub fn softmax(&self) -> Tensor<T> {
        let _p = crate::profile::scope("softmax", crate::profile::Pass::Forward);
        let c = self.last_axis_len("softmax");
        let y = log_softmax_rows(&self.data(), c)
            .into_iter()
            .map(|v| v.exp())
            .collect();
        Tensor::from_op(
            y,
            self.shape(),
            &[self],
            LogSoftmaxBackward { c, softmax: true },
        )
    }
}
