//! Shape arithmetic: element counts, row-major strides and NumPy broadcasting.
//!
//! Broadcasting (NumPy's rule): align the two shapes at their last dimension; each pair of
//! sizes must be equal or contain a 1, and the result takes the larger. A missing leading
//! dimension counts as 1. So `[N, C, H, W] + [C, 1, 1]` adds a per-channel value and
//! `[N, F] + [F]` a per-feature one.

/// The number of elements of a shape (1 for the scalar shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// As [`numel`], or `None` if the product overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Row-major strides: the last dimension has stride 1.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The broadcast shape of `a` and `b`, or `None` if they are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// For an input of shape `input` broadcast to `out`: the stride of each output dimension in
/// the input's flat buffer, 0 where the input is repeated along that dimension.
pub fn broadcast_strides(input: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(input);
    let lead = out.len() - input.len();
    (0..out.len())
        .map(|i| {
            if i < lead || input[i - lead] == 1 {
                0
            } else {
                own[i - lead]
            }
        })
        .collect()
}

/// Calls `f(out_index, a_index, b_index)` for every element of the broadcast shape `out`, in
/// row-major order, walking the two inputs with their broadcast strides (an odometer over
/// all but the last dimension, a stride loop over the last).
pub fn for_each_broadcast(
    out: &[usize],
    a_strides: &[usize],
    b_strides: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let total = numel(out);
    if total == 0 {
        return;
    }
    if out.is_empty() {
        f(0, 0, 0);
        return;
    }
    let nd = out.len();
    let inner = out[nd - 1];
    let (sa, sb) = (a_strides[nd - 1], b_strides[nd - 1]);
    let mut idx = vec![0usize; nd - 1];
    let (mut base_a, mut base_b) = (0usize, 0usize);
    let mut o = 0;
    loop {
        for j in 0..inner {
            f(o + j, base_a + j * sa, base_b + j * sb);
        }
        o += inner;
        // Advance the odometer over the outer dimensions.
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            base_a += a_strides[d];
            base_b += b_strides[d];
            if idx[d] < out[d] {
                break;
            }
            base_a -= a_strides[d] * out[d];
            base_b -= b_strides[d] * out[d];
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[2, 3], &[3]), Some(vec![2, 3]));
        assert_eq!(
            broadcast_shapes(&[4, 2, 5, 5], &[2, 1, 1]),
            Some(vec![4, 2, 5, 5])
        );
        assert_eq!(broadcast_shapes(&[1], &[3, 1]), Some(vec![3, 1]));
        assert_eq!(broadcast_shapes(&[], &[2]), Some(vec![2]));
        assert_eq!(broadcast_shapes(&[2, 3], &[2]), None);
    }

    #[test]
    fn odometer_visits_every_pair() {
        let out = [2, 3];
        let mut seen = vec![];
        for_each_broadcast(
            &out,
            &broadcast_strides(&[2, 1], &out),
            &broadcast_strides(&[3], &out),
            |o, a, b| seen.push((o, a, b)),
        );
        assert_eq!(
            seen,
            vec![
                (0, 0, 0),
                (1, 0, 1),
                (2, 0, 2),
                (3, 1, 0),
                (4, 1, 1),
                (5, 1, 2)
            ]
        );
    }
}
