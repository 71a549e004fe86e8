//! Argument parsing (clap) and the subcommands.

mod eval_cmd;
mod graph_cmd;
mod ladder_cmd;
mod profile_cmd;
mod progress;
mod show_cmd;
mod summary_cmd;
mod train_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use stitch::train::{OptimizerKind, Schedule, TrainConfig};

#[derive(Parser)]
#[command(
    name = "stitch",
    version,
    about = "A from-scratch CNN engine trained on the raw Fashion-MNIST IDX files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on Fashion-MNIST and report per-epoch figures.
    Train(TrainArgs),
    /// Evaluate a checkpoint on the test split: accuracy, per-class accuracy, confusion matrix.
    Eval(EvalArgs),
    /// Train the four steps of the ladder in turn and compare with the seed's accuracies.
    Ladder(LadderArgs),
    /// Time training steps op by op against the machine's probed peak.
    Profile(ProfileArgs),
    /// List the models with one line each.
    Models,
    /// A model layer by layer: output shapes, parameters, multiply-adds, memory.
    Summary(SummaryArgs),
    /// Pictures of a trained model on one test image: input, filters, feature maps,
    /// class probabilities.
    Show(ShowArgs),
    /// The autograd graph of one forward pass and loss, in Graphviz DOT on stdout.
    Graph(GraphArgs),
}

#[derive(Args)]
pub struct SummaryArgs {
    #[arg(long, default_value = "cnn")]
    pub model: String,
    /// Batch size for the memory kept for backward.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
}

#[derive(Args)]
pub struct ShowArgs {
    /// A checkpoint written by `stitch train --save`.
    #[arg(long)]
    pub load: PathBuf,
    /// Which test image.
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Directory for the pictures (created if missing).
    #[arg(long, default_value = "stitch-show")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct GraphArgs {
    #[arg(long, default_value = "cnn")]
    pub model: String,
    /// Images in the batch the graph is recorded on.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    /// Run backward too and show each parameter's gradient norm.
    #[arg(long)]
    pub grads: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OptArg {
    Adam,
    Sgd,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    Constant,
    Cosine,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KernelsArg {
    Reference,
    Fast,
}

/// Options shared by every command that runs kernels.
#[derive(Args, Clone)]
pub struct RunArgs {
    /// Worker threads for the kernels (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Dataset directory (default: $STITCH_DATA, then /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Which kernel versions run: the fast SIMD ones or the readable reference loops.
    #[arg(long, value_enum, default_value = "fast")]
    pub kernels: KernelsArg,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Model name (see `stitch models`) [default: dnn].
    #[arg(long)]
    pub model: Option<String>,
    /// Total epochs (with --resume: the total, counting those already done) [default: 10].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// [default: 128]
    #[arg(long)]
    pub batch: Option<usize>,
    /// [default: 0.001]
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// [default: adam]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptArg>,
    /// SGD momentum [default: 0.9].
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule: constant, or cosine annealing to 0 over all steps
    /// [default: constant].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Continue the run saved in this checkpoint: recipe, weights, optimizer state, epoch
    /// and random state come from it; flags given here override its recipe.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write a checkpoint here at the end of every epoch (atomically).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write one JSON object per epoch to this file (appended to when resuming).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Time every op and print the profile table at the end.
    #[arg(long)]
    pub profile: bool,
    /// Write the training curves (loss and accuracy, train and test) to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Per epoch: gradient norm, weight norm and update/weight ratio of every parameter,
    /// and the dead units of every ReLU.
    #[arg(long)]
    pub diagnostics: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

impl TrainArgs {
    /// `base` (the defaults, or a resumed checkpoint's recipe) with the flags given here.
    pub fn apply(&self, mut c: TrainConfig) -> TrainConfig {
        if let Some(v) = &self.model {
            c.model = v.clone();
        }
        if let Some(v) = self.epochs {
            c.epochs = v;
        }
        if let Some(v) = self.batch {
            c.batch = v;
        }
        if let Some(v) = self.lr {
            c.lr = v;
        }
        if let Some(v) = self.optimizer {
            c.optimizer = v.into();
        }
        if let Some(v) = self.momentum {
            c.momentum = v;
        }
        if let Some(v) = self.weight_decay {
            c.weight_decay = v;
        }
        if let Some(v) = self.schedule {
            c.schedule = v.into();
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.limit_train {
            c.limit_train = Some(v);
        }
        c
    }
}

#[derive(Args)]
pub struct LadderArgs {
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Write one JSON object per model and epoch (with a "model" key) to this file.
    #[arg(long)]
    pub metrics: Option<std::path::PathBuf>,
    /// Write every step's curves and a bar chart of the accuracies to this SVG file.
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct ProfileArgs {
    #[arg(long, default_value = "cnn")]
    pub model: String,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Steps measured (after 3 warm-up steps).
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Train on the real images instead of synthetic ones of the same shape.
    #[arg(long)]
    pub real_data: bool,
    /// Step time on 1, 2, … threads (up to the core count) with speed-up and efficiency.
    #[arg(long)]
    pub scaling: bool,
    /// The profiler's own overhead: alternating blocks of steps with it on and off.
    #[arg(long)]
    pub overhead: bool,
    /// What each op keeps for backward, the allocator's peak and the peak resident memory.
    #[arg(long)]
    pub memory: bool,
    /// Turn buffer recycling off: every op output is a new zero-filled buffer (to measure
    /// what recycling saves).
    #[arg(long)]
    pub no_recycle: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct EvalArgs {
    /// The checkpoint to evaluate.
    #[arg(long)]
    pub load: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

impl From<OptArg> for OptimizerKind {
    fn from(o: OptArg) -> Self {
        match o {
            OptArg::Adam => OptimizerKind::Adam,
            OptArg::Sgd => OptimizerKind::Sgd,
            OptArg::Adamw => OptimizerKind::AdamW,
        }
    }
}

impl From<ScheduleArg> for Schedule {
    fn from(s: ScheduleArg) -> Self {
        match s {
            ScheduleArg::Constant => Schedule::Constant,
            ScheduleArg::Cosine => Schedule::Cosine,
        }
    }
}

/// Applies `--threads` and `--kernels`; returns the thread count in use.
pub fn setup(run: &RunArgs) -> Result<usize, String> {
    if let Some(t) = run.threads {
        if t == 0 {
            return Err("--threads must be at least 1".into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .map_err(|e| format!("--threads {t}: {e}"))?;
    }
    stitch_kernels::set_mode(match run.kernels {
        KernelsArg::Reference => stitch_kernels::Mode::Reference,
        KernelsArg::Fast => stitch_kernels::Mode::Fast,
    });
    Ok(rayon::current_num_threads())
}

/// Parses the command line and runs the command.
pub fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Train(a) => train_cmd::run(a),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Ladder(a) => ladder_cmd::run(a),
        Command::Profile(a) => profile_cmd::run(a),
        Command::Summary(a) => summary_cmd::run(a),
        Command::Show(a) => show_cmd::run(a),
        Command::Graph(a) => graph_cmd::run(a),
        Command::Models => {
            for (name, about) in stitch::models::MODELS {
                println!("{name:<10} {about}");
            }
            Ok(())
        }
    }
}
