//! A library user's binary: it registers its own model (the small residual network of
//! `tests/common/mini_resnet.rs`) and hands over to stitch's command line, so every command
//! finds it by name. The default is its profile table:
//!
//!   cargo bench --bench user_model                       # stitch profile --model mini-resnet
//!   cargo bench --bench user_model -- profile --model cnn --steps 30
//!   cargo bench --bench user_model -- summary --model mini-resnet

#[path = "../tests/common/mini_resnet.rs"]
mod mini_resnet;

use stitch::models::{self, ModelEntry};

#[global_allocator]
static ALLOC: stitch_kernels::alloc::CachingAlloc = stitch_kernels::alloc::CachingAlloc;

fn main() {
    models::register(ModelEntry::new(
        "mini-resnet",
        "a user's residual net: stem, two identity blocks, a stride-2 block with a 1x1 projection, global average pooling, Linear(32, 10); 24,378 parameters",
        |seed| Box::new(mini_resnet::MiniResNet::<f32>::new(seed)),
    ));
    // `cargo bench` passes `--bench`; everything else is stitch's command line.
    let mut args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() == 1 {
        args.extend(["profile", "--model", "mini-resnet", "--steps", "30"].map(String::from));
    }
    if let Err(e) = stitch::cli::run_from(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
