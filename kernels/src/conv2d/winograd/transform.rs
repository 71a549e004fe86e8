//! The transforms of F(2×2, 3×3): of the filter (G g Gᵀ), of the input patches (Bᵀ d B), of
//! the products back to outputs (Aᵀ M A), and their adjoints for the weight gradient. Each
//! 2-D transform is a 1-D transform of the rows, then of the columns; the loops run over a
//! whole row of tiles at a time, so the compiler vectorises them.

use super::super::Conv2dShape;
use crate::vector::Lanes;

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

/// The floats of scratch [`input`] needs: the padded image cut four ways by the parity of
/// its rows and columns, and the column transform of each, (TH + 1) rows of TW + 1 apiece,
/// and one padded row (whole blocks of [`PAIRS`] column pairs).
pub(super) fn input_scratch_len(th: usize, tw: usize) -> usize {
    12 * ((th + 1) * (tw + 1) + 1) + padded_row_len(tw + 1)
}

/// Column pairs per step of [`deinterleave`].
const PAIRS: usize = 8;

/// The floats of one padded row: `pitch` column pairs, rounded up to whole blocks.
fn padded_row_len(pitch: usize) -> usize {
    2 * pitch.div_ceil(PAIRS) * PAIRS
}

/// dst\[..src.len()\] = src, by whole blocks of [`PAIRS`] floats (the last one overlapping
/// the one before) when there is one: a copy this short costs less inline than as a call.
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    const B: usize = PAIRS;
    let n = src.len();
    let dst = &mut dst[..n];
    if n < B {
        dst.copy_from_slice(src);
        return;
    }
    for i in (0..n - B).step_by(B) {
        dst[i..i + B].copy_from_slice(&src[i..i + B]);
    }
    dst[n - B..].copy_from_slice(&src[n - B..]);
}

/// even\[j\] = row\[2j\], odd\[j\] = row\[2j + 1\] for j < even.len() (= odd.len()): one padded
/// row split by the parity of its columns, a block of [`PAIRS`] pairs at a time through
/// fixed-size arrays (the compiler turns each block into a few shuffles).
#[inline(always)]
fn deinterleave(even: &mut [f32], odd: &mut [f32], row: &[f32]) {
    let blocks = row.chunks_exact(2 * PAIRS);
    for ((e, o), block) in even
        .chunks_mut(PAIRS)
        .zip(odd.chunks_mut(PAIRS))
        .zip(blocks)
    {
        let block: &[f32; 2 * PAIRS] = block.try_into().unwrap();
        let ev: [f32; PAIRS] = std::array::from_fn(|j| block[2 * j]);
        let ov: [f32; PAIRS] = std::array::from_fn(|j| block[2 * j + 1]);
        if e.len() == PAIRS {
            e.copy_from_slice(&ev);
            o.copy_from_slice(&ov);
        } else {
            for j in 0..e.len() {
                (e[j], o[j]) = (ev[j], ov[j]);
            }
        }
    }
}

/// V\[e\]\[c, t\] = (Bᵀ d B)\[e\] of every patch of one image x_n [C, H, W], stored at
/// `v[(e·C + c)·tp + t]` with t = ty·(TW + 1) + tx: the tiles of a row sit TW + 1 apart, so
/// every step below is one loop over all of an image's tiles at once (the compiler
/// vectorises it), and the spare tile at the end of each row (tx = TW) is computed and
/// never read. V is finite there and zero past the last row's tiles, up to `tp`.
///
/// With the zero-padded input cut by parity, E\[i\]\[j\] = d(i, 2j), O\[i\]\[j\] = d(i, 2j + 1)
/// (rows i, column pairs j ≤ TW), tile tx reads columns 2tx..2tx+4 = E\[tx\], O\[tx\],
/// E\[tx+1\], O\[tx+1\]. Columns first (· B), over every row at once:
///   c0 = E\[j\] − E\[j+1\],  c1 = O\[j\] + E\[j+1\],  c2 = E\[j+1\] − O\[j\],  c3 = O\[j\] − O\[j+1\]
/// then rows (Bᵀ ·): tile row ty reads rows 2ty..2ty+4 of each cν, i.e. the even rows ty, ty+1
/// and the odd rows ty, ty+1 of that column's transform, so with the rows kept apart by
/// parity as well (d0 = even\[t\], d1 = odd\[t\], d2 = even\[t + TW + 1\], d3 = odd\[t + TW + 1\]):
///   V\[0,ν\] = d0 − d2,  V\[1,ν\] = d1 + d2,  V\[2,ν\] = d2 − d1,  V\[3,ν\] = d1 − d3.
#[inline(always)]
pub(super) fn input(
    v: &mut [f32],
    x_n: &[f32],
    sh: &Conv2dShape,
    th: usize,
    tw: usize,
    tp: usize,
    scratch: &mut [f32],
) {
    let pitch = tw + 1;
    // Rows 0..=TH of each parity plane, plus one float of slack for the reads at j + 1.
    let n = (th + 1) * pitch;
    let t = th * pitch;
    let (ph, pw) = (sh.padding[0] as isize, sh.padding[1] as isize);
    let h = sh.h as isize;
    let (parts, rest) = scratch.split_at_mut(4 * (n + 1));
    let (cols, padded) = rest.split_at_mut(8 * n);
    // The padded row: the image row at pw..pw + W, zeros around it (written once here; only
    // pw..pw + W is ever written again).
    let padded = &mut padded[..padded_row_len(pitch)];
    padded.fill(0.0);
    for c in 0..sh.c {
        let xc = &x_n[c * sh.h * sh.w..(c + 1) * sh.h * sh.w];
        // parts: [row parity][column parity] → the padded image's (2i + a, 2j + b), padded
        // row r = 2i + a being the image's row r − ph.
        for r in 0..2 * (th + 1) {
            let (i, a) = (r / 2, r % 2);
            let (even, odd) = parts[2 * a * (n + 1)..(2 * a + 2) * (n + 1)].split_at_mut(n + 1);
            let (even, odd) = (
                &mut even[i * pitch..(i + 1) * pitch],
                &mut odd[i * pitch..(i + 1) * pitch],
            );
            let u = r as isize - ph;
            if u < 0 || u >= h {
                even.fill(0.0);
                odd.fill(0.0);
                continue;
            }
            let u = u as usize;
            copy_row(&mut padded[pw as usize..], &xc[u * sh.w..(u + 1) * sh.w]);
            deinterleave(even, odd, padded);
        }
        for part in 0..4 {
            parts[part * (n + 1) + n] = 0.0;
        }
        // Columns: cν of the even rows, then of the odd rows, n floats each.
        for (rp, out) in cols.chunks_exact_mut(4 * n).take(2).enumerate() {
            let (e, o) = (&parts[2 * rp * (n + 1)..], &parts[(2 * rp + 1) * (n + 1)..]);
            let (e0, e1, o0, o1) = (&e[..n], &e[1..n + 1], &o[..n], &o[1..n + 1]);
            let mut c = out.chunks_exact_mut(n);
            combine(c.next().unwrap(), e0, e1, |a, b| a - b);
            combine(c.next().unwrap(), o0, e1, |a, b| a + b);
            combine(c.next().unwrap(), e1, o0, |a, b| a - b);
            combine(c.next().unwrap(), o0, o1, |a, b| a - b);
        }
        // Rows, over all tiles t < TH·(TW + 1) at once; zero past them.
        for nu in 0..4 {
            let even = &cols[nu * n..(nu + 1) * n];
            let odd = &cols[(4 + nu) * n..(5 + nu) * n];
            let (d0, d1, d2, d3) = (&even[..t], &odd[..t], &even[pitch..], &odd[pitch..]);
            let at = |xi: usize| ((xi * 4 + nu) * sh.c + c) * tp;
            combine(tile_row(v, at(0), t, tp), d0, d2, |a, b| a - b);
            combine(tile_row(v, at(1), t, tp), d1, d2, |a, b| a + b);
            combine(tile_row(v, at(2), t, tp), d2, d1, |a, b| a - b);
            combine(tile_row(v, at(3), t, tp), d1, d3, |a, b| a - b);
        }
    }
}

/// The first `t` floats of the row of `tp` at `at`, its slack past them zeroed.
fn tile_row(v: &mut [f32], at: usize, t: usize, tp: usize) -> &mut [f32] {
    let (row, slack) = v[at..at + tp].split_at_mut(t);
    if !slack.is_empty() {
        slack.fill(0.0);
    }
    row
}

/// dst\[j\] = f(a\[j\], b\[j\]) for every j < dst.len(): one step of a transform over a
/// whole row of tiles (inlined, so it vectorises at the caller's width).
#[inline(always)]
fn combine(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    let (a, b) = (&a[..dst.len()], &b[..dst.len()]);
    for j in 0..dst.len() {
        dst[j] = f(a[j], b[j]);
    }
}

/// The floats of scratch [`output`] and [`output_max_pool2d`] need: eight rows of `tp`
/// tiles and four of `tp + PAIRS` (the interleaving reads whole blocks of pairs, past a
/// row's last tile), and two more rows of `tp` for the pooling.
pub(super) fn output_scratch_len(tp: usize) -> usize {
    tile_values_scratch_len(tp) + 2 * tp
}

/// The floats of scratch [`tile_values`] needs: eight rows of `tp` tiles for the row
/// transform, four of `tp + PAIRS` for the tiles' values.
fn tile_values_scratch_len(tp: usize) -> usize {
    8 * tp + 4 * (tp + PAIRS)
}

/// y\[k\] = Aᵀ M\[·\]\[k, t\] A + b\[k\] for every tile, cropped to P × Q; `m` holds
/// `m[(e·kp + k)·tp + t]` (kp ≥ K rows per e, the register tile's), with t = ty·(TW + 1) + tx
/// as in [`input`]. Each tile's four values go to output (2ty + a, 2tx + b').
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn output(
    y_n: &mut [f32],
    m: &[f32],
    bias: Option<&[f32]>,
    (k, kp): (usize, usize),
    (p, q): (usize, usize),
    (th, tw, tp): (usize, usize, usize),
    scratch: &mut [f32],
) {
    let pitch = tw + 1;
    let blocks = tw.div_ceil(PAIRS);
    for ki in 0..k {
        let (y, ys) = tile_values(m, bias, ki, kp, (th, tw, tp), scratch);
        for pi in 0..p {
            let (ty, a) = (pi / 2, pi % 2);
            let at = 2 * a * ys + ty * pitch;
            let (ya, yb) = (&y[at..(2 * a + 1) * ys], &y[at + ys..(2 * a + 2) * ys]);
            let start = (ki * p + pi) * q;
            if start + 2 * PAIRS * blocks <= y_n.len() {
                // Whole blocks of pairs: past q they write into the rows after this one,
                // which are written later (rows and channels go in order), so every output
                // ends with its own row's value; the image's last rows take the exact path.
                interleave_blocks(&mut y_n[start..start + 2 * PAIRS * blocks], ya, yb);
            } else {
                interleave(&mut y_n[start..start + q], ya, yb);
            }
        }
    }
}

/// [`output`] followed by 2×2 max pooling with stride 2, where P and Q are even: each
/// output tile is one pooling window, so instead of the tile's four values only their
/// maximum and its index in the P × Q plane are written,
///   pooled\[k, ty, tx\] = max over (a, b') of y\[k\]\[2ty + a, 2tx + b'\],
/// the window's positions compared in the order of `max_pool2d`'s kernels (top-left,
/// top-right, bottom-left, bottom-right; a later value wins only when strictly greater, or
/// NaN over a number), so the values and the argmax are theirs on [`output`]'s y.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn output_max_pool2d(
    pooled: &mut [f32],
    argmax: &mut [u32],
    m: &[f32],
    bias: Option<&[f32]>,
    (k, kp): (usize, usize),
    q: usize,
    (th, tw, tp): (usize, usize, usize),
    scratch: &mut [f32],
) {
    let pitch = tw + 1;
    let t = th * pitch;
    let (values, rest) = scratch.split_at_mut(tile_values_scratch_len(tp));
    let (best, win) = rest[..2 * tp].split_at_mut(tp);
    let (best, win) = (&mut best[..t], &mut win[..t]);
    for ki in 0..k {
        let (y, ys) = tile_values(m, bias, ki, kp, (th, tw, tp), values);
        let cand = |i: usize| &y[i * ys..i * ys + t];
        // Over all tiles at once (so it vectorises): the winner and its offset from the
        // window's corner (0, 1, Q, Q + 1, exact in f32), as selects.
        best.copy_from_slice(cand(0));
        win.fill(0.0);
        for (i, off) in [(1, 1.0), (2, q as f32), (3, q as f32 + 1.0)] {
            for ((b, o), &v) in best.iter_mut().zip(win.iter_mut()).zip(cand(i)) {
                let take = (v > *b) | (v.is_nan() & !b.is_nan());
                *b = if take { v } else { *b };
                *o = if take { off } else { *o };
            }
        }
        for ty in 0..th {
            let (at, o) = (ty * pitch, (ki * th + ty) * tw);
            let corner = (2 * ty * q) as u32;
            pooled[o..o + tw].copy_from_slice(&best[at..at + tw]);
            for (tx, (a, &off)) in argmax[o..o + tw]
                .iter_mut()
                .zip(&win[at..at + tw])
                .enumerate()
            {
                *a = corner + 2 * tx as u32 + off as u32;
            }
        }
    }
}

/// The four values of every tile of channel `ki`, y\[a\]\[b'\] at `(2a + b')·ys + t`, in
/// `scratch`; returns that part of it and `ys`.
///
/// Rows, over all tiles at once: r0,ν = m0ν + m1ν + m2ν, r1,ν = m1ν − m2ν − m3ν; then
/// columns: y\[a\]\[0\] = ra,0 + ra,1 + ra,2 + b, y\[a\]\[1\] = ra,1 − ra,2 − ra,3 + b.
#[inline(always)]
fn tile_values<'s>(
    m: &[f32],
    bias: Option<&[f32]>,
    ki: usize,
    kp: usize,
    (th, tw, tp): (usize, usize, usize),
    scratch: &'s mut [f32],
) -> (&'s [f32], usize) {
    let t = th * (tw + 1);
    let (r, y) = scratch.split_at_mut(8 * tp);
    // The rows of y: y[a][b'] at (2a + b')·ys, whole blocks of pairs readable past t.
    let ys = tp + PAIRS;
    let b = bias.map_or(0.0, |b| b[ki]);
    let me = |e: usize| &m[(e * kp + ki) * tp..(e * kp + ki) * tp + t];
    for nu in 0..4 {
        let (m0, m1, m2, m3) = (me(nu), me(4 + nu), me(8 + nu), me(12 + nu));
        let (ra, rb) = r[2 * nu * tp..(2 * nu + 2) * tp].split_at_mut(tp);
        let (ra, rb) = (&mut ra[..t], &mut rb[..t]);
        for j in 0..t {
            ra[j] = m0[j] + m1[j] + m2[j];
            rb[j] = m1[j] - m2[j] - m3[j];
        }
    }
    for a in 0..2 {
        let c = |nu: usize| &r[(2 * nu + a) * tp..(2 * nu + a) * tp + t];
        let (c0, c1, c2, c3) = (c(0), c(1), c(2), c(3));
        let (ya, yb) = y[2 * a * ys..(2 * a + 2) * ys].split_at_mut(ys);
        let (ya, yb) = (&mut ya[..t], &mut yb[..t]);
        for j in 0..t {
            ya[j] = c0[j] + c1[j] + c2[j] + b;
            yb[j] = c1[j] - c2[j] - c3[j] + b;
        }
    }
    (y, ys)
}

/// out\[2j\] = a\[j\], out\[2j + 1\] = b\[j\] for j < out.len() / 2, and a\[j\] at the last
/// position when out.len() is odd: one output row from its tiles' two columns.
#[inline(always)]
fn interleave(out: &mut [f32], a: &[f32], b: &[f32]) {
    let pairs = out.len() / 2;
    for ((pair, &v0), &v1) in out.chunks_exact_mut(2).zip(&a[..pairs]).zip(&b[..pairs]) {
        pair[0] = v0;
        pair[1] = v1;
    }
    if out.len() % 2 == 1 {
        out[2 * pairs] = a[pairs];
    }
}

/// [`interleave`] of out.len() / 2 pairs, a block of [`PAIRS`] at a time through fixed-size
/// arrays (the compiler turns each block into a few shuffles); `a` and `b` hold as many.
#[inline(always)]
fn interleave_blocks(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, a), b) in out
        .chunks_exact_mut(2 * PAIRS)
        .zip(a.chunks_exact(PAIRS))
        .zip(b.chunks_exact(PAIRS))
    {
        let (a, b): (&[f32; PAIRS], &[f32; PAIRS]) = (a.try_into().unwrap(), b.try_into().unwrap());
        let z: [f32; 2 * PAIRS] =
            std::array::from_fn(|i| if i % 2 == 0 { a[i / 2] } else { b[i / 2] });
        o.copy_from_slice(&z);
    }
}

/// The floats of scratch [`output_grad`] needs: G_n transposed, one row of `kpad` per
/// output position, and a row of zeros.
pub(super) fn output_grad_scratch_len(p: usize, q: usize, kpad: usize) -> usize {
    (p * q + 1) * kpad
}

/// ∂Mᵀ\[e\]\[t, k\] = (A ∂Y Aᵀ)\[e\] of every output tile of G_n [K, P, Q] (zero past P, Q),
/// stored transposed at `dmt[(e·T + t)·kpad + k]` with t = ty·(TW + 1) + tx (zero for k ≥ K
/// and at each row's spare tile, T = TH·(TW + 1)): the adjoint of [`output`].
///
/// G_n is first transposed to one row of channels per output position ([`transpose`]), so
/// that each of a tile's sixteen rows of ∂Mᵀ comes out of a loop over the channels (the
/// compiler vectorises it).
/// With d_ab = ∂Y at (2ty + a, 2tx + b), A applied down the tile's two columns,
/// m0 = d0, m1 = d0 + d1, m2 = d0 − d1, m3 = −d1, then the same along its four rows.
///
/// # Safety
/// The CPU runs `L` (the transpose's blocks go through its registers).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn output_grad<L: Lanes>(
    dmt: &mut [f32],
    g_n: &[f32],
    (k, p, q): (usize, usize, usize),
    (th, tw, t): (usize, usize, usize),
    kpad: usize,
    scratch: &mut [f32],
) {
    let pitch = tw + 1;
    let pq = p * q;
    let (gt, zero) = scratch[..(pq + 1) * kpad].split_at_mut(pq * kpad);
    zero.fill(0.0);
    // SAFETY: the caller's contract (the CPU runs `L`).
    unsafe { transpose::<L>(gt, g_n, k, pq, kpad) };
    let (gt, zero) = (&*gt, &*zero);
    let at = |i: usize, j: usize| {
        if i < p && j < q {
            &gt[(i * q + j) * kpad..(i * q + j + 1) * kpad]
        } else {
            zero
        }
    };
    for ty in 0..th {
        for tx in 0..pitch {
            let ti = ty * pitch + tx;
            let mut planes = dmt[..16 * t * kpad]
                .chunks_exact_mut(t * kpad)
                .map(|plane| &mut plane[ti * kpad..(ti + 1) * kpad]);
            let dst: [&mut [f32]; 16] = std::array::from_fn(|_| planes.next().unwrap());
            if tx == tw {
                // The spare tile (see [`input`]) has no gradient.
                for row in dst {
                    row.fill(0.0);
                }
            } else {
                let (i0, j0) = (2 * ty, 2 * tx);
                let d = [
                    at(i0, j0),
                    at(i0, j0 + 1),
                    at(i0 + 1, j0),
                    at(i0 + 1, j0 + 1),
                ];
                tile_grad(dst, d);
            }
        }
    }
}

/// Gᵀ of one image: gt\[f·kpad + k\] = G\[k, f\] for f < P·Q, zero for K ≤ k < kpad;
/// LANES × LANES blocks through registers ([`Lanes::transpose_block`]), the edges one
/// float at a time.
///
/// # Safety
/// The CPU runs `L`.
#[inline(always)]
unsafe fn transpose<L: Lanes>(gt: &mut [f32], g_n: &[f32], k: usize, pq: usize, kpad: usize) {
    let b = L::LANES;
    assert!(gt.len() >= pq * kpad && g_n.len() >= k * pq && kpad >= k);
    let (kb, fb) = (k / b * b, pq / b * b);
    for k0 in (0..kb).step_by(b) {
        for f0 in (0..fb).step_by(b) {
            // SAFETY: the CPU runs `L` (the caller's contract); the block's b rows of G
            // (k0 + b ≤ K, f0 + b ≤ P·Q) and of Gᵀ (f0 + b ≤ P·Q, k0 + b ≤ kpad) lie inside
            // the slices, as asserted above.
            unsafe {
                L::transpose_block(
                    gt.as_mut_ptr().add(f0 * kpad + k0),
                    kpad,
                    g_n.as_ptr().add(k0 * pq + f0),
                    pq,
                )
            }
        }
    }
    for ki in 0..k {
        let from = if ki < kb { fb } else { 0 };
        for f in from..pq {
            gt[f * kpad + ki] = g_n[ki * pq + f];
        }
    }
    if kpad != k {
        for row in gt[..pq * kpad].chunks_exact_mut(kpad) {
            row[k..].fill(0.0);
        }
    }
}

/// One tile's sixteen rows of ∂Mᵀ from its four rows of Gᵀ, d = \[d00, d01, d10, d11\]
/// (∂Y at (a, b) of the tile, one float per channel). With a(d0, d1) = (d0, d0 + d1,
/// d0 − d1, −d1): A down the tile's two columns, c0 = a(d00, d10), c1 = a(d01, d11), then
/// along each of its four rows ξ, row 4ξ + ν = a(c0\[ξ\], c1\[ξ\])\[ν\]: one loop over the
/// channels per ξ (the compiler vectorises it).
#[inline(always)]
fn tile_grad(dst: [&mut [f32]; 16], d: [&[f32]; 4]) {
    let mut rows = dst.into_iter();
    let mut next4 = || -> [&mut [f32]; 4] { std::array::from_fn(|_| rows.next().unwrap()) };
    tile_grad_row::<0>(next4(), d);
    tile_grad_row::<1>(next4(), d);
    tile_grad_row::<2>(next4(), d);
    tile_grad_row::<3>(next4(), d);
}

/// Rows 4ξ .. 4ξ + 4 of [`tile_grad`], ξ = `XI`.
#[inline(always)]
fn tile_grad_row<const XI: usize>(o: [&mut [f32]; 4], d: [&[f32]; 4]) {
    let len = d[0].len();
    let a = |d0: f32, d1: f32| match XI {
        0 => d0,
        1 => d0 + d1,
        2 => d0 - d1,
        _ => -d1,
    };
    let [d00, d01, d10, d11] = d.map(|r| &r[..len]);
    let [o0, o1, o2, o3] = o.map(|r| &mut r[..len]);
    for j in 0..len {
        let (c0, c1) = (a(d00[j], d10[j]), a(d01[j], d11[j]));
        o0[j] = c0;
        o1[j] = c0 + c1;
        o2[j] = c0 - c1;
        o3[j] = -c1;
    }
}
