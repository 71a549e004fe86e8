//! The training loop: shuffle, batches, forward, cross-entropy, backward, optimizer step,
//! then evaluation on the test split, once per epoch, for any [`Module`](crate::nn::Module).
//!
//! Everything random follows from the seed: the initial weights (see [`crate::models`]),
//! the order of each epoch ([`crate::data::epoch_permutation`], stream = epoch), and later
//! the dropout masks. The kernels' parallel reductions have fixed split points, so the same
//! seed gives the same bits on any number of threads.
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | [`TrainConfig`], [`OptimizerKind`] |
//! | `schedule.rs` | [`Schedule`]: constant, cosine, one-cycle, warm-up + cosine |
//! | `ema.rs` | [`Ema`]: the moving average of the weights |
//! | `trainer.rs` | [`Trainer`]: steps, epochs, checkpoints, resume |
//! | `evaluate.rs` | [`evaluate`], [`predict`] |
//! | `metrics.rs` | [`EpochMetrics`], [`Observer`] |
//! | `guard.rs` | [`TrainError`], Ctrl-C ([`request_stop`]), the non-finite guard |

mod config;
mod ema;
mod evaluate;
mod guard;
mod metrics;
mod schedule;
mod trainer;

pub use config::{OptimizerKind, TrainConfig};
pub use ema::Ema;
pub use evaluate::{
    confusion_matrix, evaluate, evaluate_with, most_confused, predict, predict_with, Evaluation,
};
pub use guard::{request_stop, stop_requested, TrainError};
pub use metrics::{json_num, json_str, read_metrics, EpochMetrics, MetricsLine, Observer, Silent};
pub use schedule::Schedule;
pub use trainer::Trainer;
