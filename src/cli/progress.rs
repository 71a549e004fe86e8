//! The per-epoch progress bar (indicatif), shown only on a terminal and without --quiet.

use std::io::IsTerminal;

use crate::train::{EpochMetrics, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws a bar per epoch on stderr and prints the summary line of each epoch on stdout.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    show_bar: bool,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Progress {
        Progress {
            bar: None,
            show_bar: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl Observer for Progress {
    fn batch_done(
        &mut self,
        epoch: usize,
        done: usize,
        total: usize,
        loss: f64,
        samples_per_s: f64,
    ) {
        if !self.show_bar {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix:>2} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(epoch.to_string());
            b
        });
        bar.set_position(done as u64);
        bar.set_message(format!("loss {loss:.4} {samples_per_s:.0} samples/s"));
    }

    fn epoch_done(&mut self, m: &EpochMetrics) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        println!("{}", m.summary());
    }
}
