//! Matrix product, 2-D (`[m, k] @ [k, n]`) and batched 3-D (`[B, m, k] @ [B, k, n]`).
//!
//! Forward:  C = A B.
//! Backward: ∂A = G Bᵀ,  ∂B = Aᵀ G   (G = ∂L/∂C); both through the strided gemm kernel, the
//! transposes being stride swaps, not copies.

use stitch_kernels::gemm::{gemm, MatMut, MatRef};

use crate::autograd::Backward;
use crate::{Real, Tensor};

/// (batch, m, k, n) of a product, or a panic naming both shapes.
#[track_caller]
fn dims(a: &[usize], b: &[usize]) -> (usize, usize, usize, usize) {
    match (a, b) {
        (&[m, k], &[k2, n]) if k == k2 => (1, m, k, n),
        (&[ba, m, k], &[bb, k2, n]) if k == k2 && ba == bb => (ba, m, k, n),
        _ => panic!(
            "matmul: shapes {a:?} and {b:?} do not chain: need [m, k] @ [k, n] or [B, m, k] @ [B, k, n]"
        ),
    }
}

struct MatmulBackward {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
}

impl<T: Real> Backward<T> for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn mult_adds(&self) -> u64 {
        (self.batch * self.m * self.k * self.n) as u64
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let MatmulBackward { batch, m, k, n } = *self;
        let (a, b) = (inputs[0].data(), inputs[1].data());
        let da = needs[0].then(|| {
            let mut da = vec![T::ZERO; batch * m * k];
            for i in 0..batch {
                // ∂A = G Bᵀ : [m, n] @ [n, k]
                gemm(
                    MatMut::row_major(&mut da[i * m * k..(i + 1) * m * k], m, k),
                    T::ONE,
                    MatRef::row_major(&g[i * m * n..(i + 1) * m * n], m, n),
                    MatRef::row_major(&b[i * k * n..(i + 1) * k * n], k, n).t(),
                    T::ZERO,
                );
            }
            da
        });
        let db = needs[1].then(|| {
            let mut db = vec![T::ZERO; batch * k * n];
            for i in 0..batch {
                // ∂B = Aᵀ G : [k, m] @ [m, n]
                gemm(
                    MatMut::row_major(&mut db[i * k * n..(i + 1) * k * n], k, n),
                    T::ONE,
                    MatRef::row_major(&a[i * m * k..(i + 1) * m * k], m, k).t(),
                    MatRef::row_major(&g[i * m * n..(i + 1) * m * n], m, n),
                    T::ZERO,
                );
            }
            db
        });
        vec![da, db]
    }
}

impl<T: Real> Tensor<T> {
    /// The matrix product `self @ other`.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        let _p = crate::profile::scope("matmul", crate::profile::Pass::Forward);
        let (batch, m, k, n) = dims(self.shape(), other.shape());
        let mut out = vec![T::ZERO; batch * m * n];
        {
            let (a, b) = (self.data(), other.data());
            for i in 0..batch {
                gemm(
                    MatMut::row_major(&mut out[i * m * n..(i + 1) * m * n], m, n),
                    T::ONE,
                    MatRef::row_major(&a[i * m * k..(i + 1) * m * k], m, k),
                    MatRef::row_major(&b[i * k * n..(i + 1) * k * n], k, n),
                    T::ZERO,
                );
            }
        }
        let shape: Vec<usize> = if self.ndim() == 2 {
            vec![m, n]
        } else {
            vec![batch, m, n]
        };
        Tensor::from_op(
            out,
            &shape,
            &[self, other],
            MatmulBackward { batch, m, k, n },
        )
    }
}
