//! f64 gradient checks of the ops a CNN beyond the ladder needs: average pooling, global
//! average pooling and `mean_dims`, constant padding, cropping, flipping, concatenation,
//! the fused `add_relu`, same-shape and broadcasting `add` (the gradient pass-through), a
//! backward from a non-scalar output, and `gradcheck_module` on a residual block. Grids
//! include batch 1, sizes 1, 7, 17, non-square inputs, stride 2 and padding 0/1/2.

mod common;
use common::{away_from_zero, head, rand64};
use stitch::nn::{BatchNorm2d, Conv2d, Dropout, Module, Sequential};
use stitch::ops::Conv2dOptions;
use stitch::{
    assert_gradcheck, assert_gradcheck_module, gradcheck, GradcheckOptions, Real, Tensor,
};

/// (n, c, h, w) shapes of the grid: batch 1 and 3, sizes 1, 7, 17, non-square.
const SHAPES: [[usize; 4]; 6] = [
    [1, 1, 1, 1],
    [1, 2, 7, 7],
    [3, 1, 7, 5],
    [1, 1, 17, 3],
    [2, 3, 5, 17],
    [1, 2, 1, 7],
];

#[test]
fn gradcheck_avg_pool2d_over_the_grid() {
    let mut checked = 0;
    for shape in SHAPES {
        for kernel in [1, 2, 3] {
            for stride in [1, 2] {
                for padding in [0, 1, 2] {
                    let (h, w) = (shape[2], shape[3]);
                    if padding > kernel / 2 || kernel > h + 2 * padding || kernel > w + 2 * padding
                    {
                        continue;
                    }
                    let x = rand64(&shape, checked);
                    let seed = checked;
                    assert_gradcheck(
                        |t| {
                            head(
                                &t[0].avg_pool2d([kernel; 2], [stride; 2], [padding; 2]),
                                seed,
                            )
                        },
                        &[x],
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 40, "{checked} configurations");
}

#[test]
fn avg_pool2d_counts_padding_as_zeros_like_pytorch() {
    // F.avg_pool2d(torch.ones(1,1,2,2), 2, stride=1, padding=1) = [[0.25, 0.5, 0.25], ...]
    let x = Tensor::<f64>::ones(&[1, 1, 2, 2]);
    let y = x.avg_pool2d([2, 2], [1, 1], [1, 1]).to_vec();
    assert_eq!(y, [0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]);
}

#[test]
fn gradcheck_global_average_pooling_and_mean_dims() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let x = rand64(shape, k as u64);
        let y = x.global_avg_pool2d();
        assert_eq!(y.shape(), [shape[0], shape[1], 1, 1]);
        assert_gradcheck(
            |t| head(&t[0].global_avg_pool2d(), k as u64),
            std::slice::from_ref(&x),
        );
        // Leading, middle and mixed axes take the axis-by-axis path.
        for dims in [&[2, 3][..], &[1, 3], &[0], &[0, 2, 3], &[1]] {
            for keepdim in [false, true] {
                assert_gradcheck(
                    |t| head(&t[0].mean_dims(dims, keepdim), 7),
                    std::slice::from_ref(&x),
                );
            }
        }
    }
    // The values: the mean of each plane.
    let x = Tensor::<f64>::from_vec((0..8).map(f64::from).collect(), &[1, 2, 2, 2]);
    assert_eq!(x.global_avg_pool2d().to_vec(), [1.5, 5.5]);
    assert_eq!(x.mean_dims(&[1], false).to_vec(), [2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn gradcheck_pad_crop_and_flip_over_the_grid() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let x = rand64(shape, 100 + k as u64);
        for pads in [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 1, 2], [0, 2, 2, 0]] {
            assert_gradcheck(
                |t| head(&t[0].pad2d(pads, 0.5), 1),
                std::slice::from_ref(&x),
            );
        }
        let (h, w) = (shape[2], shape[3]);
        for (top, left, ch, cw) in [
            (0, 0, h, w),
            (0, 0, 1, 1),
            (h / 2, w / 3, h - h / 2, w - w / 3),
        ] {
            assert_gradcheck(
                |t| head(&t[0].crop2d(top, left, ch, cw), 2),
                std::slice::from_ref(&x),
            );
        }
        assert_gradcheck(|t| head(&t[0].flip_w(), 3), std::slice::from_ref(&x));
    }
    // Values: pad then crop is the identity; the flip mirrors each row.
    let x = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[1, 1, 2, 3]);
    let p = x.pad2d([1, 2, 2, 1], -1.0);
    assert_eq!(p.shape(), [1, 1, 5, 6]);
    assert_eq!(p.to_vec()[..7], [-1.0; 7]);
    assert_eq!(p.crop2d(2, 1, 2, 3).to_vec(), x.to_vec());
    assert_eq!(x.flip_w().to_vec(), [2.0, 1.0, 0.0, 5.0, 4.0, 3.0]);
}

#[test]
fn gradcheck_cat_over_dimensions() {
    let a = rand64(&[2, 1, 3, 5], 1);
    let b = rand64(&[2, 3, 3, 5], 2);
    let c = rand64(&[2, 2, 3, 5], 3);
    assert_gradcheck(
        |t| head(&Tensor::cat(&[&t[0], &t[1], &t[2]], 1), 4),
        &[a.clone(), b.clone(), c],
    );
    let d = rand64(&[1, 1, 3, 5], 5);
    assert_gradcheck(
        |t| head(&Tensor::cat(&[&t[0], &t[1]], 0), 6),
        &[a.clone(), d],
    );
    let e = rand64(&[2, 1, 3, 7], 7);
    assert_gradcheck(
        |t| head(&Tensor::cat(&[&t[0], &t[1]], 3), 8),
        &[a.clone(), e],
    );
    // The same tensor twice: its gradient is the sum of both slices.
    assert_gradcheck(|t| head(&Tensor::cat(&[&t[0], &t[0]], 1), 9), &[a]);
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 2]);
    let y = Tensor::<f64>::from_vec(vec![3.0], &[1, 1]);
    assert_eq!(Tensor::cat(&[&x, &y], 1).to_vec(), [1.0, 2.0, 3.0]);
}

#[test]
fn gradcheck_add_relu_and_add() {
    for (k, shape) in SHAPES.iter().enumerate() {
        // a + b kept away from 0, where ReLU has its kink.
        let s = away_from_zero(shape, 0.2, k as u64);
        let b = rand64(shape, 50 + k as u64);
        let a = s.sub(&b);
        assert_gradcheck(|t| head(&t[0].add_relu(&t[1]), 1), &[a.clone(), b.clone()]);
        assert_gradcheck(|t| head(&t[0].add(&t[1]), 2), &[a.clone(), b.clone()]);
        // The same tensor on both sides: both shares of G reach it.
        assert_gradcheck(|t| head(&t[0].add(&t[0]), 3), std::slice::from_ref(&a));
        assert_gradcheck(|t| head(&t[0].add_relu(&t[0]), 4), std::slice::from_ref(&s));
        // Broadcasting: a per-channel bias.
        let bias = rand64(&[1, shape[1], 1, 1], 9);
        assert_gradcheck(|t| head(&t[0].add(&t[1]), 5), &[a.clone(), bias.clone()]);
        assert_gradcheck(|t| head(&t[1].sub(&t[0]), 6), &[a.clone(), bias]);
    }
    // add_relu equals add then relu, bit for bit, with and without fusion.
    let a = Tensor::<f32>::rand_uniform(&[3, 4, 5, 5], -1.0, 1.0, &mut common::rng(1));
    let b = Tensor::<f32>::rand_uniform(&[3, 4, 5, 5], -1.0, 1.0, &mut common::rng(2));
    assert_eq!(a.add_relu(&b).to_vec(), a.add(&b).relu().to_vec());
}

#[test]
fn a_shared_gradient_is_never_written_while_another_input_still_reads_it() {
    // y = (a + b) consumed by two in-place rules (dropout backward works in G's buffer):
    // the forwarded G must be copied, not overwritten, before either writes into it.
    let a = rand64(&[2, 3, 4, 4], 1);
    let b = rand64(&[2, 3, 4, 4], 2);
    assert_gradcheck(
        |t| {
            let s = t[0].add(&t[1]);
            let u = s.dropout(0.5, 7);
            let v = s.dropout(0.5, 8);
            head(&u.add(&v).add(&s), 3)
        },
        &[a.clone(), b.clone()],
    );
    assert_gradcheck(
        |t| {
            let s = t[0].add(&t[1]);
            head(&s.dropout(0.4, 3).add(&t[1].dropout(0.4, 5)), 4)
        },
        &[a, b],
    );
}

#[test]
fn backward_with_a_given_gradient_from_a_non_scalar() {
    let x = rand64(&[2, 3], 1).requires_grad_();
    let g = rand64(&[2, 3], 2);
    let y = x.mul(&x);
    y.backward_with(&g);
    let want: Vec<f64> = x
        .to_vec()
        .iter()
        .zip(g.to_vec())
        .map(|(x, g)| 2.0 * x * g)
        .collect();
    let got = x.grad().unwrap().to_vec();
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-14, "{got:?} vs {want:?}");
    }
    let z = x.mul(&x);
    let e = z.try_backward_with(&rand64(&[3, 2], 3)).unwrap_err();
    assert!(e
        .to_string()
        .contains("the gradient has shape [3, 2], the tensor [2, 3]"));
}

/// A residual block generic over the element type, as a user writes it.
struct Block<T: Real = f32> {
    conv1: Conv2d<T>,
    bn1: BatchNorm2d<T>,
    conv2: Conv2d<T>,
    bn2: BatchNorm2d<T>,
    drop: Dropout,
    shortcut: Sequential<T>,
}

impl<T: Real> Module<T> for Block<T> {
    fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
        vec![
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            ("conv2", &self.conv2),
            ("bn2", &self.bn2),
            ("drop", &self.drop),
            ("shortcut", &self.shortcut),
        ]
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let h = self
            .drop
            .forward(&self.bn1.forward(&self.conv1.forward(x)).relu());
        self.bn2
            .forward(&self.conv2.forward(&h))
            .add_relu(&self.shortcut.forward(x))
    }
}

fn block<T: Real>(cin: usize, cout: usize, stride: usize) -> Block<T> {
    let mut rng = stitch::nn::init::rng(3);
    let opts = Conv2dOptions::square(stride, 1, 1);
    let shortcut = if stride != 1 || cin != cout {
        Sequential::new()
            .add(Conv2d::no_bias(
                cin,
                cout,
                1,
                Conv2dOptions::square(stride, 0, 1),
                &mut rng,
            ))
            .add(BatchNorm2d::new_2d(cout))
    } else {
        Sequential::new()
    };
    Block {
        conv1: Conv2d::no_bias(cin, cout, 3, opts, &mut rng),
        bn1: BatchNorm2d::new_2d(cout),
        conv2: Conv2d::no_bias(cout, cout, 3, Conv2dOptions::same(3), &mut rng),
        bn2: BatchNorm2d::new_2d(cout),
        drop: Dropout::new(0.25, 9),
        shortcut,
    }
}

#[test]
fn gradcheck_a_residual_block_with_respect_to_its_input_and_weights() {
    for (cin, cout, stride) in [(2, 2, 1), (2, 3, 2)] {
        let b = block::<f64>(cin, cout, stride);
        let x = rand64(&[2, cin, 5, 6], 4);
        let before = b.random_state();
        // Training mode: batch statistics and a dropout mask, the same one every evaluation.
        assert_gradcheck_module(&b, &x);
        let report = gradcheck_module_report(&b, &x);
        let names: Vec<&str> = report.iter().map(|s| s.as_str()).collect();
        let mut want = vec![
            "input",
            "conv1.weight",
            "bn1.weight",
            "bn1.bias",
            "conv2.weight",
            "bn2.weight",
            "bn2.bias",
        ];
        if stride == 2 {
            want.extend(["shortcut.0.weight", "shortcut.1.weight", "shortcut.1.bias"]);
        }
        assert_eq!(names, want);
        assert_eq!(b.random_state(), before, "the counters are put back");
        b.eval();
        assert_gradcheck_module(&b, &x);
    }
}

fn gradcheck_module_report(m: &dyn Module<f64>, x: &Tensor<f64>) -> Vec<String> {
    stitch::gradcheck_module(m, x, GradcheckOptions::default())
        .inputs
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[test]
fn gradcheck_module_catches_a_wrong_gradient() {
    // A layer whose recorded gradient is wrong: y = x·w + x·detach(w) has the value 2·x·w,
    // so ∂y/∂w = 2x, but the graph sees only the first term and reports x.
    struct Wrong {
        w: Tensor<f64>,
    }
    impl Module<f64> for Wrong {
        fn own_parameters(&self) -> Vec<(&str, Tensor<f64>)> {
            vec![("w", self.w.clone())]
        }
        fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
            x.mul(&self.w).add(&x.mul(&self.w.detach()))
        }
    }
    let m = Wrong {
        w: rand64(&[1, 3], 1).requires_grad_(),
    };
    let report = stitch::gradcheck_module(&m, &rand64(&[2, 3], 2), GradcheckOptions::default());
    assert!(!report.passed(), "{report}");
    let plain = gradcheck(
        |t| head(&t[0].mul(&t[0]), 1),
        &[rand64(&[3], 3)],
        GradcheckOptions::default(),
    );
    assert!(plain.passed());
}
