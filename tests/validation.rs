//! The library's policy on bad arguments, checked op by op: an op called with shapes or
//! arguments it cannot work with panics (as ndarray does, and as PyTorch raises) with one
//! line naming the op, the shapes it got and what it expected. Files, checkpoints and the
//! CLI's arguments return `Result` instead (see tests/corpus.rs and tests/cli.rs).

use std::panic::{catch_unwind, AssertUnwindSafe};

use stitch::nn::{BatchNorm2d, Dropout, Module};
use stitch::ops::Conv2dOptions;
use stitch::Tensor;

/// The panic message of `f`, which must panic.
fn message(f: impl FnOnce()) -> String {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    let e = r.expect_err("the call must panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

fn rejects(want: &[&str], f: impl FnOnce()) {
    let m = message(f);
    assert!(!m.contains('\n'), "one line: {m}");
    for w in want {
        assert!(m.contains(w), "expected {w:?} in: {m}");
    }
}

fn x(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape)
}

#[test]
fn conv2d_rejects_impossible_arguments() {
    let opts = |stride, padding, dilation| Conv2dOptions::square(stride, padding, dilation);
    // A 5×5 kernel on a 3×3 input padded by 1 (5×5 padded: fits) and by 0 (does not).
    x(&[1, 1, 3, 3]).conv2d(&x(&[2, 1, 5, 5]), None, opts(1, 1, 1));
    rejects(&["conv2d", "[1, 1, 3, 3]", "[2, 1, 5, 5]"], || {
        x(&[1, 1, 3, 3]).conv2d(&x(&[2, 1, 5, 5]), None, opts(1, 0, 1));
    });
    rejects(&["conv2d", "stride"], || {
        x(&[1, 1, 5, 5]).conv2d(&x(&[2, 1, 3, 3]), None, opts(0, 0, 1));
    });
    rejects(&["conv2d", "dilation"], || {
        x(&[1, 1, 5, 5]).conv2d(&x(&[2, 1, 3, 3]), None, opts(1, 0, 0));
    });
    rejects(&["conv2d", "[1, 3, 5, 5]", "[2, 1, 3, 3]"], || {
        x(&[1, 3, 5, 5]).conv2d(&x(&[2, 1, 3, 3]), None, opts(1, 0, 1));
    });
    rejects(&["conv2d", "bias [3]", "[2]"], || {
        x(&[1, 1, 5, 5]).conv2d(&x(&[2, 1, 3, 3]), Some(&x(&[3])), opts(1, 0, 1));
    });
    rejects(&["conv2d", "[5, 5]"], || {
        x(&[5, 5]).conv2d(&x(&[2, 1, 3, 3]), None, opts(1, 0, 1));
    });
    // Negative padding cannot be expressed: padding is a usize, as in candle and burn.
}

#[test]
fn max_pool2d_rejects_impossible_arguments() {
    rejects(&["max_pool2d", "[1, 1, 2, 2]"], || {
        x(&[1, 1, 2, 2]).max_pool2d([3, 3], [1, 1], [0, 0]);
    });
    rejects(&["max_pool2d", "stride"], || {
        x(&[1, 1, 4, 4]).max_pool2d([2, 2], [0, 0], [0, 0]);
    });
    rejects(&["max_pool2d", "padding"], || {
        x(&[1, 1, 4, 4]).max_pool2d([2, 2], [2, 2], [2, 2]);
    });
    rejects(&["max_pool2d", "[4, 4]"], || {
        x(&[4, 4]).max_pool2d([2, 2], [2, 2], [0, 0]);
    });
}

#[test]
fn dropout_rejects_p_outside_0_to_1() {
    for p in [1.0, 1.5, -0.1, f64::NAN] {
        rejects(&["dropout", "p"], || {
            x(&[2, 3]).dropout(p, 0);
        });
        rejects(&["dropout", "p"], || {
            Dropout::new(p, 0);
        });
    }
}

#[test]
fn batch_norm_rejects_mismatched_channels() {
    let bn = BatchNorm2d::new_2d(4);
    rejects(&["batch_norm", "[2, 3, 5, 5]", "4"], || {
        bn.forward(&x(&[2, 3, 5, 5]));
    });
    rejects(&["BatchNorm2d", "[2, 4, 5]", "4 dimensions"], || {
        bn.forward(&x(&[2, 4, 5]));
    });
}

#[test]
fn cross_entropy_rejects_targets_out_of_range_and_wrong_counts() {
    rejects(
        &["cross_entropy", "target 10", "outside 0..10", "[2, 10]"],
        || {
            x(&[2, 10]).cross_entropy(&[3, 10]);
        },
    );
    rejects(&["cross_entropy", "2 targets", "[3, 10]"], || {
        x(&[3, 10]).cross_entropy(&[1, 2]);
    });
}

#[test]
fn linear_matmul_and_broadcasting_reject_mismatched_shapes() {
    rejects(&["linear", "[2, 5]", "[3, 4]"], || {
        x(&[2, 5]).linear(&x(&[3, 4]), None);
    });
    rejects(&["matmul", "[2, 5]", "[4, 3]"], || {
        x(&[2, 5]).matmul(&x(&[4, 3]));
    });
    rejects(&["[2, 5]", "[3, 5]"], || {
        let _ = &x(&[2, 5]) + &x(&[3, 5]);
    });
    rejects(&["reshape", "[2, 5]", "[3, 3]"], || {
        x(&[2, 5]).reshape(&[3, 3]);
    });
}
