//! 2-D convolution (cross-correlation, as PyTorch's `F.conv2d`), NCHW.
//!
//! Shapes: input x \[N, C, H, W\], weight w \[K, C, R, S\], bias b \[K\], output y \[N, K, P, Q\]
//! with P = ⌊(H + 2·pad_h − dil_h·(R − 1) − 1) / stride_h⌋ + 1 and Q likewise from W.
//!
//! Forward:
//!   y\[n,k,p,q\] = b\[k\] + Σ_{c,r,s} x\[n, c, p·sh − ph + r·dh, q·sw − pw + s·dw\] · w\[k,c,r,s\]
//! where an input index outside the image reads 0 (zero padding).
//! Backward, with G = ∂L/∂y, each from the same index map:
//!   ∂x\[n,c,i,j\] = Σ_{k,r,s,p,q : i = p·sh − ph + r·dh, j = q·sw − pw + s·dw} G\[n,k,p,q\] · w\[k,c,r,s\]
//!   ∂w\[k,c,r,s\] = Σ_{n,p,q} G\[n,k,p,q\] · x\[n, c, p·sh − ph + r·dh, q·sw − pw + s·dw\]
//!   ∂b\[k\]       = Σ_{n,p,q} G\[n,k,p,q\]
//!
//! The reference loops are these sums written out. The fast path lowers each image to a
//! matrix product with `im2col` (see `im2col.rs`) and runs matrixmultiply's packed SIMD
//! kernels, one image per rayon task.

#[cfg(target_arch = "x86_64")]
pub mod direct;
pub mod fast;
pub mod fused;
pub mod im2col;
pub mod planes;
pub mod reference;
pub mod winograd;

use crate::{op_mode, KernelOp, Mode, Real};

/// How a convolution is computed. [`ConvAlgo::Auto`] is the default everywhere; the others
/// are for benchmarks and tests that compare the paths (PyTorch's
/// `torch.backends.cudnn` choices, on a CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConvAlgo {
    /// The best fast path for the shape and pass, as measured: the direct AVX-512
    /// kernels for the stride-1 passes where they beat the phase planes (on a CPU with
    /// AVX-512), else the phase-plane direct kernels ([`planes`], any stride, at the CPU's
    /// vector width: AVX-512, AVX2 or NEON) for every kernel size but 1×1 (and strided
    /// 1×1 at AVX-512's width), else im2col + gemm.
    #[default]
    Auto,
    /// The AVX-512 direct kernels wherever they apply, else as `Auto`.
    Direct,
    /// Always im2col + matrixmultiply's gemm.
    Im2col,
    /// Winograd F(2×2, 3×3) for 3×3 stride-1 layers (see `winograd`), the direct kernels
    /// elsewhere.
    Winograd,
    /// The reference loops, whatever the kernel mode.
    Reference,
}

impl ConvAlgo {
    /// The name used on the command line: `auto`, `direct`, `im2col`, `winograd`,
    /// `reference`.
    pub fn name(self) -> &'static str {
        match self {
            ConvAlgo::Auto => "auto",
            ConvAlgo::Direct => "direct",
            ConvAlgo::Im2col => "im2col",
            ConvAlgo::Winograd => "winograd",
            ConvAlgo::Reference => "reference",
        }
    }

    /// Parses [`ConvAlgo::name`].
    pub fn parse(s: &str) -> Option<ConvAlgo> {
        [
            ConvAlgo::Auto,
            ConvAlgo::Direct,
            ConvAlgo::Im2col,
            ConvAlgo::Winograd,
            ConvAlgo::Reference,
        ]
        .into_iter()
        .find(|a| a.name() == s)
    }

    /// `Auto` replaced by the process-wide choice of [`set_default_algo`].
    pub(crate) fn resolved(self) -> ConvAlgo {
        match self {
            ConvAlgo::Auto => default_algo(),
            a => a,
        }
    }

    /// Whether this call runs the reference loops: asked for, or the kernel mode says so.
    pub(crate) fn is_reference(self) -> bool {
        self == ConvAlgo::Reference || op_mode(KernelOp::Conv2d) == Mode::Reference
    }
}

static DEFAULT_ALGO: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// What `ConvAlgo::Auto` means for every convolution of the process from now on
/// (`stitch --conv-algo`): `Auto` itself (the measured choice per shape, the default), or
/// one algorithm for all.
pub fn set_default_algo(algo: ConvAlgo) {
    let v = match algo {
        ConvAlgo::Auto => 0,
        ConvAlgo::Direct => 1,
        ConvAlgo::Im2col => 2,
        ConvAlgo::Winograd => 3,
        ConvAlgo::Reference => 4,
    };
    DEFAULT_ALGO.store(v, std::sync::atomic::Ordering::Relaxed);
}

/// The choice [`set_default_algo`] made.
pub fn default_algo() -> ConvAlgo {
    match DEFAULT_ALGO.load(std::sync::atomic::Ordering::Relaxed) {
        1 => ConvAlgo::Direct,
        2 => ConvAlgo::Im2col,
        3 => ConvAlgo::Winograd,
        4 => ConvAlgo::Reference,
        _ => ConvAlgo::Auto,
    }
}

/// Every size of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub k: usize,
    /// Kernel height.
    pub r: usize,
    /// Kernel width.
    pub s: usize,
    /// [height, width] step between windows.
    pub stride: [usize; 2],
    /// [height, width] zeros added on each side.
    pub padding: [usize; 2],
    /// [height, width] spacing between kernel taps.
    pub dilation: [usize; 2],
}

impl Conv2dShape {
    /// A square-kernel convolution with the same stride, padding and dilation both ways.
    #[allow(clippy::too_many_arguments)]
    pub fn square(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        k: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> Self {
        Conv2dShape {
            n,
            c,
            h,
            w,
            k,
            r: kernel,
            s: kernel,
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [dilation; 2],
        }
    }

    /// Checks that the convolution is well defined: non-zero kernel, stride and dilation,
    /// and a dilated kernel no larger than the padded input.
    pub fn validate(&self) -> Result<(), String> {
        if self.r == 0 || self.s == 0 {
            return Err(format!(
                "conv2d: kernel {}x{} must be at least 1x1",
                self.r, self.s
            ));
        }
        if self.stride.contains(&0) {
            return Err(format!(
                "conv2d: stride {:?} must be at least 1",
                self.stride
            ));
        }
        if self.dilation.contains(&0) {
            return Err(format!(
                "conv2d: dilation {:?} must be at least 1",
                self.dilation
            ));
        }
        let eff = [
            self.dilation[0] * (self.r - 1) + 1,
            self.dilation[1] * (self.s - 1) + 1,
        ];
        let padded = [self.h + 2 * self.padding[0], self.w + 2 * self.padding[1]];
        if eff[0] > padded[0] || eff[1] > padded[1] {
            return Err(format!(
                "conv2d: the kernel {}x{} (dilated to {}x{}) is larger than the padded input {}x{} (input {}x{}, padding {:?})",
                self.r, self.s, eff[0], eff[1], padded[0], padded[1], self.h, self.w, self.padding
            ));
        }
        Ok(())
    }

    /// Output height P.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.padding[0] - self.dilation[0] * (self.r - 1) - 1) / self.stride[0] + 1
    }

    /// Output width Q.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.padding[1] - self.dilation[1] * (self.s - 1) - 1) / self.stride[1] + 1
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    /// Elements of the weight: K · C · R · S.
    pub fn weight_len(&self) -> usize {
        self.k * self.c * self.r * self.s
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.n * self.k * self.out_h() * self.out_w()
    }

    /// Multiply-adds of the forward pass (each backward product has as many).
    pub fn macs(&self) -> usize {
        self.output_len() * self.c * self.r * self.s
    }
}

#[track_caller]
fn check(kernel: &str, what: &str, got: usize, want: usize, sh: &Conv2dShape) {
    assert!(
        got == want,
        "{kernel}: {what} has {got} elements, expected {want} for {sh:?}"
    );
}

#[track_caller]
fn checked(kernel: &str, sh: &Conv2dShape) {
    if let Err(e) = sh.validate() {
        panic!("{e} ({kernel})");
    }
}

/// The shape and the three lengths of a weight-gradient call.
#[track_caller]
fn check_weight_grad(kernel: &str, d_weight: usize, d_out: usize, input: usize, sh: &Conv2dShape) {
    checked(kernel, sh);
    check(kernel, "d_weight", d_weight, sh.weight_len(), sh);
    check(kernel, "d_out", d_out, sh.output_len(), sh);
    check(kernel, "input", input, sh.input_len(), sh);
}

/// y = conv2d(x, w) + b.
#[track_caller]
pub fn conv2d_forward<T: Real>(
    out: &mut [T],
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    sh: &Conv2dShape,
) {
    conv2d_forward_algo(ConvAlgo::Auto, out, input, weight, bias, sh)
}

/// The shape and every buffer length of a forward convolution, checked for `kernel`.
#[track_caller]
pub(crate) fn check_forward<T>(
    kernel: &str,
    out: &[T],
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    sh: &Conv2dShape,
) {
    checked(kernel, sh);
    check(kernel, "out", out.len(), sh.output_len(), sh);
    check(kernel, "input", input.len(), sh.input_len(), sh);
    check(kernel, "weight", weight.len(), sh.weight_len(), sh);
    if let Some(b) = bias {
        check(kernel, "bias", b.len(), sh.k, sh);
    }
}

/// [`conv2d_forward`] computed the way `algo` says.
#[track_caller]
pub fn conv2d_forward_algo<T: Real>(
    algo: ConvAlgo,
    out: &mut [T],
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    sh: &Conv2dShape,
) {
    check_forward("conv2d_forward", out, input, weight, bias, sh);
    let algo = algo.resolved();
    if algo.is_reference() {
        reference::conv2d_forward(out, input, weight, bias, sh)
    } else {
        T::conv2d_forward_fast(algo, out, input, weight, bias, sh)
    }
}

/// ReLU of [`conv2d_forward_algo`] with ReLU's mask: `out` = max(conv2d(x, w) + b, 0),
/// `positive` = \[out > 0\]; the same bits as the convolution followed by ReLU. The fast
/// routes but im2col rectify each image's output while it is in cache.
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward_relu_algo<T: Real>(
    algo: ConvAlgo,
    out: &mut [T],
    positive: &mut [bool],
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    sh: &Conv2dShape,
) {
    check_forward("conv2d_forward_relu", out, input, weight, bias, sh);
    assert!(
        positive.len() == out.len(),
        "conv2d_forward_relu: mask of {} for an output of {}",
        positive.len(),
        out.len()
    );
    let algo = algo.resolved();
    if algo.is_reference() {
        reference::conv2d_forward(out, input, weight, bias, sh);
        crate::elementwise::reference::relu_in_place_mask(out, positive);
    } else {
        T::conv2d_forward_relu_fast(algo, out, positive, input, weight, bias, sh)
    }
}

/// ∂L/∂x from ∂L/∂y (overwrites `d_input`).
#[track_caller]
pub fn conv2d_backward_input<T: Real>(
    d_input: &mut [T],
    d_out: &[T],
    weight: &[T],
    sh: &Conv2dShape,
) {
    conv2d_backward_input_algo(ConvAlgo::Auto, d_input, d_out, weight, sh)
}

/// [`conv2d_backward_input`] computed the way `algo` says.
#[track_caller]
pub fn conv2d_backward_input_algo<T: Real>(
    algo: ConvAlgo,
    d_input: &mut [T],
    d_out: &[T],
    weight: &[T],
    sh: &Conv2dShape,
) {
    checked("conv2d_backward_input", sh);
    check(
        "conv2d_backward_input",
        "d_input",
        d_input.len(),
        sh.input_len(),
        sh,
    );
    check(
        "conv2d_backward_input",
        "d_out",
        d_out.len(),
        sh.output_len(),
        sh,
    );
    check(
        "conv2d_backward_input",
        "weight",
        weight.len(),
        sh.weight_len(),
        sh,
    );
    let algo = algo.resolved();
    if algo.is_reference() {
        reference::conv2d_backward_input(d_input, d_out, weight, sh)
    } else {
        T::conv2d_backward_input_fast(algo, d_input, d_out, weight, sh)
    }
}

/// ∂L/∂w from ∂L/∂y (overwrites `d_weight`). The sum over the batch is taken in a fixed
/// order, so the result does not depend on the thread count.
#[track_caller]
pub fn conv2d_backward_weight<T: Real>(
    d_weight: &mut [T],
    d_out: &[T],
    input: &[T],
    sh: &Conv2dShape,
) {
    conv2d_backward_weight_algo(ConvAlgo::Auto, d_weight, d_out, input, sh)
}

/// [`conv2d_backward_weight`] computed the way `algo` says.
#[track_caller]
pub fn conv2d_backward_weight_algo<T: Real>(
    algo: ConvAlgo,
    d_weight: &mut [T],
    d_out: &[T],
    input: &[T],
    sh: &Conv2dShape,
) {
    check_weight_grad(
        "conv2d_backward_weight",
        d_weight.len(),
        d_out.len(),
        input.len(),
        sh,
    );
    let algo = algo.resolved();
    if algo.is_reference() {
        reference::conv2d_backward_weight(d_weight, d_out, input, sh)
    } else {
        T::conv2d_backward_weight_fast(algo, d_weight, d_out, input, sh)
    }
}

/// ∂L/∂w and ∂L/∂b from ∂L/∂y together (overwrites both): the same bits as
/// [`conv2d_backward_weight_algo`] and [`conv2d_backward_bias`], with ∂L/∂y read from
/// memory once where the kernel allows it (the phase planes).
#[track_caller]
pub fn conv2d_backward_weight_bias_algo<T: Real>(
    algo: ConvAlgo,
    d_weight: &mut [T],
    d_bias: &mut [T],
    d_out: &[T],
    input: &[T],
    sh: &Conv2dShape,
) {
    let name = "conv2d_backward_weight_bias";
    check_weight_grad(name, d_weight.len(), d_out.len(), input.len(), sh);
    check(name, "d_bias", d_bias.len(), sh.k, sh);
    let algo = algo.resolved();
    if algo.is_reference() {
        reference::conv2d_backward_weight(d_weight, d_out, input, sh);
        conv2d_backward_bias(d_bias, d_out, sh);
    } else {
        T::conv2d_backward_weight_bias_fast(algo, d_weight, d_bias, d_out, input, sh)
    }
}

/// ∂L/∂b from ∂L/∂y (overwrites `d_bias`).
#[track_caller]
pub fn conv2d_backward_bias<T: Real>(d_bias: &mut [T], d_out: &[T], sh: &Conv2dShape) {
    checked("conv2d_backward_bias", sh);
    check("conv2d_backward_bias", "d_bias", d_bias.len(), sh.k, sh);
    check(
        "conv2d_backward_bias",
        "d_out",
        d_out.len(),
        sh.output_len(),
        sh,
    );
    match op_mode(KernelOp::Conv2d) {
        Mode::Reference => reference::conv2d_backward_bias(d_bias, d_out, sh),
        Mode::Fast => T::conv2d_backward_bias_fast(d_bias, d_out, sh),
    }
}
