//! Batch normalization as an autograd op; the math is in `stitch_kernels::batch_norm`.
//!
//! Training mode keeps the batch's per-channel μ and invstd (2·C numbers) for the fused
//! backward pass and updates the running statistics in place. Evaluation mode is an affine
//! map per channel, y = s x + t with s = γ / √(running_var + ε), whose backward is
//!   ∂x = s G,   ∂γ = Σ G (x − running_mean) / √(running_var + ε),   ∂β = Σ G.

use stitch_kernels::batch_norm::{
    batch_norm_backward_in_place, batch_norm_forward_eval, batch_norm_forward_train,
    BatchNormParams, BatchNormShape,
};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

/// Momentum and ε of batch norm: PyTorch's defaults are 0.1 and 1e-5.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormOptions {
    /// The running statistics' update weight (PyTorch's `momentum`, 0.1):
    /// running = (1 − momentum) · running + momentum · batch.
    pub momentum: f64,
    /// ε added to the variance before the square root (PyTorch's 1e-5).
    pub eps: f64,
}

impl Default for BatchNormOptions {
    fn default() -> Self {
        BatchNormOptions {
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

/// The batch norm shape of `x` [N, C, H, W] or [N, C] when a fused training kernel may
/// take it: training mode, fusion on, γ, β and the running statistics of C elements and
/// more than one value per channel. `None` sends the caller to the unfused ops (which
/// report any error).
pub(super) fn fused_train_shape<T: Real>(
    x: &Tensor<T>,
    params: [&Tensor<T>; 4],
    training: bool,
) -> Option<BatchNormShape> {
    let sh = match *x.shape() {
        [n, c, h, w] => BatchNormShape { n, c, hw: h * w },
        [n, c] => BatchNormShape { n, c, hw: 1 },
        _ => return None,
    };
    let fits = params.iter().all(|t| t.shape() == [sh.c]);
    (training && super::fusion_enabled() && fits && sh.per_channel() >= 2).then_some(sh)
}

/// Runs `f` with the kernels' view of γ, β and the running statistics ([weight, bias,
/// running_mean, running_var]), the last two borrowed for update.
pub(super) fn with_params<T: Real, R>(
    params: [&Tensor<T>; 4],
    opts: BatchNormOptions,
    f: impl FnOnce(BatchNormParams<'_, T>) -> R,
) -> R {
    let [weight, bias, running_mean, running_var] = params;
    let (w, b) = (weight.data(), bias.data());
    let (mut rm, mut rv) = (running_mean.data_mut(), running_var.data_mut());
    f(BatchNormParams {
        weight: &w,
        bias: &b,
        running_mean: &mut rm,
        running_var: &mut rv,
        momentum: T::from_f64(opts.momentum),
        eps: T::from_f64(opts.eps),
    })
}

pub(super) struct BatchNormTrainBackward<T> {
    pub(super) shape: BatchNormShape,
    pub(super) mean: Vec<T>,
    pub(super) invstd: Vec<T>,
}

impl<T: Real> Backward<T> for BatchNormTrainBackward<T> {
    fn saved_bytes(&self) -> usize {
        (self.mean.len() + self.invstd.len()) * std::mem::size_of::<T>()
    }

    fn name(&self) -> &'static str {
        "batch_norm"
    }

    /// Two sums over G and x, then G and x read again and ∂x written: 5 passes.
    fn cost(&self, _needs: &[bool]) -> (u64, u64) {
        (0, 20 * self.shape.len() as u64)
    }

    /// ∂x is written over G: the largest gradient of a `cnn` step needs no second buffer.
    fn backward_owned(
        &self,
        mut g: Vec<T>,
        inputs: &[Tensor<T>],
        needs: &[bool],
    ) -> Vec<Option<Vec<T>>> {
        let sh = &self.shape;
        let (mut dw, mut db) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
        batch_norm_backward_in_place(
            &mut g,
            &mut dw,
            &mut db,
            &inputs[0].data(),
            &inputs[1].data(),
            &self.mean,
            &self.invstd,
            sh,
        );
        vec![
            needs[0].then_some(g),
            needs[1].then_some(dw),
            needs[2].then_some(db),
        ]
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        self.backward_owned(g.to_vec(), inputs, needs)
    }
}

struct BatchNormEvalBackward<T> {
    shape: BatchNormShape,
    mean: Vec<T>,
    invstd: Vec<T>,
}

impl<T: Real> Backward<T> for BatchNormEvalBackward<T> {
    fn saved_bytes(&self) -> usize {
        (self.mean.len() + self.invstd.len()) * std::mem::size_of::<T>()
    }

    fn name(&self) -> &'static str {
        "batch_norm_eval"
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let sh = &self.shape;
        let (x, w) = (inputs[0].data(), inputs[1].data());
        let block = |n: usize, c: usize| (n * sh.c + c) * sh.hw..(n * sh.c + c + 1) * sh.hw;
        let dx = needs[0].then(|| {
            let mut dx = vec![T::ZERO; sh.len()];
            for n in 0..sh.n {
                for c in 0..sh.c {
                    let s = w[c] * self.invstd[c];
                    for i in block(n, c) {
                        dx[i] = s * g[i];
                    }
                }
            }
            dx
        });
        let (mut dw, mut db) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
        for n in 0..sh.n {
            for c in 0..sh.c {
                for i in block(n, c) {
                    dw[c] += g[i] * (x[i] - self.mean[c]) * self.invstd[c];
                    db[c] += g[i];
                }
            }
        }
        vec![dx, needs[1].then_some(dw), needs[2].then_some(db)]
    }
}

impl<T: Real> Tensor<T> {
    /// Batch norm of `self` (\[N, C, H, W\] or \[N, C\]) with affine `weight` and `bias` \[C\].
    /// In training mode it normalizes with the batch statistics and updates `running_mean`
    /// and `running_var` \[C\] in place; otherwise it normalizes with them.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn batch_norm(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        running_mean: &Tensor<T>,
        running_var: &Tensor<T>,
        training: bool,
        opts: BatchNormOptions,
    ) -> Tensor<T> {
        let sh = match self.shape() {
            &[n, c, h, w] => BatchNormShape { n, c, hw: h * w },
            &[n, c] => BatchNormShape { n, c, hw: 1 },
            s => panic!("batch_norm: input {s:?} must be [N, C, H, W] or [N, C]"),
        };
        for (what, t) in [
            ("weight", weight),
            ("bias", bias),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ] {
            assert!(
                t.shape() == [sh.c],
                "batch_norm: {what} {:?} does not match the {} channels of input {:?}",
                t.shape(),
                sh.c,
                self.shape()
            );
        }
        let (momentum, eps) = (T::from_f64(opts.momentum), T::from_f64(opts.eps));
        // Training: two statistics passes over x, then one read and one write.
        let passes = if training { 4 } else { 2 };
        let _p = crate::profile::scope_with(
            "batch_norm",
            crate::profile::Pass::Forward,
            0,
            4 * passes * sh.len() as u64,
        );
        let mut y = take(sh.len(), T::ZERO);
        let (w, b) = (weight.data(), bias.data());
        if training {
            assert!(
                sh.n * sh.hw >= 2,
                "batch_norm: training needs more than one value per channel, got input {:?}",
                self.shape()
            );
            let (mut mean, mut invstd) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
            {
                let (mut rm, mut rv) = (running_mean.data_mut(), running_var.data_mut());
                let p = BatchNormParams {
                    weight: &w,
                    bias: &b,
                    running_mean: &mut rm,
                    running_var: &mut rv,
                    momentum,
                    eps,
                };
                batch_norm_forward_train(&mut y, &mut mean, &mut invstd, &self.data(), p, &sh);
            }
            drop((w, b));
            Tensor::from_op(
                y,
                self.shape(),
                &[self, weight, bias],
                BatchNormTrainBackward {
                    shape: sh,
                    mean,
                    invstd,
                },
            )
        } else {
            let (mut rm, mut rv) = (running_mean.to_vec(), running_var.to_vec());
            let invstd: Vec<T> = rv.iter().map(|&v| T::ONE / (v + eps).sqrt()).collect();
            let mean = rm.clone();
            let p = BatchNormParams {
                weight: &w,
                bias: &b,
                running_mean: &mut rm,
                running_var: &mut rv,
                momentum,
                eps,
            };
            batch_norm_forward_eval(&mut y, &self.data(), p, &sh);
            drop((w, b));
            Tensor::from_op(
                y,
                self.shape(),
                &[self, weight, bias],
                BatchNormEvalBackward {
                    shape: sh,
                    mean,
                    invstd,
                },
            )
        }
    }
}
