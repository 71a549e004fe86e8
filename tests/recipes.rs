//! The write-up's next step: resnet20 and vgg-small (PyTorch's parameter counts and names),
//! and the recipe parts that train them: augmentation, label smoothing, one-cycle, Nesterov,
//! mirror averaging, the moving average of the weights, the validation hold-out. The
//! short training runs need the real data (they fail with the install command without it).

mod common;
use common::{head, rand64};
use stitch::data::augment::{erase_box, flip_and_crop, ImageRng};
use stitch::data::{Augment, FashionMnist, Split, PIXELS};
use stitch::models;
use stitch::nn::Module;
use stitch::train::{OptimizerKind, Schedule, Silent, TrainConfig, Trainer};
use stitch::{assert_gradcheck, Tensor};

fn real_data() -> FashionMnist {
    match FashionMnist::locate_and_load(None) {
        Ok(d) => d,
        Err(e) => panic!("these tests train on the real dataset: {e}"),
    }
}

/// The deeper nets' reference recipe R10 of `../shared/reference/pytorch_deep.py`.
fn r10(model: &str, epochs: usize) -> TrainConfig {
    TrainConfig {
        model: model.into(),
        epochs,
        lr: 0.1,
        optimizer: OptimizerKind::Sgd,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 5e-4,
        label_smoothing: 0.1,
        schedule: Schedule::OneCycle,
        augment: Augment::parse("flip,crop=2").unwrap(),
        tta: true,
        ..TrainConfig::default()
    }
}

#[test]
fn the_deeper_nets_have_pytorchs_counts_and_names() {
    let r = models::build("resnet20", 0).unwrap();
    assert_eq!(r.num_parameters(), 272_186);
    let names: Vec<String> = r.named_parameters().into_iter().map(|(n, _)| n).collect();
    for want in [
        "conv.weight",
        "bn.weight",
        "layers.0.conv1.weight",
        "layers.3.shortcut.0.weight",
        "layers.3.shortcut.1.bias",
        "layers.6.conv2.weight",
        "fc.bias",
    ] {
        assert!(names.contains(&want.to_string()), "{want} in {names:?}");
    }
    // Identity shortcuts have no parameters; only layers.3 and layers.6 project.
    assert!(!names.iter().any(|n| n.starts_with("layers.1.shortcut")));
    assert_eq!(r.named_buffers().len(), 2 * (1 + 9 * 2 + 2));
    let v = models::build("vgg-small", 0).unwrap();
    assert_eq!(v.num_parameters(), 288_170);
    let names: Vec<String> = v.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[..3], ["0.weight", "1.weight", "1.bias"]);
    assert_eq!(names.last().unwrap(), "23.bias");
    let _g = stitch::no_grad();
    for m in [&r, &v] {
        m.eval();
        assert_eq!(m.forward(&Tensor::zeros(&[2, 1, 28, 28])).shape(), [2, 10]);
    }
}

#[test]
fn both_train_a_short_epoch_on_real_data() {
    let data = real_data();
    // 47 steps: at 23 (3,000 images) resnet20's accuracy after the epoch moved by several
    // points with the rounding of its convolutions (38.9% on AVX2's Winograd path, above 40%
    // on the phase planes), too close to the floor to say whether it learns.
    let (train, test) = (data.train.truncated(6_000), data.test.truncated(1_000));
    for (model, floor) in [("resnet20", 40.0), ("vgg-small", 40.0)] {
        let mut cfg = r10(model, 1);
        cfg.limit_train = Some(6_000);
        let mut t = Trainer::new(cfg).unwrap();
        let m = t.run_epoch(&train, &test, &mut Silent).unwrap();
        // The loss starts at ln 10 ≈ 2.30 and falls well below it within one short epoch.
        assert!(m.train_loss < 2.0, "{model}: {m:?}");
        assert!(m.test_acc > floor, "{model}: {m:?}");
    }
}

/// A hand-made image: pixel (r, c) = r·28 + c (mod 256), all different within a row.
fn ramp() -> Vec<u8> {
    (0..PIXELS).map(|i| (i % 256) as u8).collect()
}

#[test]
fn flip_and_crop_are_exact() {
    let img = ramp();
    let mut out = [0u8; PIXELS];
    // Flip only: each row reversed (some seed gives a flip; find one).
    let flip = Augment::parse("flip").unwrap();
    let (mut flipped, mut kept) = (0, 0);
    for i in 0..64 {
        flip_and_crop(&mut out, &img, &flip, &mut ImageRng::new(1, 1, i));
        if out[..] == img[..] {
            kept += 1;
        } else {
            for r in 0..28 {
                for c in 0..28 {
                    assert_eq!(out[r * 28 + c], img[r * 28 + 27 - c]);
                }
            }
            flipped += 1;
        }
    }
    assert!(
        flipped > 16 && kept > 16,
        "p = 1/2: {flipped} flipped, {kept} kept"
    );
    // Crop = 2: a shifted copy with background (0) where the window leaves the image.
    let crop = Augment::parse("crop=2").unwrap();
    let mut offsets = std::collections::HashSet::new();
    for i in 0..200 {
        flip_and_crop(&mut out, &img, &crop, &mut ImageRng::new(3, 2, i));
        // Find the shift (dy, dx) ∈ [-2, 2]² that explains the output exactly.
        let found = (-2i32..=2)
            .flat_map(|dy| (-2i32..=2).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| {
                (0..28).all(|r| {
                    (0..28).all(|c| {
                        let (sr, sc) = (r as i32 + dy, c as i32 + dx);
                        let want = if (0..28).contains(&sr) && (0..28).contains(&sc) {
                            img[sr as usize * 28 + sc as usize]
                        } else {
                            0
                        };
                        out[r * 28 + c] == want
                    })
                })
            });
        offsets.insert(found.expect("the output is a shift of the image"));
    }
    assert_eq!(
        offsets.len(),
        25,
        "every offset of 0..=2P in each direction occurs"
    );
}

#[test]
fn erasing_keeps_to_its_area_and_aspect() {
    let (mut erased, mut tries) = (0, 0);
    for i in 0..2_000 {
        tries += 1;
        if let Some((y0, x0, h, w)) = erase_box(&mut ImageRng::new(9, 4, i)) {
            erased += 1;
            assert!(h < 28 && w < 28 && y0 + h <= 28 && x0 + w <= 28);
            let area = (h * w) as f64 / 784.0;
            // Rounding h and w moves the area and aspect a little past the drawn bounds.
            assert!((0.01..=0.47).contains(&area), "area {area} of {h}x{w}");
            let aspect = h as f64 / w as f64;
            assert!((0.2..=4.5).contains(&aspect), "aspect {aspect} of {h}x{w}");
        }
    }
    let p = erased as f64 / tries as f64;
    assert!(
        (0.4..0.6).contains(&p),
        "erased {p} of the images (p = 1/2)"
    );
}

fn small_split(n: usize) -> Split {
    Split {
        images: (0..n * PIXELS).map(|i| ((i * 7919) % 253) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}

#[test]
fn augmented_batches_are_the_same_on_1_2_and_8_threads_and_off_by_default() {
    let split = small_split(64);
    let idx: Vec<usize> = (0..64).rev().collect();
    let aug = Augment::parse("flip,crop=3,erase").unwrap();
    let batch = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| split.batch_augmented(&idx, &aug, 5, 2).0.to_vec())
    };
    let one = batch(1);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&batch(2)), bits(&one));
    assert_eq!(bits(&batch(8)), bits(&one));
    // Another epoch draws other augmentations; none at all is the plain batch.
    assert_ne!(
        bits(&split.batch_augmented(&idx, &aug, 5, 3).0.to_vec()),
        bits(&one)
    );
    assert_eq!(TrainConfig::default().augment, Augment::none());
    assert_eq!(
        bits(
            &split
                .batch_augmented(&idx, &Augment::none(), 5, 2)
                .0
                .to_vec()
        ),
        bits(&split.batch(&idx).0.to_vec())
    );
    assert_eq!(
        Augment::parse("flip,crop=2,erase").unwrap().to_string(),
        "flip,crop=2,erase"
    );
    assert!(Augment::parse("crop=0").is_err() && Augment::parse("mixup").is_err());
}

#[test]
fn augmentation_never_touches_the_evaluation() {
    // The same weights evaluate the same with and without an augmenting recipe.
    let test = small_split(40);
    let plain = Trainer::new(TrainConfig {
        model: "cnn".into(),
        ..TrainConfig::default()
    })
    .unwrap();
    let augmenting = Trainer::new(TrainConfig {
        model: "cnn".into(),
        augment: Augment::parse("flip,crop=2,erase").unwrap(),
        ..TrainConfig::default()
    })
    .unwrap();
    assert_eq!(plain.evaluate(&test), augmenting.evaluate(&test));
}

#[test]
fn one_cycle_follows_pytorchs_one_cycle_lr() {
    // torch.optim.lr_scheduler.OneCycleLR(SGD(lr=0.1, momentum=0.9), max_lr=0.1,
    // total_steps=4690), lr and momentum before each step (PyTorch 2.15).
    let want = [
        (0, 0.0040000000000000036, 0.95),
        (1, 0.004000119822993448, 0.9499998751843818),
        (700, 0.05167824612076259, 0.9003351602908722),
        (1406, 0.1, 0.85),
        (1407, 0.0999999771073421, 0.8500000228927495),
        (3000, 0.05227211097364917, 0.8977280799386705),
        (4689, 4e-07, 0.95),
    ];
    for (t, lr, mom) in want {
        let got = Schedule::OneCycle.lr_at(0.1, t, 4690);
        assert!(
            (got - lr).abs() <= 1e-12 * lr.max(1e-3),
            "lr at {t}: {got} vs {lr}"
        );
        let m = Schedule::OneCycle.momentum_at(t, 4690).unwrap();
        assert!((m - mom).abs() < 1e-12, "momentum at {t}: {m} vs {mom}");
    }
    // Warm-up + cosine: rises linearly over 5 % of the steps, then falls to 0.
    let s = Schedule::WarmupCosine;
    assert!((s.lr_at(0.1, 0, 1000) - 0.1 / 50.0).abs() < 1e-15);
    assert!((s.lr_at(0.1, 49, 1000) - 0.1).abs() < 1e-15);
    assert!(s.lr_at(0.1, 999, 1000) < 1e-6);
    assert!(Schedule::Cosine.momentum_at(3, 10).is_none());
}

#[test]
fn label_smoothing_equals_pytorchs_loss_and_gradient() {
    // F.cross_entropy(z, [2, 0], label_smoothing=0.1) in float64, PyTorch 2.15.
    let z = Tensor::<f64>::from_vec(vec![1.0, -0.5, 2.0, 0.3, 0.1, -1.2], &[2, 3]).requires_grad_();
    let loss = z.cross_entropy_smoothed(&[2, 0], 0.1);
    assert!(
        (loss.item() - 0.6293669847975915).abs() < 1e-14,
        "{}",
        loss.item()
    );
    loss.backward();
    let want = [
        0.11019142415084596,
        0.011639199453568973,
        -0.12183062360441488,
        -0.22179200514531283,
        0.1838197493704273,
        0.037972255774885555,
    ];
    for (g, w) in z.grad().unwrap().to_vec().iter().zip(want) {
        assert!((g - w).abs() < 1e-14, "{g} vs {w}");
    }
    for eps in [0.0, 0.1, 0.5] {
        assert_gradcheck(
            |t| t[0].cross_entropy_smoothed(&[1, 0, 3, 3], eps),
            &[rand64(&[4, 5], 3)],
        );
        assert_gradcheck(
            |t| head(&t[0], 1).add(&t[0].cross_entropy_smoothed(&[2, 2], eps)),
            &[rand64(&[2, 4], 4)],
        );
    }
}

#[test]
fn resnet20_with_every_recipe_part_is_bitwise_identical_on_1_2_and_8_threads() {
    let train = small_split(96);
    let test = small_split(32);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut cfg = r10("resnet20", 2);
            cfg.batch = 32;
            cfg.augment = Augment::parse("flip,crop=2,erase").unwrap();
            cfg.ema = Some(0.9);
            let mut t = Trainer::new(cfg).unwrap();
            let (val_rest, val) = train.hold_out(16, 1);
            t.validation = Some(val);
            let mut figures = Vec::new();
            for _ in 0..2 {
                let m = t.run_epoch(&val_rest, &test, &mut Silent).unwrap();
                figures.push([m.train_loss, m.test_acc, m.val.unwrap().1]);
            }
            (t.checkpoint(None).to_bytes(), figures)
        })
    };
    let one = run(1);
    for threads in [2, 8] {
        let other = run(threads);
        assert!(
            other.0 == one.0,
            "{threads} threads: the checkpoint differs"
        );
        assert_eq!(other.1, one.1);
    }
}

#[test]
fn a_run_with_ema_resumes_exactly() {
    let train = small_split(64);
    let test = small_split(16);
    let cfg = TrainConfig {
        model: "cnn".into(),
        epochs: 2,
        batch: 32,
        ema: Some(0.5),
        augment: Augment::parse("flip").unwrap(),
        ..TrainConfig::default()
    };
    let mut straight = Trainer::new(cfg.clone()).unwrap();
    for _ in 0..2 {
        straight.run_epoch(&train, &test, &mut Silent).unwrap();
    }
    let mut first = Trainer::new(cfg.clone()).unwrap();
    first.run_epoch(&train, &test, &mut Silent).unwrap();
    let ck = first.checkpoint(None);
    let path = std::path::Path::new("mem.ck");
    let back = TrainConfig::from_checkpoint(&ck, path).unwrap();
    assert_eq!(
        (back.ema, back.augment),
        (Some(0.5), Augment::parse("flip").unwrap())
    );
    let mut resumed = Trainer::resume(&ck, path, back).unwrap();
    let last = resumed.run_epoch(&train, &test, &mut Silent).unwrap();
    let want = straight.evaluate(&test);
    assert_eq!(last.test_acc, want.accuracy);
    assert!(resumed.checkpoint(None).to_bytes() == straight.checkpoint(None).to_bytes());
}
