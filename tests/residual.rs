//! A small residual network written as a user writes one, against the public API only:
//! it trains through the same `Trainer` as the built-in models (on the real data: these
//! tests fail with the install command when it is missing), saves and resumes
//! byte-identically, gives the same bits on 1, 2 and 8 threads, and its `summary` counts
//! the parameters PyTorch counts for the same architecture.

use stitch::checkpoint::Checkpoint;
use stitch::data::FashionMnist;
use stitch::models::{self, ModelEntry};
use stitch::nn::Module;
use stitch::train::{Silent, TrainConfig, Trainer};

#[path = "common/mini_resnet.rs"]
mod mini_resnet;
use mini_resnet::MiniResNet;

// ---- the tests ----

/// PyTorch's count for the same architecture, layer by layer: stem 144 + 32; each identity
/// block 2·(16·16·9) + 2·32 = 4,672; the stride-2 block 32·16·9 + 32·32·9 + 32·16 (1×1) +
/// 3·64 = 14,528; the head 32·10 + 10 = 330.
const PYTORCH_PARAMETERS: usize = 176 + 2 * 4_672 + 14_528 + 330;

fn real_data() -> FashionMnist {
    match FashionMnist::locate_and_load(None) {
        Ok(d) => d,
        Err(e) => panic!("these tests train on the real dataset: {e}"),
    }
}

fn register() {
    models::register(
        ModelEntry::new("mini-resnet", "a user's residual net", |s| {
            Box::new(MiniResNet::<f32>::new(s))
        })
        .with_f64(|s| Box::new(MiniResNet::<f64>::new(s))),
    );
}

fn recipe(epochs: usize, n: usize) -> TrainConfig {
    TrainConfig {
        model: "mini-resnet".into(),
        epochs,
        batch: 64,
        seed: 5,
        limit_train: Some(n),
        ..TrainConfig::default()
    }
}

#[test]
fn the_names_and_the_count_follow_pytorch() {
    let m = MiniResNet::<f32>::new(0);
    assert_eq!(m.num_parameters(), PYTORCH_PARAMETERS);
    let s = stitch::summary::summarize(&m, 8);
    assert_eq!(s.parameters(), PYTORCH_PARAMETERS, "{s}");
    // Multiply-adds per image: stem, 4 identity convs, the stride-2 block, the head.
    let want =
        16 * 9 * 784 + 4 * 16 * 16 * 9 * 784 + (32 * 16 * 9 + 32 * 32 * 9 + 32 * 16) * 196 + 320;
    assert_eq!(s.mult_adds(), want as u64, "{s}");
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..3],
        ["stem.0.weight", "stem.1.weight", "stem.1.bias"]
    );
    assert!(names.contains(&"layers.2.shortcut.0.weight".to_string()));
    assert!(names.contains(&"layers.2.shortcut.1.bias".to_string()));
    assert_eq!(names.last().unwrap(), "fc.bias");
    let buffers: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers.len(), 2 * (1 + 2 * 3 + 1));
    assert_eq!(buffers[0], "stem.1.running_mean");
    // Every row of the summary has an output shape; the last is the logits.
    assert_eq!(s.layers.last().unwrap().output_shape, [10]);
    // Traced with fusion off: the block's add_relu shows as its add and its relu.
    assert!(
        s.layers
            .iter()
            .any(|l| l.op == "add" && l.module == "layers.2"),
        "{s}"
    );
}

#[test]
fn it_trains_through_the_trainer_and_resumes_byte_identically() {
    register();
    let data = real_data();
    let test = data.test.truncated(2000);

    // One short epoch: the loss falls and it beats chance by far.
    let mut t = Trainer::new(recipe(1, 6_000)).unwrap();
    let m = t
        .run_epoch(&data.train.truncated(6_000), &test, &mut Silent)
        .unwrap();
    assert!(m.train_loss < 1.9, "{m:?}");
    assert!(m.test_acc > 55.0, "{m:?}");

    // 2 epochs straight against 1 + save + load + resume to 2.
    let train = data.train.truncated(1_024);
    let mut straight = Trainer::new(recipe(2, 1_024)).unwrap();
    for _ in 0..2 {
        straight.run_epoch(&train, &test, &mut Silent).unwrap();
    }
    let mut first = Trainer::new(recipe(2, 1_024)).unwrap();
    first.run_epoch(&train, &test, &mut Silent).unwrap();
    let dir = std::env::temp_dir().join(format!("stitch-residual-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mini.ck");
    first.checkpoint(None).save(&path).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    // The user's own model, not the registry's: resume_with_model.
    let mut resumed = Trainer::resume_with_model(
        &ck,
        &path,
        recipe(2, 1_024),
        Box::new(MiniResNet::<f32>::new(5)),
    )
    .unwrap();
    assert_eq!(resumed.epoch, 1);
    resumed.run_epoch(&train, &test, &mut Silent).unwrap();
    assert!(
        resumed.checkpoint(None).to_bytes() == straight.checkpoint(None).to_bytes(),
        "a resumed run differs from the straight one"
    );
}

#[test]
fn the_same_seed_gives_the_same_bits_on_1_2_and_8_threads() {
    let data = real_data();
    let train = data.train.truncated(512);
    let test = data.test.truncated(256);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut t = Trainer::with_model(recipe(2, 512), Box::new(MiniResNet::<f32>::new(5)));
            for _ in 0..2 {
                t.run_epoch(&train, &test, &mut Silent).unwrap();
            }
            t.checkpoint(None).to_bytes()
        })
    };
    let one = run(1);
    assert!(run(2) == one, "2 threads differ from 1");
    assert!(run(8) == one, "8 threads differ from 1");
}
