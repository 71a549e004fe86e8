//! Weights in and out as safetensors: every built-in model round-trips bit for bit; files
//! written by the reference implementation (the `safetensors` crate, a dev-dependency used
//! as an independent oracle) load; files stitch writes parse in the reference reader with
//! the same tensors; wrong files give one line naming each problem.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype as RefDtype, TensorView};
use stitch::checkpoint::Checkpoint;
use stitch::data::{Split, PIXELS};
use stitch::models;
use stitch::nn::Module;
use stitch::safetensors::{load_module, save_module, SafeTensors};
use stitch::train::predict;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stitch-st-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn images(n: usize) -> Split {
    Split {
        images: (0..n * PIXELS).map(|i| ((i * 7919) % 251) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}

fn state_bits(m: &dyn Module<f32>) -> Vec<(String, Vec<u32>)> {
    let mut v: Vec<(String, Vec<u32>)> = m
        .named_parameters()
        .into_iter()
        .chain(m.named_buffers())
        .map(|(n, t)| (n, t.to_vec().iter().map(|x| x.to_bits()).collect()))
        .collect();
    v.extend(
        m.named_counters()
            .into_iter()
            .map(|(n, c)| (n, vec![c as u32])),
    );
    v
}

#[test]
fn every_built_in_model_round_trips_bit_for_bit() {
    let test = images(20);
    for name in ["dnn", "conv", "conv-pool", "cnn", "resnet20", "vgg-small"] {
        let m = models::build(name, 3).unwrap();
        // Move batch norm's statistics and counters off their initial values first.
        m.train();
        let _ = m.forward(&images(8).batch(&(0..8).collect::<Vec<_>>()).0);
        let p = tmp(&format!("{name}.safetensors"));
        save_module(m.as_ref(), &p, &[("model".into(), name.into())]).unwrap();
        let back = models::build(name, 9).unwrap();
        let report = load_module(back.as_ref(), &p).unwrap();
        assert!(
            report.metadata.contains(&("format".into(), "pt".into())),
            "{name}"
        );
        assert!(
            report.metadata.contains(&("model".into(), name.into())),
            "{name}"
        );
        assert_eq!(state_bits(back.as_ref()), state_bits(m.as_ref()), "{name}");
        assert_eq!(
            predict(back.as_ref(), &test).to_vec(),
            predict(m.as_ref(), &test).to_vec(),
            "{name}"
        );
        // The reference reader opens it: the same names, F32 weights, I64 0-dim counters.
        let bytes = std::fs::read(&p).unwrap();
        let r = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let names: std::collections::HashSet<String> =
            r.names().into_iter().map(String::from).collect();
        assert_eq!(names.len(), state_bits(m.as_ref()).len(), "{name}");
        for (n, t) in r.tensors() {
            if n.ends_with("num_batches_tracked") {
                assert_eq!((t.dtype(), t.shape()), (RefDtype::I64, &[][..]), "{n}");
            } else {
                assert_eq!(t.dtype(), RefDtype::F32, "{n}");
            }
        }
    }
}

/// The tensors of a file to write: name, shape, bytes, dtype.
type Tensors = Vec<(String, Vec<usize>, Vec<u8>, RefDtype)>;
/// A change made to them.
type Edit = Box<dyn Fn(&mut Tensors)>;

/// A file the reference writer makes, with PyTorch's names for `cnn` (values from our own
/// model, renamed/reshaped/dropped/extended as `edit` says).
fn reference_file(path: &Path, edit: impl Fn(&mut Tensors)) {
    let m = models::build("cnn", 4).unwrap();
    let mut tensors: Tensors = m
        .named_parameters()
        .into_iter()
        .chain(m.named_buffers())
        .map(|(n, t)| {
            let bytes = t.to_vec().iter().flat_map(|v| v.to_le_bytes()).collect();
            (n, t.shape().to_vec(), bytes, RefDtype::F32)
        })
        .collect();
    for (n, _) in m.named_counters() {
        tensors.push((n, vec![], 7i64.to_le_bytes().to_vec(), RefDtype::I64));
    }
    edit(&mut tensors);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, b, d)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize_to_file(views, Some(meta), path).unwrap();
}

#[test]
fn a_file_from_the_reference_writer_loads() {
    let p = tmp("ref-cnn.safetensors");
    reference_file(&p, |_| {});
    let m = models::build("cnn", 0).unwrap();
    load_module(m.as_ref(), &p).unwrap();
    assert_eq!(state_bits(m.as_ref()), {
        let want = models::build("cnn", 4).unwrap();
        for (n, _) in want.named_counters() {
            want.set_counter(&n, 7);
        }
        state_bits(want.as_ref())
    });
    // F64 tensors (a PyTorch model in double precision) load, rounded to f32.
    let p64 = tmp("ref-cnn-f64.safetensors");
    reference_file(&p64, |ts| {
        for t in ts.iter_mut().filter(|t| t.3 == RefDtype::F32) {
            t.2 =
                t.2.chunks(4)
                    .flat_map(|c| (f32::from_le_bytes(c.try_into().unwrap()) as f64).to_le_bytes())
                    .collect();
            t.3 = RefDtype::F64;
        }
    });
    let m64 = models::build("cnn", 0).unwrap();
    load_module(m64.as_ref(), &p64).unwrap();
    assert_eq!(state_bits(m64.as_ref()), state_bits(m.as_ref()));
    // A file without the counters (a layer that keeps none) loads too.
    let p2 = tmp("ref-cnn-nocount.safetensors");
    reference_file(&p2, |ts| {
        ts.retain(|t| !t.0.ends_with("num_batches_tracked"))
    });
    load_module(models::build("cnn", 0).unwrap().as_ref(), &p2).unwrap();
    // The checkpoint reader takes it too (for `eval --model`, `train --init`).
    let ck = Checkpoint::load(&p).unwrap();
    ck.load_into(models::build("cnn", 0).unwrap().as_ref(), &p)
        .unwrap();
}

#[test]
fn wrong_files_say_what_is_missing_unexpected_and_reshaped_in_one_line() {
    let cases: [(&str, Edit, &[&str]); 4] = [
        (
            "renamed",
            Box::new(|ts| ts[0].0 = "0.kernel".into()),
            &[
                "missing 0.weight [32, 1, 3, 3]",
                "unexpected 0.kernel [32, 1, 3, 3]",
            ],
        ),
        (
            "missing",
            Box::new(|ts| {
                ts.remove(2);
            }),
            &["missing 1.weight [32]"],
        ),
        (
            "extra",
            Box::new(|ts| ts.push(("head.scale".into(), vec![1], vec![0; 4], RefDtype::F32))),
            &["unexpected head.scale [1]"],
        ),
        (
            "reshaped",
            Box::new(|ts| ts[0].1 = vec![32, 9]),
            &["tensor 0.weight has shape [32, 9], the model expects [32, 1, 3, 3]"],
        ),
    ];
    for (what, edit, want) in cases {
        let p = tmp(&format!("{what}.safetensors"));
        reference_file(&p, |ts| edit(ts));
        let m = models::build("cnn", 0).unwrap();
        let before = state_bits(m.as_ref());
        let e = load_module(m.as_ref(), &p).unwrap_err().to_string();
        assert!(
            !e.contains('\n') && e.contains(p.to_str().unwrap()),
            "{what}: {e}"
        );
        for w in want {
            assert!(e.contains(w), "{what}: {w:?} in {e}");
        }
        assert_eq!(
            state_bits(m.as_ref()),
            before,
            "{what}: nothing is written on an error"
        );
    }
}

#[test]
fn stitch_checkpoints_are_safetensors_files_the_reference_reads() {
    let p = tmp("train.ck");
    let mut t = stitch::train::Trainer::new(stitch::train::TrainConfig {
        model: "cnn".into(),
        batch: 10,
        ..Default::default()
    })
    .unwrap();
    let data = images(20);
    let (x, y) = data.batch(&(0..10).collect::<Vec<_>>());
    t.train_step(&x, &y).unwrap();
    t.checkpoint(None).save(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let r = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(r
        .names()
        .iter()
        .any(|n| n.starts_with("optimizer.exp_avg.")));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["model"], "cnn");
    assert_eq!(meta["stitch.format"], "checkpoint");
    assert!(meta.contains_key("stitch.crc32"));
    // Ours reads the same tensors and values.
    let ours = SafeTensors::parse(&bytes, &p).unwrap();
    for info in &ours.tensors {
        let theirs = r.tensor(&info.name).unwrap();
        assert_eq!(theirs.shape(), &info.shape[..], "{}", info.name);
        assert_eq!(theirs.data(), ours.bytes(info), "{}", info.name);
    }
}

#[test]
fn the_reference_reader_refuses_the_corpus_too() {
    // Every malformed safetensors file of tests/corpus is refused by the reference reader
    // as well: the two agree on what a valid file is.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("st-") || name.ends_with("-for-dnn") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            SafeTensors::parse(&bytes, &p).is_err(),
            "{name}: stitch accepts it"
        );
        assert!(
            safetensors::SafeTensors::deserialize(&bytes).is_err(),
            "{name}: the reference accepts it"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}
