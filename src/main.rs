//! The `stitch` command line: train, evaluate, profile and look inside the models of the
//! registry (see `stitch::cli`).

/// Reuses the large per-step buffers instead of mapping fresh pages every step. (A
/// binary of a library user that calls `stitch::cli::main` should set it too.)
#[global_allocator]
static ALLOC: stitch_kernels::alloc::CachingAlloc = stitch_kernels::alloc::CachingAlloc;

fn main() {
    std::process::exit(stitch::cli::main());
}
