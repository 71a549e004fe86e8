//! The transforms of F(2×2, 3×3): of the filter (G g Gᵀ), of the input patches (Bᵀ d B), of
//! the products back to outputs (Aᵀ M A), and their adjoints for the weight gradient. Each
//! 2-D transform is a 1-D transform of the rows, then of the columns; the loops run over a
//! whole row of tiles at a time, so the compiler vectorises them.

use super::super::Conv2dShape;

/// G applied to three values: (g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2).
#[inline(always)]
fn g_1d(g: [f32; 3]) -> [f32; 4] {
    [
        g[0],
        0.5 * (g[0] + g[1] + g[2]),
        0.5 * (g[0] - g[1] + g[2]),
        g[2],
    ]
}

/// U = G g Gᵀ of a 3×3 filter (row-major), as a row-major 4×4.
pub(super) fn filter(g: &[f32; 9]) -> [f32; 16] {
    // Columns of G g: G applied down each column of g.
    let cols: [[f32; 4]; 3] = std::array::from_fn(|j| g_1d([g[j], g[3 + j], g[6 + j]]));
    // Then G along each row of that 4×3.
    let mut u = [0.0f32; 16];
    for xi in 0..4 {
        let row = g_1d([cols[0][xi], cols[1][xi], cols[2][xi]]);
        u[xi * 4..xi * 4 + 4].copy_from_slice(&row);
    }
    u
}

/// Gᵀ applied to four values: (u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3).
#[inline(always)]
fn gt_1d(u: [f32; 4]) -> [f32; 3] {
    let h = 0.5 * (u[1] + u[2]);
    [u[0] + h, 0.5 * (u[1] - u[2]), h + u[3]]
}

/// ∂g = Gᵀ ∂U G, the adjoint of [`filter`].
pub(super) fn filter_grad(du: &[f32; 16]) -> [f32; 9] {
    // Gᵀ down each column of ∂U, then along each row.
    let cols: [[f32; 3]; 4] =
        std::array::from_fn(|j| gt_1d([du[j], du[4 + j], du[8 + j], du[12 + j]]));
    let mut g = [0.0f32; 9];
    for r in 0..3 {
        let row = gt_1d([cols[0][r], cols[1][r], cols[2][r], cols[3][r]]);
        g[r * 3..r * 3 + 3].copy_from_slice(&row);
    }
    g
}

/// V\[e\]\[c, t\] = (Bᵀ d B)\[e\] of every patch of one image x_n [C, H, W], stored at
/// `v[(e·C + c)·tp + t]`, t = ty·TW + tx.
///
/// Rows first: for tile row ty the four padded input rows d0..d3 (2ty..2ty+4) combine into
///   b0 = d0 − d2,  b1 = d1 + d2,  b2 = d2 − d1,  b3 = d1 − d3      (Bᵀ d, whole rows)
/// then the columns of each bξ: tile tx reads columns 2tx..2tx+4, so with the even and odd
/// columns apart, E\[j\] = bξ\[2j\], O\[j\] = bξ\[2j + 1\],
///   V\[ξ,0\] = E\[tx\] − E\[tx+1\],  V\[ξ,1\] = O\[tx\] + E\[tx+1\],
///   V\[ξ,2\] = E\[tx+1\] − O\[tx\],  V\[ξ,3\] = O\[tx\] − O\[tx+1\]   (· B, over all tx at once)
#[inline(always)]
pub(super) fn input(v: &mut [f32], x_n: &[f32], sh: &Conv2dShape, th: usize, tw: usize, tp: usize) {
    let we = 2 * tw + 2;
    let (ph, pw) = (sh.padding[0], sh.padding[1]);
    let mut rows = vec![0.0f32; 4 * we];
    let mut b = vec![0.0f32; 4 * we];
    // The input columns that fall inside the padded row's first `we` columns.
    let (col_lo, col_hi) = (pw.min(we), (pw + sh.w).min(we));
    for c in 0..sh.c {
        let xc = &x_n[c * sh.h * sh.w..(c + 1) * sh.h * sh.w];
        for ty in 0..th {
            for i in 0..4 {
                let row = &mut rows[i * we..(i + 1) * we];
                match (2 * ty + i).checked_sub(ph).filter(|&u| u < sh.h) {
                    Some(u) => {
                        row[..col_lo].fill(0.0);
                        row[col_lo..col_hi]
                            .copy_from_slice(&xc[u * sh.w..u * sh.w + (col_hi - col_lo)]);
                        row[col_hi..].fill(0.0);
                    }
                    None => row.fill(0.0),
                }
            }
            {
                let (d0, rest) = rows.split_at(we);
                let (d1, rest) = rest.split_at(we);
                let (d2, d3) = rest.split_at(we);
                let (b0, rest) = b.split_at_mut(we);
                let (b1, rest) = rest.split_at_mut(we);
                let (b2, b3) = rest.split_at_mut(we);
                for j in 0..we {
                    b0[j] = d0[j] - d2[j];
                    b1[j] = d1[j] + d2[j];
                    b2[j] = d2[j] - d1[j];
                    b3[j] = d1[j] - d3[j];
                }
            }
            let t0 = ty * tw;
            for xi in 0..4 {
                let bx = &b[xi * we..(xi + 1) * we];
                let at = |nu: usize| ((xi * 4 + nu) * sh.c + c) * tp + t0;
                let (o0, o1, o2, o3) = (at(0), at(1), at(2), at(3));
                for tx in 0..tw {
                    let (e0, d0, e1, d1) =
                        (bx[2 * tx], bx[2 * tx + 1], bx[2 * tx + 2], bx[2 * tx + 3]);
                    v[o0 + tx] = e0 - e1;
                    v[o1 + tx] = d0 + e1;
                    v[o2 + tx] = e1 - d0;
                    v[o3 + tx] = d0 - d1;
                }
            }
        }
    }
}

/// y\[k\] = Aᵀ M\[·\]\[k, t\] A + b\[k\] for every tile, cropped to P × Q; `m` holds
/// `m[(k·16 + e)·tp + t]`.
///
/// Rows: r0 = m0 + m1 + m2, r1 = m1 − m2 − m3 (for each column ν); then columns:
/// y00 = r0,0 + r0,1 + r0,2, y01 = r0,1 − r0,2 − r0,3, and likewise y10, y11 from r1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    y_n: &mut [f32],
    m: &[f32],
    bias: Option<&[f32]>,
    k: usize,
    p: usize,
    q: usize,
    th: usize,
    tw: usize,
    tp: usize,
) {
    let mut r = vec![0.0f32; 8 * tw];
    let mut y = vec![0.0f32; 4 * tw];
    for ki in 0..k {
        let b = bias.map_or(0.0, |b| b[ki]);
        let mk = &m[ki * 16 * tp..(ki + 1) * 16 * tp];
        let yk = &mut y_n[ki * p * q..(ki + 1) * p * q];
        for ty in 0..th {
            let t0 = ty * tw;
            let row = |e: usize| &mk[e * tp + t0..e * tp + t0 + tw];
            for nu in 0..4 {
                let (m0, m1, m2, m3) = (row(nu), row(4 + nu), row(8 + nu), row(12 + nu));
                let (ra, rb) = r[nu * 2 * tw..(nu + 1) * 2 * tw].split_at_mut(tw);
                for tx in 0..tw {
                    ra[tx] = m0[tx] + m1[tx] + m2[tx];
                    rb[tx] = m1[tx] - m2[tx] - m3[tx];
                }
            }
            let rr = |nu: usize, half: usize| &r[(nu * 2 + half) * tw..(nu * 2 + half + 1) * tw];
            for half in 0..2 {
                let (c0, c1, c2, c3) = (rr(0, half), rr(1, half), rr(2, half), rr(3, half));
                let (ya, yb) = y[half * 2 * tw..(half + 1) * 2 * tw].split_at_mut(tw);
                for tx in 0..tw {
                    ya[tx] = c0[tx] + c1[tx] + c2[tx] + b;
                    yb[tx] = c1[tx] - c2[tx] - c3[tx] + b;
                }
            }
            for half in 0..2 {
                let pi = 2 * ty + half;
                if pi >= p {
                    break;
                }
                let (ya, yb) = y[half * 2 * tw..(half + 1) * 2 * tw].split_at(tw);
                let out = &mut yk[pi * q..(pi + 1) * q];
                for tx in 0..tw {
                    out[2 * tx] = ya[tx];
                    if 2 * tx + 1 < q {
                        out[2 * tx + 1] = yb[tx];
                    }
                }
            }
        }
    }
}

/// ∂Mᵀ\[e\]\[t, k\] = (A ∂Y Aᵀ)\[e\] of every output tile of G_n [K, P, Q] (zero past P, Q),
/// stored transposed at `dmt[(e·T + t)·kpad + k]` (zero for k ≥ K): the adjoint of
/// [`output`]. Rows: m0 = d0, m1 = d0 + d1, m2 = d0 − d1, m3 = −d1; then the same on the
/// columns.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn output_grad(
    dmt: &mut [f32],
    g_n: &[f32],
    k: usize,
    p: usize,
    q: usize,
    th: usize,
    tw: usize,
    t: usize,
    kpad: usize,
) {
    if kpad != k {
        dmt[..16 * t * kpad].fill(0.0);
    }
    let a_1d = |d0: f32, d1: f32| [d0, d0 + d1, d0 - d1, -d1];
    for ki in 0..k {
        let gk = &g_n[ki * p * q..(ki + 1) * p * q];
        let at = |i: usize, j: usize| if i < p && j < q { gk[i * q + j] } else { 0.0 };
        for ty in 0..th {
            for tx in 0..tw {
                let (i0, j0) = (2 * ty, 2 * tx);
                // A applied down the tile's two columns, then along its four rows.
                let c0 = a_1d(at(i0, j0), at(i0 + 1, j0));
                let c1 = a_1d(at(i0, j0 + 1), at(i0 + 1, j0 + 1));
                let ti = ty * tw + tx;
                for xi in 0..4 {
                    let row = a_1d(c0[xi], c1[xi]);
                    for (nu, &val) in row.iter().enumerate() {
                        dmt[((xi * 4 + nu) * t + ti) * kpad + ki] = val;
                    }
                }
            }
        }
    }
}
