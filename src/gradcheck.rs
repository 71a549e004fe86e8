//! Gradient checking: analytic gradients from `backward` against central finite
//! differences.
//!
//! For each input x and each element xᵢ:
//!   numeric_i = (f(x + ε eᵢ) − f(x − ε eᵢ)) / 2ε
//! and the analytic gradient passes where |analyticᵢ − numericᵢ| ≤ atol + rtol · |numericᵢ|
//! (`torch.autograd.gradcheck`'s criterion and defaults: ε = 1e-6, atol = 1e-5, rtol = 1e-3).
//!
//! ## Why f64
//! The central difference has a truncation error of order ε² f‴ and a rounding error of
//! order u · |f| / ε, where u is the unit roundoff. In f64 (u ≈ 1.1e-16) with ε = 1e-6 both
//! are around 1e-10, far below the tolerance, so a failure means a wrong gradient. In f32
//! (u ≈ 6e-8) the best ε is about 1e-2 to 1e-3 and the error floor is then about 1e-3
//! relative: an f32 check needs ε ≈ 1e-3 and atol, rtol ≈ 1e-2, which lets small bugs
//! through. So stitch checks every op in f64; its reference kernels are generic for this.
//!
//! The function must be deterministic (same inputs, same output): give dropout a fixed
//! mask and batch norm fixed statistics, or they will fail for the wrong reason.

use std::fmt;

use crate::autograd::with_no_grad;
use crate::nn::Module;
use crate::Tensor;

/// Step and tolerances of a check.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// The finite-difference step ε: each element is moved by ±ε.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    /// PyTorch's defaults: eps 1e-6, atol 1e-5, rtol 1e-3.
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The comparison for one input.
#[derive(Clone, Debug)]
pub struct InputReport {
    /// What was checked: `input <k>` for [`gradcheck`], `input` or a parameter's dotted
    /// name for [`gradcheck_module`].
    pub name: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// max |analytic − numeric| over the elements.
    pub max_abs_err: f64,
    /// max |analytic − numeric| / max(|numeric|, 1e-12).
    pub max_rel_err: f64,
    /// Flat index of the element that most exceeds (or comes closest to) the tolerance.
    pub worst_index: usize,
    /// The analytic gradient at the worst element.
    pub worst_analytic: f64,
    /// The finite-difference gradient at the worst element.
    pub worst_numeric: f64,
    /// Every element within atol + rtol · |numeric|.
    pub passed: bool,
}

/// The comparison for every input.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// The options used.
    pub options: GradcheckOptions,
    /// One report per checked tensor, in order.
    pub inputs: Vec<InputReport>,
}

impl GradcheckReport {
    /// Whether every input's error is within the tolerances.
    pub fn passed(&self) -> bool {
        self.inputs.iter().all(|r| r.passed)
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.options;
        writeln!(
            f,
            "gradcheck (eps {:e}, atol {:e}, rtol {:e}):",
            o.eps, o.atol, o.rtol
        )?;
        for r in &self.inputs {
            writeln!(
                f,
                "  {} {:?}: {}  max abs err {:.3e}, max rel err {:.3e}, worst at [{}]: analytic {:.9e} vs numeric {:.9e}",
                r.name,
                r.shape,
                if r.passed { "ok  " } else { "FAIL" },
                r.max_abs_err,
                r.max_rel_err,
                r.worst_index,
                r.worst_analytic,
                r.worst_numeric
            )?;
        }
        Ok(())
    }
}

/// Checks the gradients of the scalar `f(inputs)` with respect to every input.
///
/// The inputs are copied into fresh leaves that require grad; `f` is run once with a graph
/// for the analytic gradients, then twice per element under `no_grad` for the numeric ones.
/// Panics if `f` does not return a one-element tensor.
pub fn gradcheck<F>(f: F, inputs: &[Tensor<f64>], options: GradcheckOptions) -> GradcheckReport
where
    F: Fn(&[Tensor<f64>]) -> Tensor<f64>,
{
    let leaves: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|x| Tensor::from_vec(x.to_vec(), x.shape()).requires_grad_())
        .collect();
    let out = f(&leaves);
    assert!(
        out.numel() == 1,
        "gradcheck: f must return a scalar, got shape {:?}",
        out.shape()
    );
    if out.requires_grad() {
        out.backward();
    }
    let analytic: Vec<Vec<f64>> = leaves
        .iter()
        .map(|l| {
            l.grad()
                .map(|g| g.to_vec())
                .unwrap_or_else(|| vec![0.0; l.numel()])
        })
        .collect();

    let eval = |k: usize, i: usize, v: f64| -> f64 {
        with_no_grad(|| {
            let xs: Vec<Tensor<f64>> = inputs
                .iter()
                .map(|x| Tensor::from_vec(x.to_vec(), x.shape()))
                .collect();
            xs[k].data_mut()[i] = v;
            f(&xs).item()
        })
    };

    let reports = inputs
        .iter()
        .enumerate()
        .map(|(k, x)| {
            compare(
                format!("input {k}"),
                x.shape(),
                &x.to_vec(),
                &analytic[k],
                options,
                |i, v| eval(k, i, v),
            )
        })
        .collect();
    GradcheckReport {
        options,
        inputs: reports,
    }
}

/// Central differences of `f` (element `i` set to `v`) for every element of `x0`, against
/// `analytic`.
fn compare(
    name: String,
    shape: &[usize],
    x0: &[f64],
    analytic: &[f64],
    options: GradcheckOptions,
    mut f: impl FnMut(usize, f64) -> f64,
) -> InputReport {
    let mut r = InputReport {
        name,
        shape: shape.to_vec(),
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        worst_index: 0,
        worst_analytic: 0.0,
        worst_numeric: 0.0,
        passed: true,
    };
    let mut worst_excess = f64::NEG_INFINITY;
    for i in 0..x0.len() {
        let numeric = (f(i, x0[i] + options.eps) - f(i, x0[i] - options.eps)) / (2.0 * options.eps);
        let a = analytic[i];
        let abs = (a - numeric).abs();
        let rel = abs / numeric.abs().max(1e-12);
        let excess = abs - (options.atol + options.rtol * numeric.abs());
        r.max_abs_err = r.max_abs_err.max(abs);
        r.max_rel_err = r.max_rel_err.max(rel);
        if excess > 0.0 || excess.is_nan() {
            r.passed = false; // also catches NaN
        }
        if excess > worst_excess || excess.is_nan() {
            worst_excess = if excess.is_nan() {
                f64::INFINITY
            } else {
                excess
            };
            r.worst_index = i;
            r.worst_analytic = a;
            r.worst_numeric = numeric;
        }
    }
    r
}

/// Checks a module's gradients with respect to its input and every one of its parameters,
/// in one call: the module is run on `input` through a fixed random head, L = Σ y ⊙ r with
/// r uniform in [−1, 1) from a fixed seed (so the check cannot pass because the upstream
/// gradient is all ones), and each element of the input and of each parameter is moved by
/// ±ε in turn. Build the module in f64 (its layers are generic over the element type).
///
/// The module's random counters are put back before every evaluation, so dropout draws the
/// same masks each time; batch norm in training mode normalizes with the batch's own
/// statistics, which the check differentiates through. Its running statistics and random
/// counters are restored at the end, and the parameters keep their values; their `.grad()`
/// is left holding the analytic gradient.
pub fn gradcheck_module(
    module: &dyn Module<f64>,
    input: &Tensor<f64>,
    options: GradcheckOptions,
) -> GradcheckReport {
    use rand::SeedableRng;
    let random = module.random_state();
    let buffers: Vec<Vec<f64>> = module
        .named_buffers()
        .iter()
        .map(|(_, t)| t.to_vec())
        .collect();
    let counters = module.named_counters();
    let params = module.named_parameters();
    let head = {
        let _g = crate::no_grad();
        module.set_random_state(&random);
        let shape = module.forward(input).shape().to_vec();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6772_6164);
        Tensor::<f64>::rand_uniform(&shape, -1.0, 1.0, &mut rng)
    };
    let loss = |x: &Tensor<f64>| -> Tensor<f64> {
        module.set_random_state(&random);
        module.forward(x).mul(&head).sum()
    };

    module.zero_grad();
    let x = Tensor::from_vec(input.to_vec(), input.shape()).requires_grad_();
    let out = loss(&x);
    if out.requires_grad() {
        out.backward();
    }
    let grad_of = |t: &Tensor<f64>| {
        t.grad()
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; t.numel()])
    };
    let mut reports = Vec::with_capacity(params.len() + 1);
    let x0 = input.to_vec();
    reports.push(compare(
        "input".into(),
        input.shape(),
        &x0,
        &grad_of(&x),
        options,
        |i, v| {
            let mut xs = x0.clone();
            xs[i] = v;
            with_no_grad(|| loss(&Tensor::from_vec(xs, input.shape())).item())
        },
    ));
    for (name, p) in &params {
        let p0 = p.to_vec();
        let analytic = grad_of(p);
        reports.push(compare(
            name.clone(),
            p.shape(),
            &p0,
            &analytic,
            options,
            |i, v| {
                p.data_mut()[i] = v;
                let l = with_no_grad(|| loss(input).item());
                p.data_mut()[i] = p0[i];
                l
            },
        ));
    }
    for ((_, t), saved) in module.named_buffers().iter().zip(buffers) {
        t.data_mut().copy_from_slice(&saved);
    }
    module.set_random_state(&random);
    for (name, v) in counters {
        module.set_counter(&name, v);
    }
    GradcheckReport {
        options,
        inputs: reports,
    }
}

/// [`gradcheck_module`] with PyTorch's defaults; panics with the report if any tensor fails.
#[track_caller]
pub fn assert_gradcheck_module(module: &dyn Module<f64>, input: &Tensor<f64>) {
    let report = gradcheck_module(module, input, GradcheckOptions::default());
    assert!(report.passed(), "{report}");
}

/// [`gradcheck`] with PyTorch's defaults; panics with the report if any input fails.
#[track_caller]
pub fn assert_gradcheck<F>(f: F, inputs: &[Tensor<f64>])
where
    F: Fn(&[Tensor<f64>]) -> Tensor<f64>,
{
    let report = gradcheck(f, inputs, GradcheckOptions::default());
    assert!(report.passed(), "{report}");
}
