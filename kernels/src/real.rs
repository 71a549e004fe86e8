//! The element types the kernels compute in: `f32` for training, `f64` for gradient checks.
//!
//! [`Real`] carries the arithmetic every reference loop needs, plus one hook per fast kernel.
//! The hooks default to the reference loop; `f32` overrides them with the SIMD + rayon
//! versions. `f64` keeps the reference loops except for the matrix product, which goes to
//! matrixmultiply's `dgemm`: it is only used for gradient checks on small tensors, where the
//! plain loop is the one worth reading.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::batch_norm::{BatchNormParams, BatchNormShape};
use crate::conv2d::{Conv2dShape, ConvAlgo};
use crate::gemm::GemmArgs;
use crate::max_pool2d::Pool2dShape;
use crate::optim::AdamStep;

/// A floating-point element type with the operations the kernels need.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + 'static
{
    /// `"f32"` or `"f64"`, for messages and reprs.
    const NAME: &'static str;
    /// Bytes per element.
    const BYTES: usize;
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;

    /// The nearest value of this type.
    fn from_f64(x: f64) -> Self;
    /// The value as f64 (exact).
    fn to_f64(self) -> f64;
    /// eˣ.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// The absolute value.
    fn abs(self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// IEEE maximum that ignores nothing: `max(NaN, x)` is NaN, so a NaN is never hidden.
    fn max_nan(self, other: Self) -> Self {
        if self.is_nan_value() || other > self {
            if self.is_nan_value() {
                self
            } else {
                other
            }
        } else {
            self
        }
    }
    /// Whether the value is NaN.
    fn is_nan_value(self) -> bool;

    /// Raw bits widened to u64: lets tests compare results bit for bit.
    fn to_bits_u64(self) -> u64;

    // ---- fast-kernel hooks: reference loops unless the type overrides them ----

    /// `out = a + b`.
    fn add_fast(out: &mut [Self], a: &[Self], b: &[Self]) {
        crate::elementwise::reference::add(out, a, b)
    }
    /// `out = a * b`.
    fn mul_fast(out: &mut [Self], a: &[Self], b: &[Self]) {
        crate::elementwise::reference::mul(out, a, b)
    }
    /// `y += alpha * x`.
    fn axpy_fast(y: &mut [Self], alpha: Self, x: &[Self]) {
        crate::elementwise::reference::axpy(y, alpha, x)
    }
    /// `out = alpha * x`.
    fn scale_fast(out: &mut [Self], alpha: Self, x: &[Self]) {
        crate::elementwise::reference::scale(out, alpha, x)
    }
    /// `out = max(x, 0)`.
    fn relu_forward_fast(out: &mut [Self], x: &[Self]) {
        crate::elementwise::reference::relu_forward(out, x)
    }
    /// `d_input = d_out * [x > 0]`.
    fn relu_backward_fast(d_input: &mut [Self], d_out: &[Self], x: &[Self]) {
        crate::elementwise::reference::relu_backward(d_input, d_out, x)
    }
    /// `sum(x)`.
    fn sum_fast(x: &[Self]) -> Self {
        crate::reduce::reference::sum(x)
    }
    /// `C = alpha * A B + beta * C`, strided.
    fn gemm_fast(args: GemmArgs<'_, Self>) {
        crate::gemm::reference::gemm(args)
    }
    /// One Adam step.
    fn adam_step_fast(
        w: &mut [Self],
        m: &mut [Self],
        v: &mut [Self],
        g: &[Self],
        h: &AdamStep<Self>,
    ) {
        crate::optim::reference::adam_step(w, m, v, g, h)
    }
    /// The fast kernel behind `conv2d_forward` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn conv2d_forward_fast(
        _algo: ConvAlgo,
        out: &mut [Self],
        x: &[Self],
        w: &[Self],
        b: Option<&[Self]>,
        sh: &Conv2dShape,
    ) {
        crate::conv2d::reference::conv2d_forward(out, x, w, b, sh)
    }
    /// The fast kernel behind `conv2d_forward_relu` (f32 overrides it with the SIMD version;
    /// f64 runs the reference loop, then ReLU).
    #[allow(clippy::too_many_arguments)]
    fn conv2d_forward_relu_fast(
        algo: ConvAlgo,
        out: &mut [Self],
        positive: &mut [bool],
        x: &[Self],
        w: &[Self],
        b: Option<&[Self]>,
        sh: &Conv2dShape,
    ) {
        Self::conv2d_forward_fast(algo, out, x, w, b, sh);
        crate::elementwise::fast::relu_in_place_mask(out, positive);
    }
    /// The fast kernel behind `conv2d_backward_input` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn conv2d_backward_input_fast(
        _algo: ConvAlgo,
        d_x: &mut [Self],
        g: &[Self],
        w: &[Self],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::reference::conv2d_backward_input(d_x, g, w, sh)
    }
    /// The fast kernel behind `conv2d_backward_weight` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn conv2d_backward_weight_fast(
        _algo: ConvAlgo,
        d_w: &mut [Self],
        g: &[Self],
        x: &[Self],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::reference::conv2d_backward_weight(d_w, g, x, sh)
    }
    /// The fast kernel behind `conv2d_backward_bias` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn conv2d_backward_bias_fast(d_b: &mut [Self], g: &[Self], sh: &Conv2dShape) {
        crate::conv2d::reference::conv2d_backward_bias(d_b, g, sh)
    }
    /// The fast kernel behind `conv2d_backward_weight_bias` (f32 overrides it with the one-pass SIMD version; f64 makes the two calls).
    fn conv2d_backward_weight_bias_fast(
        algo: ConvAlgo,
        d_w: &mut [Self],
        d_b: &mut [Self],
        g: &[Self],
        x: &[Self],
        sh: &Conv2dShape,
    ) {
        Self::conv2d_backward_weight_fast(algo, d_w, g, x, sh);
        Self::conv2d_backward_bias_fast(d_b, g, sh);
    }
    /// The fast kernel behind `max_pool2d_forward` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn max_pool2d_forward_fast(out: &mut [Self], argmax: &mut [u32], x: &[Self], sh: &Pool2dShape) {
        crate::max_pool2d::reference::max_pool2d_forward(out, argmax, x, sh)
    }
    /// The fast kernel behind `max_pool2d_backward` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn max_pool2d_backward_fast(d_x: &mut [Self], g: &[Self], argmax: &[u32], sh: &Pool2dShape) {
        crate::max_pool2d::reference::max_pool2d_backward(d_x, g, argmax, sh)
    }
    /// The fast kernel behind `batch_norm_forward_train` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn batch_norm_forward_train_fast(
        out: &mut [Self],
        save_mean: &mut [Self],
        save_invstd: &mut [Self],
        x: &[Self],
        p: BatchNormParams<'_, Self>,
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::reference::batch_norm_forward_train(
            out,
            save_mean,
            save_invstd,
            x,
            p,
            sh,
        )
    }
    /// The fast kernel behind `channel_affine` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn channel_affine_fast(
        out: &mut [Self],
        x: &[Self],
        scale: &[Self],
        shift: &[Self],
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::reference::channel_affine(out, x, scale, shift, sh)
    }
    /// The fast kernel behind `batch_norm_backward_in_place` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward_in_place_fast(
        g_dx: &mut [Self],
        d_w: &mut [Self],
        d_b: &mut [Self],
        x: &[Self],
        w: &[Self],
        mean: &[Self],
        invstd: &[Self],
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::reference::batch_norm_backward_in_place(
            g_dx, d_w, d_b, x, w, mean, invstd, sh,
        )
    }
    /// The fast kernel behind `dropout_apply` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn dropout_apply_fast(out: &mut [Self], x: &[Self], p: f64, key: u64) {
        crate::dropout::reference::dropout_apply(out, x, p, key)
    }
    /// The fast kernel behind `dropout_backward_in_place` (f32 overrides it with the SIMD version; f64 runs the reference loop).
    fn dropout_apply_in_place_fast(xs: &mut [Self], p: f64, key: u64) {
        crate::dropout::reference::dropout_apply_in_place(xs, p, key)
    }
    /// The fused convolution → 2×2 max-pool forward ([`crate::conv2d::fused`]), when this
    /// type and CPU have it: returns false (and writes nothing) otherwise.
    fn conv_pool_fused_forward(
        _pooled: &mut [Self],
        _argmax: &mut [u32],
        _x: &[Self],
        _w: &[Self],
        _b: Option<&[Self]>,
        _sh: &Conv2dShape,
        _input_grad: bool,
    ) -> bool {
        false
    }
    /// The fused training-mode batch norm → max-pool forward
    /// ([`crate::batch_norm::pool`]), when this type has it and batch norm and max pooling
    /// both run their fast kernels: returns false (and touches nothing) otherwise.
    fn bn_pool_fused_forward_train(
        _pooled: &mut [Self],
        _argmax: &mut [u32],
        _save_mean: &mut [Self],
        _save_invstd: &mut [Self],
        _x: &[Self],
        _p: BatchNormParams<'_, Self>,
        _pool: &Pool2dShape,
    ) -> bool {
        false
    }
    /// [`Real::bn_pool_fused_forward_train`] from x's block statistics already taken by
    /// [`Real::conv2d_forward_block_statistics`]
    /// ([`crate::batch_norm::pool::batch_norm_max_pool2d_forward_train_from_blocks`]):
    /// returns false (and touches nothing) where that hook has none.
    #[allow(clippy::too_many_arguments)]
    fn bn_pool_fused_forward_train_from_blocks(
        _pooled: &mut [Self],
        _argmax: &mut [u32],
        _save_mean: &mut [Self],
        _save_invstd: &mut [Self],
        _blocks: &[(Self, Self)],
        _x: &[Self],
        _p: BatchNormParams<'_, Self>,
        _pool: &Pool2dShape,
    ) -> bool {
        false
    }
    /// The convolution forward that also takes batch norm's block statistics of its output
    /// ([`crate::conv2d::fast::conv2d_forward_with_statistics`]), when this type has it and
    /// the convolution and batch norm both run their fast kernels: returns false (and
    /// writes nothing) otherwise.
    fn conv2d_forward_block_statistics(
        _algo: ConvAlgo,
        _out: &mut [Self],
        _blocks: &mut [(Self, Self)],
        _x: &[Self],
        _w: &[Self],
        _b: Option<&[Self]>,
        _sh: &Conv2dShape,
    ) -> bool {
        false
    }
    /// The fused backward; only called after `bn_pool_fused_forward_train` returned true.
    #[allow(clippy::too_many_arguments)]
    fn bn_pool_fused_backward(
        _d_x: &mut [Self],
        _d_w: &mut [Self],
        _d_b: &mut [Self],
        _g: &[Self],
        _argmax: &[u32],
        _x: &[Self],
        _w: &[Self],
        _mean: &[Self],
        _invstd: &[Self],
        _pool: &Pool2dShape,
    ) {
        panic!("bn_pool_fused_backward: no fused kernel for {}", Self::NAME)
    }
    /// The fused training-mode batch norm → ReLU forward ([`crate::batch_norm::relu`]),
    /// when this type has it and batch norm runs its fast kernels: returns false (and
    /// touches nothing) otherwise. `blocks`, if given, are x's block statistics taken by
    /// [`Real::conv2d_forward_block_statistics`] (then x is not read for the statistics).
    fn bn_relu_fused_forward_train(
        _out: &mut [Self],
        _save_mean: &mut [Self],
        _save_invstd: &mut [Self],
        _blocks: Option<&[(Self, Self)]>,
        _x: &[Self],
        _p: BatchNormParams<'_, Self>,
        _sh: &BatchNormShape,
    ) -> bool {
        false
    }
    /// The fused training-mode batch norm → + shortcut → ReLU forward, writing the output
    /// and the ReLU's mask ([`crate::batch_norm::relu`]), when this type has it and batch
    /// norm runs its fast kernels: returns false (and touches nothing) otherwise.
    #[allow(clippy::too_many_arguments)]
    fn bn_add_relu_fused_forward_train(
        _out: &mut [Self],
        _positive: &mut [bool],
        _save_mean: &mut [Self],
        _save_invstd: &mut [Self],
        _blocks: Option<&[(Self, Self)]>,
        _x: &[Self],
        _shortcut: &[Self],
        _p: BatchNormParams<'_, Self>,
        _sh: &BatchNormShape,
    ) -> bool {
        false
    }
    /// The fused backward; only called after `bn_relu_fused_forward_train` returned true.
    #[allow(clippy::too_many_arguments)]
    fn bn_relu_fused_backward(
        _d_x: &mut [Self],
        _d_w: &mut [Self],
        _d_b: &mut [Self],
        _g: &[Self],
        _x: &[Self],
        _w: &[Self],
        _b: &[Self],
        _mean: &[Self],
        _invstd: &[Self],
        _sh: &BatchNormShape,
    ) {
        panic!("bn_relu_fused_backward: no fused kernel for {}", Self::NAME)
    }
    /// The fused backward; only called after `conv_pool_fused_forward` returned true.
    #[allow(clippy::too_many_arguments)]
    fn conv_pool_fused_backward(
        _d_x: Option<&mut [Self]>,
        _d_w: &mut [Self],
        _d_b: &mut [Self],
        _g: &[Self],
        _argmax: &[u32],
        _x: &[Self],
        _w: &[Self],
        _sh: &Conv2dShape,
    ) {
        panic!(
            "conv_pool_fused_backward: no fused kernel for {}",
            Self::NAME
        )
    }
    /// Whether this type runs the seed CNN's whole block, conv → batch norm → ReLU → 2×2
    /// max-pool, as one op whose backward forms batch norm's input gradient where the
    /// convolution's backward reads it ([`crate::conv2d::fused::backward_batch_norm`]):
    /// the convolution, batch norm and max pooling all on their fast kernels, and a fused
    /// convolution backward route for `sh` (∂x only when `input_grad`).
    fn conv_bn_pool_fused_applies(_sh: &Conv2dShape, _input_grad: bool) -> bool {
        false
    }
    /// Batch norm → max-pool's backward phase 1: ∂γ, ∂β and each channel's coefficients of
    /// ∂x ([`crate::batch_norm::pool::batch_norm_max_pool2d_backward_coefficients`]); only
    /// called where `conv_bn_pool_fused_applies` said yes.
    #[allow(clippy::too_many_arguments)]
    fn bn_pool_backward_coefficients(
        _d_w: &mut [Self],
        _d_b: &mut [Self],
        _g: &[Self],
        _argmax: &[u32],
        _x: &[Self],
        _w: &[Self],
        _mean: &[Self],
        _invstd: &[Self],
        _pool: &Pool2dShape,
    ) -> Vec<[Self; 3]> {
        panic!(
            "bn_pool_backward_coefficients: no fused kernel for {}",
            Self::NAME
        )
    }
    /// The block's convolution gradients from the pooled gradient, batch norm's
    /// coefficients and the convolution's output `y`
    /// ([`crate::conv2d::fused::backward_batch_norm`]); only called where
    /// `conv_bn_pool_fused_applies` said yes.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn_pool_fused_backward(
        _d_x: Option<&mut [Self]>,
        _d_w: &mut [Self],
        _d_b: &mut [Self],
        _g: &[Self],
        _argmax: &[u32],
        _y: &[Self],
        _coef: &[[Self; 3]],
        _x: &[Self],
        _w: &[Self],
        _sh: &Conv2dShape,
    ) {
        panic!(
            "conv_bn_pool_fused_backward: no fused kernel for {}",
            Self::NAME
        )
    }
}

macro_rules! real_common {
    ($t:ty, $name:literal) => {
        const NAME: &'static str = $name;
        const BYTES: usize = std::mem::size_of::<$t>();
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x as $t
        }
        #[inline(always)]
        fn to_f64(self) -> f64 {
            self as f64
        }
        #[inline(always)]
        fn exp(self) -> Self {
            <$t>::exp(self)
        }
        #[inline(always)]
        fn ln(self) -> Self {
            <$t>::ln(self)
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            <$t>::sqrt(self)
        }
        #[inline(always)]
        fn abs(self) -> Self {
            <$t>::abs(self)
        }
        #[inline(always)]
        fn is_finite(self) -> bool {
            <$t>::is_finite(self)
        }
        #[inline(always)]
        fn is_nan_value(self) -> bool {
            <$t>::is_nan(self)
        }
        #[inline(always)]
        fn to_bits_u64(self) -> u64 {
            self.to_bits() as u64
        }
    };
}

impl Real for f32 {
    real_common!(f32, "f32");

    fn add_fast(out: &mut [f32], a: &[f32], b: &[f32]) {
        crate::elementwise::fast::add(out, a, b)
    }
    fn mul_fast(out: &mut [f32], a: &[f32], b: &[f32]) {
        crate::elementwise::fast::mul(out, a, b)
    }
    fn axpy_fast(y: &mut [f32], alpha: f32, x: &[f32]) {
        crate::elementwise::fast::axpy(y, alpha, x)
    }
    fn scale_fast(out: &mut [f32], alpha: f32, x: &[f32]) {
        crate::elementwise::fast::scale(out, alpha, x)
    }
    fn relu_forward_fast(out: &mut [f32], x: &[f32]) {
        crate::elementwise::fast::relu_forward(out, x)
    }
    fn relu_backward_fast(d_input: &mut [f32], d_out: &[f32], x: &[f32]) {
        crate::elementwise::fast::relu_backward(d_input, d_out, x)
    }
    fn sum_fast(x: &[f32]) -> f32 {
        crate::reduce::fast::sum(x)
    }
    fn gemm_fast(args: GemmArgs<'_, f32>) {
        crate::gemm::fast::sgemm(args)
    }
    fn adam_step_fast(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: &AdamStep<f32>) {
        crate::optim::fast::adam_step(w, m, v, g, h)
    }
    fn conv2d_forward_fast(
        algo: ConvAlgo,
        out: &mut [f32],
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fast::conv2d_forward_with(algo, out, x, w, b, sh)
    }
    fn conv2d_forward_relu_fast(
        algo: ConvAlgo,
        out: &mut [f32],
        positive: &mut [bool],
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fast::conv2d_forward_relu_with(algo, out, positive, x, w, b, sh)
    }
    fn conv2d_backward_input_fast(
        algo: ConvAlgo,
        d_x: &mut [f32],
        g: &[f32],
        w: &[f32],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fast::conv2d_backward_input_with(algo, d_x, g, w, sh)
    }
    fn conv2d_backward_weight_fast(
        algo: ConvAlgo,
        d_w: &mut [f32],
        g: &[f32],
        x: &[f32],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fast::conv2d_backward_weight_with(algo, d_w, g, x, sh)
    }
    fn conv2d_backward_bias_fast(d_b: &mut [f32], g: &[f32], sh: &Conv2dShape) {
        crate::conv2d::fast::conv2d_backward_bias(d_b, g, sh)
    }
    fn conv2d_backward_weight_bias_fast(
        algo: ConvAlgo,
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        x: &[f32],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fast::conv2d_backward_weight_bias_with(algo, d_w, d_b, g, x, sh)
    }
    fn max_pool2d_forward_fast(out: &mut [f32], argmax: &mut [u32], x: &[f32], sh: &Pool2dShape) {
        crate::max_pool2d::fast::max_pool2d_forward(out, argmax, x, sh)
    }
    fn max_pool2d_backward_fast(d_x: &mut [f32], g: &[f32], argmax: &[u32], sh: &Pool2dShape) {
        crate::max_pool2d::fast::max_pool2d_backward(d_x, g, argmax, sh)
    }
    fn batch_norm_forward_train_fast(
        out: &mut [f32],
        save_mean: &mut [f32],
        save_invstd: &mut [f32],
        x: &[f32],
        p: BatchNormParams<'_, f32>,
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::fast::batch_norm_forward_train(out, save_mean, save_invstd, x, p, sh)
    }
    fn channel_affine_fast(
        out: &mut [f32],
        x: &[f32],
        scale: &[f32],
        shift: &[f32],
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::fast::channel_affine(out, x, scale, shift, sh)
    }
    fn batch_norm_backward_in_place_fast(
        g_dx: &mut [f32],
        d_w: &mut [f32],
        d_b: &mut [f32],
        x: &[f32],
        w: &[f32],
        mean: &[f32],
        invstd: &[f32],
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::fast::batch_norm_backward_in_place(
            g_dx, d_w, d_b, x, w, mean, invstd, sh,
        )
    }
    fn dropout_apply_fast(out: &mut [f32], x: &[f32], p: f64, key: u64) {
        crate::dropout::fast::dropout_apply(out, x, p, key)
    }
    fn dropout_apply_in_place_fast(xs: &mut [f32], p: f64, key: u64) {
        crate::dropout::fast::dropout_apply_in_place(xs, p, key)
    }
    fn bn_pool_fused_forward_train(
        pooled: &mut [f32],
        argmax: &mut [u32],
        save_mean: &mut [f32],
        save_invstd: &mut [f32],
        x: &[f32],
        p: BatchNormParams<'_, f32>,
        pool: &Pool2dShape,
    ) -> bool {
        use crate::{op_mode, KernelOp, Mode};
        if op_mode(KernelOp::BatchNorm) != Mode::Fast || op_mode(KernelOp::MaxPool2d) != Mode::Fast
        {
            return false;
        }
        crate::batch_norm::pool::batch_norm_max_pool2d_forward_train(
            pooled,
            argmax,
            save_mean,
            save_invstd,
            x,
            p,
            pool,
        );
        true
    }
    fn bn_pool_fused_forward_train_from_blocks(
        pooled: &mut [f32],
        argmax: &mut [u32],
        save_mean: &mut [f32],
        save_invstd: &mut [f32],
        blocks: &[(f32, f32)],
        x: &[f32],
        p: BatchNormParams<'_, f32>,
        pool: &Pool2dShape,
    ) -> bool {
        use crate::{op_mode, KernelOp, Mode};
        if op_mode(KernelOp::BatchNorm) != Mode::Fast || op_mode(KernelOp::MaxPool2d) != Mode::Fast
        {
            return false;
        }
        crate::batch_norm::pool::batch_norm_max_pool2d_forward_train_from_blocks(
            pooled,
            argmax,
            save_mean,
            save_invstd,
            blocks,
            x,
            p,
            pool,
        );
        true
    }
    fn conv2d_forward_block_statistics(
        algo: ConvAlgo,
        out: &mut [f32],
        blocks: &mut [(f32, f32)],
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        sh: &Conv2dShape,
    ) -> bool {
        use crate::{op_mode, KernelOp, Mode};
        let algo = algo.resolved();
        if algo.is_reference()
            || op_mode(KernelOp::Conv2d) != Mode::Fast
            || op_mode(KernelOp::BatchNorm) != Mode::Fast
        {
            return false;
        }
        crate::conv2d::check_forward("conv2d_forward_with_statistics", out, x, w, b, sh);
        crate::conv2d::fast::conv2d_forward_with_statistics(algo, out, blocks, x, w, b, sh);
        true
    }
    fn bn_pool_fused_backward(
        d_x: &mut [f32],
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        argmax: &[u32],
        x: &[f32],
        w: &[f32],
        mean: &[f32],
        invstd: &[f32],
        pool: &Pool2dShape,
    ) {
        crate::batch_norm::pool::batch_norm_max_pool2d_backward(
            d_x, d_w, d_b, g, argmax, x, w, mean, invstd, pool,
        )
    }
    fn bn_relu_fused_forward_train(
        out: &mut [f32],
        save_mean: &mut [f32],
        save_invstd: &mut [f32],
        blocks: Option<&[(f32, f32)]>,
        x: &[f32],
        p: BatchNormParams<'_, f32>,
        sh: &BatchNormShape,
    ) -> bool {
        use crate::batch_norm::relu;
        use crate::{op_mode, KernelOp, Mode};
        if op_mode(KernelOp::BatchNorm) != Mode::Fast {
            return false;
        }
        let (mean, invstd) = (save_mean, save_invstd);
        match blocks {
            Some(b) => {
                relu::batch_norm_relu_forward_train_from_blocks(out, mean, invstd, b, x, p, sh)
            }
            None => relu::batch_norm_relu_forward_train(out, mean, invstd, x, p, sh),
        }
        true
    }
    fn bn_add_relu_fused_forward_train(
        out: &mut [f32],
        positive: &mut [bool],
        save_mean: &mut [f32],
        save_invstd: &mut [f32],
        blocks: Option<&[(f32, f32)]>,
        x: &[f32],
        shortcut: &[f32],
        p: BatchNormParams<'_, f32>,
        sh: &BatchNormShape,
    ) -> bool {
        use crate::batch_norm::relu;
        use crate::{op_mode, KernelOp, Mode};
        if op_mode(KernelOp::BatchNorm) != Mode::Fast {
            return false;
        }
        let (mean, invstd, s) = (save_mean, save_invstd, shortcut);
        match blocks {
            Some(b) => relu::batch_norm_add_relu_forward_train_from_blocks(
                out, positive, mean, invstd, b, x, s, p, sh,
            ),
            None => {
                relu::batch_norm_add_relu_forward_train(out, positive, mean, invstd, x, s, p, sh)
            }
        }
        true
    }
    fn bn_relu_fused_backward(
        d_x: &mut [f32],
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        x: &[f32],
        w: &[f32],
        b: &[f32],
        mean: &[f32],
        invstd: &[f32],
        sh: &BatchNormShape,
    ) {
        crate::batch_norm::relu::batch_norm_relu_backward(
            d_x, d_w, d_b, g, x, w, b, mean, invstd, sh,
        )
    }
    fn conv_pool_fused_forward(
        pooled: &mut [f32],
        argmax: &mut [u32],
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        sh: &Conv2dShape,
        input_grad: bool,
    ) -> bool {
        use crate::{op_mode, KernelOp, Mode};
        if op_mode(KernelOp::Conv2d) != Mode::Fast
            || op_mode(KernelOp::MaxPool2d) != Mode::Fast
            || !crate::conv2d::fused::applies(sh, input_grad)
        {
            return false;
        }
        crate::conv2d::fused::forward(pooled, argmax, x, w, b, sh);
        true
    }
    fn conv_pool_fused_backward(
        d_x: Option<&mut [f32]>,
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        argmax: &[u32],
        x: &[f32],
        w: &[f32],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fused::backward(d_x, d_w, d_b, g, argmax, x, w, sh)
    }
    fn conv_bn_pool_fused_applies(sh: &Conv2dShape, input_grad: bool) -> bool {
        use crate::{op_mode, KernelOp, Mode};
        [KernelOp::Conv2d, KernelOp::BatchNorm, KernelOp::MaxPool2d]
            .into_iter()
            .all(|op| op_mode(op) == Mode::Fast)
            && crate::conv2d::fused::applies(sh, input_grad)
    }
    fn bn_pool_backward_coefficients(
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        argmax: &[u32],
        x: &[f32],
        w: &[f32],
        mean: &[f32],
        invstd: &[f32],
        pool: &Pool2dShape,
    ) -> Vec<[f32; 3]> {
        crate::batch_norm::pool::batch_norm_max_pool2d_backward_coefficients(
            d_w, d_b, g, argmax, x, w, mean, invstd, pool,
        )
    }
    fn conv_bn_pool_fused_backward(
        d_x: Option<&mut [f32]>,
        d_w: &mut [f32],
        d_b: &mut [f32],
        g: &[f32],
        argmax: &[u32],
        y: &[f32],
        coef: &[[f32; 3]],
        x: &[f32],
        w: &[f32],
        sh: &Conv2dShape,
    ) {
        crate::conv2d::fused::backward_batch_norm(d_x, d_w, d_b, g, argmax, y, coef, x, w, sh)
    }
}

impl Real for f64 {
    real_common!(f64, "f64");

    fn gemm_fast(args: GemmArgs<'_, f64>) {
        crate::gemm::fast::dgemm(args)
    }
}
