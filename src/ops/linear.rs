//! The fused affine map of a fully connected layer, PyTorch's `F.linear`.
//!
//! Shapes: x [N, in], W [out, in], b [out], y [N, out].
//! Forward:  y = x Wᵀ + b      (b copied into every row of y, then one gemm with β = 1)
//! Backward: ∂x = G W,  ∂W = Gᵀ x,  ∂b = Σₙ G[n, :]
//! One op instead of matmul + transpose + broadcast add: no transposed copy of W, no
//! broadcast temporary, and the bias gradient is a plain column sum.

use stitch_kernels::gemm::{gemm, MatMut, MatRef};

use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::{Real, Tensor};

struct LinearBackward {
    n: usize,
    fan_in: usize,
    fan_out: usize,
}

impl<T: Real> Backward<T> for LinearBackward {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn mult_adds(&self) -> u64 {
        (self.n * self.fan_in * self.fan_out) as u64
    }

    fn cost(&self, needs: &[bool]) -> (u64, u64) {
        let products = (needs[0] as u64) + (needs[1] as u64);
        let (n, i, o) = (self.n as u64, self.fan_in as u64, self.fan_out as u64);
        (
            2 * n * i * o * products,
            4 * (n * i + o * i + n * o) * products,
        )
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let LinearBackward { n, fan_in, fan_out } = *self;
        let g_mat = MatRef::row_major(g, n, fan_out);
        let dx = needs[0].then(|| {
            let w = inputs[1].data();
            let mut dx = take(n * fan_in, T::ZERO);
            gemm(
                MatMut::row_major(&mut dx, n, fan_in),
                T::ONE,
                g_mat,
                MatRef::row_major(&w, fan_out, fan_in),
                T::ZERO,
            );
            dx
        });
        let dw = needs[1].then(|| {
            let x = inputs[0].data();
            let mut dw = take(fan_out * fan_in, T::ZERO);
            gemm(
                MatMut::row_major(&mut dw, fan_out, fan_in),
                T::ONE,
                g_mat.t(),
                MatRef::row_major(&x, n, fan_in),
                T::ZERO,
            );
            dw
        });
        let mut grads = vec![dx, dw];
        if inputs.len() == 3 {
            grads.push(needs[2].then(|| {
                // ∂b[o] = Σₙ G[n, o], rows added in order.
                let mut db = vec![T::ZERO; fan_out];
                for row in g.chunks_exact(fan_out) {
                    for (d, &v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
                db
            }));
        }
        grads
    }
}

impl<T: Real> Tensor<T> {
    /// `self Wᵀ + b` for `self` of shape \[N, in\], `weight` \[out, in\], `bias` \[out\].
    #[track_caller]
    pub fn linear(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Tensor<T> {
        let (n, fan_in, fan_out) = match (self.shape(), weight.shape()) {
            (&[n, i], &[o, i2]) if i == i2 => (n, i, o),
            (x, w) => panic!(
                "linear: input {x:?} and weight {w:?}: need input [N, in] and weight [out, in]"
            ),
        };
        if let Some(b) = bias {
            assert!(
                b.shape() == [fan_out],
                "linear: bias {:?} must be [{fan_out}] for weight {:?}",
                b.shape(),
                weight.shape()
            );
        }
        let cost = (
            2 * (n * fan_in * fan_out) as u64,
            4 * (n * fan_in + fan_out * fan_in + n * fan_out) as u64,
        );
        let _p =
            crate::profile::scope_with("linear", crate::profile::Pass::Forward, cost.0, cost.1);
        let mut y = take(n * fan_out, T::ZERO);
        let beta = match bias {
            Some(b) => {
                let b = b.data();
                for row in y.chunks_exact_mut(fan_out) {
                    row.copy_from_slice(&b);
                }
                T::ONE
            }
            None => T::ZERO,
        };
        gemm(
            MatMut::row_major(&mut y, n, fan_out),
            T::ONE,
            MatRef::row_major(&self.data(), n, fan_in),
            MatRef::row_major(&weight.data(), fan_out, fan_in).t(),
            beta,
        );
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Tensor::from_op(
            y,
            &[n, fan_out],
            &inputs,
            LinearBackward { n, fan_in, fan_out },
        )
    }
}
