//! Arithmetic with NumPy broadcasting: `add`, `sub`, `mul`, `div`, `neg`, and by a scalar.
//!
//! Forward, over the broadcast shape:  y = a + b,  a − b,  a ⊙ b,  a / b.
//! Backward, before summing each gradient down to its input's shape:
//!   add: ∂a = g,  ∂b = g          sub: ∂a = g,  ∂b = −g
//!   mul: ∂a = g ⊙ b,  ∂b = g ⊙ a  div: ∂a = g / b,  ∂b = −g ⊙ a / b²
//! Same-shape add and mul run the SIMD kernels; broadcasting goes through the stride walker.

use std::ops;

use stitch_kernels::elementwise;

use super::broadcast::{map2, sum_owned_to_shape, sum_to_shape};
use crate::autograd::Backward;
use crate::tensor::recycle::take;
use crate::tensor::shape::broadcast_shapes;
use crate::{Real, Tensor};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    fn name(self) -> &'static str {
        match self {
            Arith::Add => "add",
            Arith::Sub => "sub",
            Arith::Mul => "mul",
            Arith::Div => "div",
        }
    }

    fn apply<T: Real>(self, x: T, y: T) -> T {
        match self {
            Arith::Add => x + y,
            Arith::Sub => x - y,
            Arith::Mul => x * y,
            Arith::Div => x / y,
        }
    }
}

struct ArithBackward {
    kind: Arith,
    out_shape: Vec<usize>,
}

impl<T: Real> Backward<T> for ArithBackward {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// For `add` (both inputs) and `sub` (the first), an input of the output's shape has G
    /// itself as its gradient: the walk passes G on without a copy.
    fn forwards_gradient(&self, i: usize) -> bool {
        matches!((self.kind, i), (Arith::Add, _) | (Arith::Sub, 0))
    }

    /// `add` and `sub` need only the inputs' shapes (which a released tensor keeps).
    fn reads_input(&self, _i: usize) -> bool {
        matches!(self.kind, Arith::Mul | Arith::Div)
    }

    fn backward(&self, g: &[T], inputs: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let out = &self.out_shape;
        let (sa, sb) = (a.shape(), b.shape());
        let g_shape = out.as_slice();
        // add and sub reduce G only where the input was broadcast; mul and div form their
        // full-size product first.
        let da = needs[0].then(|| match self.kind {
            Arith::Add | Arith::Sub => sum_to_shape(g, out, sa),
            Arith::Mul => {
                sum_owned_to_shape(map2(g, g_shape, &b.data(), sb, out, |g, b| g * b), out, sa)
            }
            Arith::Div => {
                sum_owned_to_shape(map2(g, g_shape, &b.data(), sb, out, |g, b| g / b), out, sa)
            }
        });
        let db = needs[1].then(|| match self.kind {
            Arith::Add => sum_to_shape(g, out, sb),
            Arith::Sub => {
                let mut d = sum_to_shape(g, out, sb);
                d.iter_mut().for_each(|v| *v = -*v);
                d
            }
            Arith::Mul => {
                sum_owned_to_shape(map2(g, g_shape, &a.data(), sa, out, |g, a| g * a), out, sb)
            }
            Arith::Div => {
                // −g·a/b² computed as −(g·a/b)/b, over the full broadcast shape.
                let ga = map2(g, g_shape, &a.data(), sa, out, |g, a| g * a);
                sum_owned_to_shape(
                    map2(&ga, g_shape, &b.data(), sb, out, |ga, b| -(ga / b) / b),
                    out,
                    sb,
                )
            }
        });
        vec![da, db]
    }
}

impl<T: Real> Tensor<T> {
    #[track_caller]
    fn arith(&self, other: &Tensor<T>, kind: Arith) -> Tensor<T> {
        let _p = crate::profile::scope(kind.name(), crate::profile::Pass::Forward);
        let Some(out_shape) = broadcast_shapes(self.shape(), other.shape()) else {
            panic!(
                "{}: shapes {:?} and {:?} cannot be broadcast together",
                kind.name(),
                self.shape(),
                other.shape()
            );
        };
        let data = {
            let (a, b) = (self.data(), other.data());
            if self.shape() == other.shape() && matches!(kind, Arith::Add | Arith::Mul) {
                let mut out = take(a.len(), T::ZERO);
                if kind == Arith::Add {
                    elementwise::add(&mut out, &a, &b);
                } else {
                    elementwise::mul(&mut out, &a, &b);
                }
                out
            } else {
                map2(&a, self.shape(), &b, other.shape(), &out_shape, |x, y| {
                    kind.apply(x, y)
                })
            }
        };
        let op = ArithBackward {
            kind,
            out_shape: out_shape.clone(),
        };
        Tensor::from_op(data, &out_shape, &[self, other], op)
    }

    /// `self + other`, broadcasting.
    #[track_caller]
    pub fn add(&self, other: &Tensor<T>) -> Tensor<T> {
        self.arith(other, Arith::Add)
    }

    /// `self − other`, broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Tensor<T>) -> Tensor<T> {
        self.arith(other, Arith::Sub)
    }

    /// `self ⊙ other` (elementwise), broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.arith(other, Arith::Mul)
    }

    /// `self / other` (elementwise), broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Tensor<T>) -> Tensor<T> {
        self.arith(other, Arith::Div)
    }

    /// `−self`.
    pub fn neg(&self) -> Tensor<T> {
        self.mul_scalar(-T::ONE)
    }

    /// `self + c`;  ∂self = g.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        let _p = crate::profile::scope("add_scalar", crate::profile::Pass::Forward);
        let data = self.data().iter().map(|&v| v + c).collect();
        Tensor::from_op(data, self.shape(), &[self], AddScalarBackward)
    }

    /// `c · self`;  ∂self = c · g.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        let _p = crate::profile::scope("mul_scalar", crate::profile::Pass::Forward);
        let mut data = take(self.numel(), T::ZERO);
        elementwise::scale(&mut data, c, &self.data());
        Tensor::from_op(data, self.shape(), &[self], MulScalarBackward { c })
    }
}

impl<T: Real> Tensor<T> {
    /// `relu(self + other)` for two tensors of the same shape, in one pass: the end of a
    /// residual block. Equal to `self.add(other).relu()` bit for bit (one rounding in the
    /// sum, then a select); it keeps a 1-byte mask instead of the sum for backward, and its
    /// backward passes one masked gradient buffer to both inputs. Runs the two ops when
    /// fusion is off ([`crate::ops::set_fusion`]) or the shapes differ.
    #[track_caller]
    pub fn add_relu(&self, other: &Tensor<T>) -> Tensor<T> {
        if self.shape() != other.shape() || !super::fusion_enabled() {
            return self.add(other).relu();
        }
        let n = self.numel();
        let _p =
            crate::profile::scope_with("add_relu", crate::profile::Pass::Forward, 0, 13 * n as u64);
        let mut y = take(n, T::ZERO);
        let mut positive = take(n, false);
        elementwise::add_relu_mask(&mut y, &mut positive, &self.data(), &other.data());
        add_relu_node(self, other, y, positive, "add_relu")
    }
}

/// The graph of `relu(a + b)` computed elsewhere: `y` and its mask `positive` = \[y > 0\],
/// recorded as a ReLU node named `op` over an `add` node of a and b. The sum's elements are
/// never written (nothing reads them): the walk masks G in its own buffer, ∂s = G · \[y > 0\],
/// and the `add` node then hands that one buffer to both a and b.
pub(super) fn add_relu_node<T: Real>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    y: Vec<T>,
    positive: Vec<bool>,
    op: &'static str,
) -> Tensor<T> {
    let sum = Tensor::unmaterialized_from_op(
        a.shape(),
        &[a, b],
        ArithBackward {
            kind: Arith::Add,
            out_shape: a.shape().to_vec(),
        },
    );
    Tensor::from_op(
        y,
        a.shape(),
        &[&sum],
        super::unary::ReluBackward { op, positive },
    )
}

struct AddScalarBackward;

impl<T: Real> Backward<T> for AddScalarBackward {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn forwards_gradient(&self, _i: usize) -> bool {
        true
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| g.to_vec())]
    }
}

struct MulScalarBackward<T> {
    c: T,
}

impl<T: Real> Backward<T> for MulScalarBackward<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, g: &[T], _: &[Tensor<T>], needs: &[bool]) -> Vec<Option<Vec<T>>> {
        vec![needs[0].then(|| {
            let mut d = take(g.len(), T::ZERO);
            elementwise::scale(&mut d, self.c, g);
            d
        })]
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident) => {
        impl<T: Real> ops::$trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs)
            }
        }
        impl<T: Real> ops::$trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &rhs)
            }
        }
    };
}

operator!(Add, add);
operator!(Sub, sub);
operator!(Mul, mul);
operator!(Div, div);

impl<T: Real> ops::Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Real> ops::Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}
