//! The `stitch` command line: argument parsing (clap) and the subcommands.
//!
//! The binary is `stitch::cli::main`; a library user's own binary can register models
//! first and then hand over to it, so `--model` finds them in every command:
//!
//! ```no_run
//! // in the user's src/main.rs, inside `fn main()`:
//! // stitch::models::register(my_entry);
//! std::process::exit(stitch::cli::main());
//! ```

mod eval_cmd;
mod export_cmd;
mod graph_cmd;
mod ladder_cmd;
mod profile_cmd;
mod progress;
mod report_cmd;
mod show_cmd;
mod summary_cmd;
mod train_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::train::{OptimizerKind, Schedule, TrainConfig};

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
    Train(Box<TrainArgs>),
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
    /// A checkpoint's model weights as a safetensors file with PyTorch's state_dict names.
    Export(ExportArgs),
    /// One self-contained HTML page on a trained model: the run, its curves, its layers,
    /// its mistakes, its filters and feature maps, its diagnostics and its profile.
    Report(ReportArgs),
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// A checkpoint written by `stitch train --save`, or a safetensors file of weights.
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// The model the file's weights belong to (when the file does not name it).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The run's `--metrics` file, for the training curves and diagnostics.
    #[arg(long)]
    pub(crate) metrics: Option<PathBuf>,
    /// Where to write the page.
    #[arg(long, default_value = "report.html")]
    pub(crate) out: PathBuf,
    /// Time training steps of the model now, op by op, for the page's last section.
    #[arg(long)]
    pub(crate) profile: bool,
    /// Steps timed by --profile (after 3 warm-up steps).
    #[arg(long, default_value_t = 20)]
    pub(crate) steps: usize,
    /// The two test images whose feature maps are drawn, as I,J (default: the first the
    /// model gets right and the first it gets wrong).
    #[arg(long, value_delimiter = ',')]
    pub(crate) images: Option<Vec<usize>>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// A checkpoint written by `stitch train --save`.
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// Where to write the safetensors file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct SummaryArgs {
    #[arg(long, default_value = "cnn")]
    pub(crate) model: String,
    /// Batch size for the memory kept for backward.
    #[arg(long, default_value_t = 128)]
    pub(crate) batch: usize,
}

#[derive(Args)]
pub(crate) struct ShowArgs {
    /// A checkpoint written by `stitch train --save`, or a safetensors file of weights.
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// The model the file's weights belong to (when the file does not name it).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Which test image.
    #[arg(long, default_value_t = 0)]
    pub(crate) index: usize,
    /// Directory for the pictures (created if missing).
    #[arg(long, default_value = "stitch-show")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Args)]
pub(crate) struct GraphArgs {
    #[arg(long, default_value = "cnn")]
    pub(crate) model: String,
    /// Images in the batch the graph is recorded on.
    #[arg(long, default_value_t = 2)]
    pub(crate) batch: usize,
    /// Run backward too and show each parameter's gradient norm.
    #[arg(long)]
    pub(crate) grads: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OptArg {
    Adam,
    Sgd,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScheduleArg {
    Constant,
    Cosine,
    Onecycle,
    WarmupCosine,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KernelsArg {
    Reference,
    Fast,
}

/// Options shared by every command that runs kernels.
#[derive(Args, Clone)]
pub(crate) struct RunArgs {
    /// Worker threads for the kernels (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) threads: Option<i64>,
    /// Dataset directory (default: $STITCH_DATA, then /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Which kernel versions run: the fast SIMD ones or the readable reference loops.
    #[arg(long, value_enum, default_value = "fast")]
    pub(crate) kernels: KernelsArg,
    /// How the fast convolutions compute: auto (the measured choice per shape), direct,
    /// winograd (3x3 stride-1 layers), im2col, or reference.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) conv_algo: ConvAlgoArg,
    /// Run every layer as its own op instead of the fused blocks (conv → ReLU → pool,
    /// conv → ReLU, batch norm → ReLU → pool, ReLU → pool, add → ReLU); the results are the
    /// same bits.
    #[arg(long)]
    pub(crate) no_fusion: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ConvAlgoArg {
    Auto,
    Direct,
    Winograd,
    Im2col,
    Reference,
}

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Model name (see `stitch models`) [default: dnn].
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Total epochs (with --resume: the total, counting those already done) [default: 10].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) epochs: Option<i64>,
    /// [default: 128]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) batch: Option<i64>,
    /// [default: 0.001]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) lr: Option<f64>,
    /// [default: adam]
    #[arg(long, value_enum)]
    pub(crate) optimizer: Option<OptArg>,
    /// SGD momentum [default: 0.9].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) momentum: Option<f64>,
    /// [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) weight_decay: Option<f64>,
    /// Learning-rate schedule: constant; cosine (annealing to 0 over all steps); onecycle
    /// (PyTorch's OneCycleLR defaults, momentum cycled too); warmup-cosine (5 % linear
    /// warm-up, then cosine) [default: constant].
    #[arg(long, value_enum)]
    pub(crate) schedule: Option<ScheduleArg>,
    /// Nesterov momentum for SGD.
    #[arg(long)]
    pub(crate) nesterov: bool,
    /// Label smoothing ε of the cross-entropy, in [0, 1) [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) label_smoothing: Option<f64>,
    /// Training-image augmentation: none, or a list of flip, crop=P, erase
    /// (e.g. flip,crop=2) [default: none].
    #[arg(long)]
    pub(crate) augment: Option<String>,
    /// Test-time augmentation: average each test image's logits with its mirror's.
    #[arg(long)]
    pub(crate) tta: bool,
    /// Evaluate an exponential moving average of the weights with decay D (e.g. 0.999).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) ema: Option<f64>,
    /// Hold out N training images (chosen by the seed) and report accuracy on them each
    /// epoch: choose recipes on these, never on the test set [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) val: Option<i64>,
    /// [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) seed: Option<i64>,
    /// Train on the first N training images only.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) limit_train: Option<i64>,
    /// Continue the run saved in this checkpoint: recipe, weights, optimizer state, epoch
    /// and random state come from it; flags given here override its recipe.
    #[arg(long)]
    pub(crate) resume: Option<PathBuf>,
    /// Start from the weights in this safetensors file (a stitch export, or PyTorch's
    /// state_dict of the same architecture) instead of a fresh initialization.
    #[arg(long)]
    pub(crate) init: Option<PathBuf>,
    /// Write a checkpoint here at the end of every epoch (atomically).
    #[arg(long)]
    pub(crate) save: Option<PathBuf>,
    /// Write one JSON object per epoch to this file (appended to when resuming).
    #[arg(long)]
    pub(crate) metrics: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Time every op and print the profile table at the end.
    #[arg(long)]
    pub(crate) profile: bool,
    /// Write the training curves (loss and accuracy, train and test) to this SVG file.
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
    /// Per epoch: gradient norm, weight norm and update/weight ratio of every parameter,
    /// and the dead units of every ReLU.
    #[arg(long)]
    pub(crate) diagnostics: bool,
    /// Write the HTML report (`stitch report`) of the run to this file after every epoch,
    /// atomically, so a browser tab can be refreshed during training.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

impl TrainArgs {
    /// `base` (the defaults, or a resumed checkpoint's recipe) with the flags given here.
    pub(crate) fn apply(&self, mut c: TrainConfig) -> Result<TrainConfig, String> {
        if let Some(v) = &self.model {
            c.model = v.clone();
        }
        if let Some(v) = self.epochs {
            c.epochs = at_least_one("epochs", v)?;
        }
        if let Some(v) = self.batch {
            c.batch = at_least_one("batch", v)?;
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
            c.seed = non_negative("seed", v)?;
        }
        if let Some(v) = self.limit_train {
            c.limit_train = Some(at_least_one("limit-train", v)?);
        }
        if self.nesterov {
            c.nesterov = true;
        }
        if let Some(v) = self.label_smoothing {
            c.label_smoothing = v;
        }
        if let Some(v) = &self.augment {
            c.augment = crate::data::Augment::parse(v)?;
        }
        if self.tta {
            c.tta = true;
        }
        if let Some(v) = self.ema {
            c.ema = Some(v);
        }
        if let Some(v) = self.val {
            c.val = non_negative("val", v)? as usize;
        }
        Ok(c)
    }
}

#[derive(Args)]
pub(crate) struct LadderArgs {
    /// Continue the table with the write-up's next step: resnet20 and vgg-small (steps 5
    /// and 6) with the deeper nets' reference recipe R10 (SGD + Nesterov, one-cycle, label
    /// smoothing 0.1, flip + crop, mirror averaging), beside the literature's figures.
    #[arg(long)]
    pub(crate) deeper: bool,
    /// Epochs of every step [default: each step's own recipe: 10, cnn 15, deeper nets 10].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) epochs: Option<i64>,
    /// [default: 128]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) batch: Option<i64>,
    /// Learning rate of every step [default: each step's own: 1e-3 Adam; 0.1 SGD for the
    /// deeper nets].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) lr: Option<f64>,
    /// Schedule of every step [default: each step's own: constant; cnn cosine; deeper nets
    /// onecycle].
    #[arg(long, value_enum)]
    pub(crate) schedule: Option<ScheduleArg>,
    /// [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) seed: Option<i64>,
    /// Train on the first N training images only.
    #[arg(long)]
    pub(crate) limit_train: Option<usize>,
    /// Write one JSON object per model and epoch (with a "model" key) to this file.
    #[arg(long)]
    pub(crate) metrics: Option<std::path::PathBuf>,
    /// Write every step's curves and a bar chart of the accuracies to this SVG file.
    #[arg(long)]
    pub(crate) plot: Option<std::path::PathBuf>,
    #[arg(long)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Args)]
pub(crate) struct ProfileArgs {
    #[arg(long, default_value = "cnn")]
    pub(crate) model: String,
    #[arg(long, default_value_t = 128)]
    pub(crate) batch: usize,
    /// Steps measured (after 3 warm-up steps).
    #[arg(long, default_value_t = 50)]
    pub(crate) steps: usize,
    /// Train on the real images instead of synthetic ones of the same shape.
    #[arg(long)]
    pub(crate) real_data: bool,
    /// Step time on 1, 2, … threads (up to the core count) with speed-up and efficiency.
    #[arg(long)]
    pub(crate) scaling: bool,
    /// The profiler's own overhead: alternating blocks of steps with it on and off.
    #[arg(long)]
    pub(crate) overhead: bool,
    /// What each op keeps for backward, the allocator's peak and the peak resident memory.
    #[arg(long)]
    pub(crate) memory: bool,
    /// Turn buffer recycling off: every op output is a new zero-filled buffer (to measure
    /// what recycling saves).
    #[arg(long)]
    pub(crate) no_recycle: bool,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The checkpoint to evaluate, or a safetensors file of a model's weights (PyTorch's
    /// state_dict names).
    #[arg(long)]
    pub(crate) load: PathBuf,
    /// The model the file's weights belong to (needed when the file does not name it,
    /// as a PyTorch export does not).
    #[arg(long)]
    pub(crate) model: Option<String>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
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
            ScheduleArg::Onecycle => Schedule::OneCycle,
            ScheduleArg::WarmupCosine => Schedule::WarmupCosine,
        }
    }
}

/// Applies `--threads` and `--kernels`; returns the thread count in use.
/// `v` as a count of at least 1, or the one-line error the flag's 0 gives.
pub(crate) fn at_least_one(flag: &str, v: i64) -> Result<usize, String> {
    if v < 1 {
        return Err(format!("--{flag} must be at least 1, got {v}"));
    }
    usize::try_from(v).map_err(|_| format!("--{flag} {v} is too large"))
}

/// `v` as a non-negative integer.
pub(crate) fn non_negative(flag: &str, v: i64) -> Result<u64, String> {
    u64::try_from(v).map_err(|_| format!("--{flag} must be a non-negative integer, got {v}"))
}

/// Checks, before any training, that `path` can be written: a temporary file is created
/// beside it and removed again. A missing or read-only directory, or a place like /proc,
/// then fails at once instead of after the first epoch.
pub(crate) fn check_writable(flag: &str, path: &std::path::Path) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{flag} {}: not a file path", path.display()))?;
    if path.is_dir() {
        return Err(format!("{flag} {}: is a directory", path.display()));
    }
    let probe = dir.join(format!(
        ".{}.probe-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| format!("{flag} {}: cannot write there: {e}", path.display()))
}

/// [`check_writable`] for a checkpoint, which also refuses to replace an existing file
/// that is not a stitch checkpoint (a mistyped path must not eat someone's data).
pub(crate) fn check_save_target(path: &std::path::Path) -> Result<(), String> {
    check_writable("--save", path)?;
    if path.exists() {
        let is_checkpoint = crate::checkpoint::Checkpoint::load(path).is_ok();
        if !is_checkpoint {
            return Err(format!(
                "--save {}: the file exists and is not a stitch checkpoint; refusing to overwrite it",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Builds the global thread pool with `--threads` workers (rayon's default, one per core,
/// without it). Before any command runs, since rayon's global pool is built once.
fn build_pool(run: &RunArgs) -> Result<(), String> {
    if let Some(t) = run.threads {
        let t = at_least_one("threads", t)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if t > cores {
            eprintln!("warning: --threads {t} is more than the {cores} cores of this machine; the extra threads share them");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .map_err(|e| format!("--threads {t}: {e}"))?;
    }
    Ok(())
}

/// The process-wide switches of a command's run arguments; returns the thread count.
pub(crate) fn setup(run: &RunArgs) -> Result<usize, String> {
    stitch_kernels::conv2d::set_default_algo(match run.conv_algo {
        ConvAlgoArg::Auto => stitch_kernels::conv2d::ConvAlgo::Auto,
        ConvAlgoArg::Direct => stitch_kernels::conv2d::ConvAlgo::Direct,
        ConvAlgoArg::Winograd => stitch_kernels::conv2d::ConvAlgo::Winograd,
        ConvAlgoArg::Im2col => stitch_kernels::conv2d::ConvAlgo::Im2col,
        ConvAlgoArg::Reference => stitch_kernels::conv2d::ConvAlgo::Reference,
    });
    crate::ops::set_fusion(!run.no_fusion);
    stitch_kernels::set_mode(match run.kernels {
        KernelsArg::Reference => stitch_kernels::Mode::Reference,
        KernelsArg::Fast => stitch_kernels::Mode::Fast,
    });
    Ok(rayon::current_num_threads())
}

/// Parses the process's command line and runs the command.
pub fn run() -> Result<(), String> {
    run_from(std::env::args_os())
}

/// Parses `args` (the program name first) and runs the command. Help and usage errors
/// are printed and exit the process, as clap does.
pub fn run_from<I, A>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    if let Some(run) = cli.command.run_args() {
        build_pool(run)?;
    }
    // The command runs on one of the pool's workers, not beside them: a parallel kernel
    // then splits its work between this thread and the others, where from outside the
    // pool it would hand all of it over and sleep until woken (every parallel op two
    // thread switches more). `stitch train --model dnn --epochs 1`, whose products are too
    // small to pay for those switches, went from 0.31 to 0.24 s on two threads with its
    // products split (Zen 4, 2026-12-08, three runs each), the cnn's epoch from 9.4–9.7 to
    // 8.9 s. Only stitch's own kernels put work in the pool, so nothing else runs on this
    // thread while it waits inside one of them.
    rayon::scope(|_| dispatch(cli.command))
}

impl Command {
    /// The run arguments (threads, data, kernels) of the commands that have them.
    fn run_args(&self) -> Option<&RunArgs> {
        match self {
            Command::Train(a) => Some(&a.run),
            Command::Eval(a) => Some(&a.run),
            Command::Ladder(a) => Some(&a.run),
            Command::Profile(a) => Some(&a.run),
            Command::Show(a) => Some(&a.run),
            Command::Report(a) => Some(&a.run),
            Command::Models | Command::Summary(_) | Command::Graph(_) | Command::Export(_) => None,
        }
    }
}

/// Runs one parsed command.
fn dispatch(command: Command) -> Result<(), String> {
    match command {
        Command::Train(a) => train_cmd::run(*a),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Ladder(a) => ladder_cmd::run(a),
        Command::Profile(a) => profile_cmd::run(a),
        Command::Summary(a) => summary_cmd::run(a),
        Command::Show(a) => show_cmd::run(a),
        Command::Graph(a) => graph_cmd::run(a),
        Command::Export(a) => export_cmd::run(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Models => {
            for e in crate::models::entries() {
                println!("{:<10} {}", e.name, e.description);
            }
            Ok(())
        }
    }
}

/// The whole binary: a panic hook that turns any bug into one line, [`run`], and the exit
/// code (0, or 1 after printing the error's one line). A binary that registers its own
/// models calls this after registering them.
pub fn main() -> i32 {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        // `stitch eval … | head` closes the pipe early: that is the reader's choice, not a
        // bug, so the rest of the output is dropped quietly.
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: {msg}{at}");
    }));
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
