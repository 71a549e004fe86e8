//! The `stitch` command line: train, evaluate and list the ladder's models.

mod cli;

/// Reuses the large per-step buffers instead of mapping fresh pages every step.
#[global_allocator]
static ALLOC: stitch_kernels::alloc::CachingAlloc = stitch_kernels::alloc::CachingAlloc;

fn main() {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: {msg}{at}");
    }));
    let code = match cli::run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    std::process::exit(code);
}
