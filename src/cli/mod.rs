//! Argument parsing (clap) and the subcommands.

mod eval_cmd;
mod ladder_cmd;
mod profile_cmd;
mod progress;
mod train_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use stitch::train::{OptimizerKind, Schedule};

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
    /// Model name (see `stitch models`).
    #[arg(long, default_value = "dnn")]
    pub model: String,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptArg,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub momentum: f64,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// Learning-rate schedule: constant, or cosine annealing to 0 over all steps.
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Write a checkpoint here at the end of every epoch (atomically).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write one JSON object per epoch to this file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Time every op and print the profile table at the end.
    #[arg(long)]
    pub profile: bool,
    #[command(flatten)]
    pub run: RunArgs,
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
        Command::Models => {
            for (name, about) in stitch::models::MODELS {
                println!("{name:<10} {about}");
            }
            Ok(())
        }
    }
}
