//! Evaluation: the test split through any model in evaluation mode, without a graph; and
//! [`predict`], which returns the logits themselves.

use crate::data::Split;
use crate::nn::Module;
use crate::{no_grad, Tensor};

/// The training batch size: the same buffer sizes as a training step, which the allocator's
/// cache already holds, and a low peak memory.
const EVAL_BATCH: usize = 128;

/// What [`evaluate`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy in percent.
    pub accuracy: f64,
    /// The predicted class of every example, in order.
    pub predictions: Vec<usize>,
}

/// Runs `f` on the logits of every batch of `split` in evaluation mode with no graph (the
/// model is left in evaluation mode; the profiler, which measures training steps, is paused).
/// With `tta`, the logits are the mean of the image's and its mirror's.
fn each_batch(
    model: &dyn Module<f32>,
    split: &Split,
    tta: bool,
    mut f: impl FnMut(Tensor<f32>, Vec<usize>),
) {
    let profiling = crate::profile::is_enabled();
    crate::profile::enable(false);
    model.eval();
    let _g = no_grad();
    let all: Vec<usize> = (0..split.len()).collect();
    for idx in all.chunks(EVAL_BATCH) {
        let (x, y) = split.batch(idx);
        let logits = model.forward(&x);
        let logits = if tta {
            logits.add(&model.forward(&x.flip_w())).mul_scalar(0.5)
        } else {
            logits
        };
        f(logits, y);
    }
    crate::profile::enable(profiling);
}

/// Mean cross-entropy, accuracy (percent) and the predicted class of every example.
pub fn evaluate(model: &dyn Module<f32>, split: &Split) -> Evaluation {
    evaluate_with(model, split, false)
}

/// [`evaluate`], with test-time augmentation when `tta` is on: each image's logits are
/// the mean of its own and its horizontal mirror's (the loss is that mean's).
pub fn evaluate_with(model: &dyn Module<f32>, split: &Split, tta: bool) -> Evaluation {
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut predictions = Vec::with_capacity(split.len());
    each_batch(model, split, tta, |logits, y| {
        loss_sum += logits.cross_entropy(&y).item() as f64 * y.len() as f64;
        let p = logits.argmax();
        correct += p.iter().zip(&y).filter(|(p, t)| p == t).count();
        predictions.extend(p);
    });
    let n = split.len().max(1) as f64;
    Evaluation {
        loss: loss_sum / n,
        accuracy: 100.0 * correct as f64 / n,
        predictions,
    }
}

/// The logits of every example of `split`, [len, classes], in evaluation mode (PyTorch's
/// `model.eval(); with torch.no_grad(): model(x)` over the split).
pub fn predict(model: &dyn Module<f32>, split: &Split) -> Tensor<f32> {
    predict_with(model, split, false)
}

/// [`predict`], with test-time augmentation when `tta` is on (the logits of each image and
/// its mirror, averaged, as [`evaluate_with`] scores them).
pub fn predict_with(model: &dyn Module<f32>, split: &Split, tta: bool) -> Tensor<f32> {
    let mut all = Vec::new();
    let mut classes = 0;
    each_batch(model, split, tta, |logits, _| {
        classes = logits.shape().last().copied().unwrap_or(0);
        all.extend_from_slice(&logits.data());
    });
    Tensor::from_vec(all, &[split.len(), classes])
}

/// The confusion matrix of `predicted` classes against the `labels`: `m[true][predicted]`
/// counts the examples (what `stitch eval` prints and `stitch report` draws).
pub fn confusion_matrix(predicted: &[usize], labels: &[u8]) -> [[usize; 10]; 10] {
    let mut m = [[0usize; 10]; 10];
    for (&p, &t) in predicted.iter().zip(labels) {
        m[t as usize][p] += 1;
    }
    m
}

/// The `k` pairs of classes mixed up most often, either way round, as
/// (mistakes, class a, class b) with a < b, most first (ties by class), pairs with no
/// mistake left out.
pub fn most_confused(m: &[[usize; 10]; 10], k: usize) -> Vec<(usize, usize, usize)> {
    let mut pairs: Vec<(usize, usize, usize)> = (0..10)
        .flat_map(|a| ((a + 1)..10).map(move |b| (a, b)))
        .map(|(a, b)| (m[a][b] + m[b][a], a, b))
        .filter(|p| p.0 > 0)
        .collect();
    pairs.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    pairs.truncate(k);
    pairs
}
