//! The register tile of the packed gemm, generic over the vector width.

use crate::vector::Lanes;

/// Floats in the largest tile (8 rows × 4 vectors of 16): the staging buffer of an edge tile.
const MAX_TILE: usize = 8 * 4 * 16;

/// One MR × (NV·LANES) tile of C from a packed micro-panel of A and one of B:
///   acc\[i, j\] = Σ_{p < kc} ã\[p·MR + i\] · b̃\[p·nr + j\]      (one fused chain per output)
///   C\[i, j\] = α · acc\[i, j\] + β · C\[i, j\]                 (β = 0: C is not read)
/// for the rows of `c` (at most MR) and columns j0..j0 + cols of each (an edge tile computes
/// its padding lanes and drops them).
/// Every output, in a full tile or an edge one, gets the same operations in the same order.
///
/// # Safety
/// The CPU runs `L`; `a` holds kc·MR floats, `b` kc·nr with nr ≥ NV·LANES; every row of `c`
/// holds j0 + cols floats; c.len() ≤ MR, cols ≤ NV·LANES, MR·NV·LANES ≤ [`MAX_TILE`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile<L: Lanes, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    nr: usize,
    c: &mut [&mut [f32]],
    j0: usize,
    cols: usize,
    (alpha, beta): (f32, f32),
) {
    // SAFETY: the caller's contract covers every pointer below.
    unsafe {
        let mut acc = [[L::zero(); NV]; MR];
        for p in 0..kc {
            let bp = b.add(p * nr);
            let mut bv = [L::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = L::load(bp.add(v * L::LANES));
            }
            let ap = a.add(p * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let av = L::splat(*ap.add(i));
                for v in 0..NV {
                    row[v] = L::fma(av, bv[v], row[v]);
                }
            }
        }
        let va = L::splat(alpha);
        let rows = c.len();
        if rows == MR && cols == NV * L::LANES {
            for (i, row) in acc.iter().enumerate() {
                let ci = c[i][j0..].as_mut_ptr();
                for (v, &x) in row.iter().enumerate() {
                    let cp = ci.add(v * L::LANES);
                    let ax = L::mul(va, x);
                    let out = if beta == 0.0 {
                        ax
                    } else {
                        L::fma(L::splat(beta), L::load(cp), ax)
                    };
                    L::store(cp, out);
                }
            }
            return;
        }
        // An edge tile: stage it, then update the valid part element by element with the
        // same two roundings (α·acc, then the fused β·C + α·acc).
        let mut stage = [0.0f32; MAX_TILE];
        let w = NV * L::LANES;
        for (i, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                L::store(stage.as_mut_ptr().add(i * w + v * L::LANES), x);
            }
        }
        for (i, row) in c.iter_mut().enumerate() {
            for (j, cij) in row[j0..j0 + cols].iter_mut().enumerate() {
                let ax = alpha * stage[i * w + j];
                *cij = if beta == 0.0 {
                    ax
                } else {
                    beta.mul_add(*cij, ax)
                };
            }
        }
    }
}
