//! The model registry: every model the CLI's `--model` can name, each an entry of a name,
//! a description and a builder (seed → module).
//!
//! The four models of the ladder are registered from the start (see [`ladder`]). A library
//! user registers their own module the same way, and it then trains, saves, resumes,
//! evaluates, summarizes, profiles and draws like the built-in ones, from the library or
//! from the command line of a binary that calls [`crate::cli::main`]:
//!
//! ```
//! use stitch::models::{self, ModelEntry};
//! use stitch::nn::{Flatten, Linear, Sequential};
//!
//! models::register(ModelEntry::new(
//!     "tiny",
//!     "Flatten -> Linear(784, 10): logistic regression",
//!     |seed| {
//!         let mut rng = stitch::nn::init::rng(seed);
//!         Box::new(Sequential::new().add(Flatten).add(Linear::new(784, 10, &mut rng)))
//!     },
//! ));
//! let model = models::build("tiny", 0).unwrap();
//! assert_eq!(stitch::nn::Module::num_parameters(&model), 7_850);
//! ```

pub mod ladder;
pub mod resnet;
pub mod vgg;

use std::sync::{Arc, RwLock};

use crate::nn::Module;

/// Builds a model in f32 from a seed.
pub type Builder = Arc<dyn Fn(u64) -> Box<dyn Module<f32>> + Send + Sync>;
/// Builds the same model in f64 (for gradient checks of whole models).
pub type Builder64 = Arc<dyn Fn(u64) -> Box<dyn Module<f64>> + Send + Sync>;

/// One registered model.
#[derive(Clone)]
pub struct ModelEntry {
    /// The name `--model` takes and checkpoints record.
    pub name: String,
    /// One line: the architecture and its parameter count.
    pub description: String,
    /// The test accuracy a reference reports for it, to print beside stitch's ("~93" for
    /// the write-up's cnn), if any.
    pub reference_accuracy: Option<String>,
    /// The builder in f32.
    pub build: Builder,
    /// The builder in f64, if the model has one.
    pub build_f64: Option<Builder64>,
}

impl ModelEntry {
    /// An entry with an f32 builder only.
    pub fn new(
        name: &str,
        description: &str,
        build: impl Fn(u64) -> Box<dyn Module<f32>> + Send + Sync + 'static,
    ) -> Self {
        ModelEntry {
            name: name.to_string(),
            description: description.to_string(),
            reference_accuracy: None,
            build: Arc::new(build),
            build_f64: None,
        }
    }

    /// With an f64 builder too (builder style).
    pub fn with_f64(
        mut self,
        build: impl Fn(u64) -> Box<dyn Module<f64>> + Send + Sync + 'static,
    ) -> Self {
        self.build_f64 = Some(Arc::new(build));
        self
    }

    /// With the accuracy a reference reports (builder style).
    pub fn with_reference_accuracy(mut self, accuracy: &str) -> Self {
        self.reference_accuracy = Some(accuracy.to_string());
        self
    }
}

impl std::fmt::Debug for ModelEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelEntry({}: {})", self.name, self.description)
    }
}

/// A model generic over the element type, registered in both f32 and f64.
macro_rules! generic_entry {
    ($name:expr, $about:expr, $acc:expr, $f:ident) => {
        ModelEntry::new($name, $about, |s| Box::new(ladder::$f::<f32>(s)))
            .with_f64(|s| Box::new(ladder::$f::<f64>(s)))
            .with_reference_accuracy($acc)
    };
}

fn builtins() -> Vec<ModelEntry> {
    vec![
        generic_entry!(
            "dnn",
            "step 1: Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10); 101,770 parameters",
            "88.66",
            dnn
        ),
        generic_entry!(
            "conv",
            "step 2: Conv2d(1, 32, 3, padding=1) -> ReLU -> Flatten -> Linear(25088, 128) -> ReLU -> Linear(128, 10); 3,213,002 parameters",
            "88.37",
            conv
        ),
        generic_entry!(
            "conv-pool",
            "step 3: [Conv2d(3x3, padding=1) -> ReLU -> MaxPool2d(2)] x2 (1->32->64) -> Flatten -> Linear(3136, 10); 50,186 parameters",
            "91.22",
            conv_pool
        ),
        generic_entry!(
            "cnn",
            "step 4: [Conv2d(3x3, padding=1) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> Dropout(0.3)] x2 (1->32->64) -> Flatten -> Linear(3136, 10); 50,378 parameters",
            "~93",
            cnn
        ),
        ModelEntry::new(
            "resnet20",
            "step 5: ResNet-20 (He et al.): conv3x3(16)-BN-ReLU, 3 stages x 3 basic blocks (16, 32, 64 channels; stride-2 1x1 projection shortcuts), global average pooling, Linear(64, 10); 272,186 parameters",
            |s| Box::new(resnet::ResNet20::<f32>::new(s)),
        )
        .with_f64(|s| Box::new(resnet::ResNet20::<f64>::new(s)))
        .with_reference_accuracy("95.6"),
        ModelEntry::new(
            "vgg-small",
            "step 6: [Conv2d(3x3, no bias) -> BN -> ReLU] x2 per stage (32, 64, 128), MaxPool2d(2) after each, global average pooling, Linear(128, 10); 288,170 parameters",
            |s| Box::new(vgg::vgg_small::<f32>(s)),
        )
        .with_f64(|s| Box::new(vgg::vgg_small::<f64>(s)))
        .with_reference_accuracy("93.5"),
    ]
}

static REGISTRY: RwLock<Vec<ModelEntry>> = RwLock::new(Vec::new());

fn with_registry<R>(f: impl FnOnce(&mut Vec<ModelEntry>) -> R) -> R {
    let mut r = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if r.is_empty() {
        *r = builtins();
    }
    f(&mut r)
}

/// Adds `entry`, or replaces the entry of the same name.
pub fn register(entry: ModelEntry) {
    with_registry(|r| match r.iter_mut().find(|e| e.name == entry.name) {
        Some(old) => *old = entry,
        None => r.push(entry),
    })
}

/// Every entry, in registration order (the ladder's four first).
pub fn entries() -> Vec<ModelEntry> {
    with_registry(|r| r.clone())
}

/// The entry named `name`, or an error listing the names there are.
pub fn entry(name: &str) -> Result<ModelEntry, String> {
    with_registry(|r| {
        r.iter().find(|e| e.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = r.iter().map(|e| e.name.as_str()).collect();
            format!(
                "unknown model '{name}'; the models are: {}",
                names.join(", ")
            )
        })
    })
}

/// Builds model `name` with PyTorch's default init from `seed` (every random draw of the
/// model, dropout's masks included, follows from it).
pub fn build(name: &str, seed: u64) -> Result<Box<dyn Module<f32>>, String> {
    Ok((entry(name)?.build)(seed))
}

/// Builds model `name` in f64, for gradient checks of a whole model.
pub fn build_f64(name: &str, seed: u64) -> Result<Box<dyn Module<f64>>, String> {
    let e = entry(name)?;
    match &e.build_f64 {
        Some(b) => Ok(b(seed)),
        None => Err(format!("model '{name}' has no f64 builder")),
    }
}

/// The accuracy a reference reports for model `name` ("-" when none is known).
pub fn seed_accuracy(name: &str) -> String {
    entry(name)
        .ok()
        .and_then(|e| e.reference_accuracy)
        .unwrap_or_else(|| "-".into())
}

/// The names of the ladder's four steps, in order.
pub const LADDER: [&str; 4] = ["dnn", "conv", "conv-pool", "cnn"];

/// The write-up's next step (`stitch ladder --deeper`): steps 5 and 6.
pub const DEEPER: [&str; 2] = ["resnet20", "vgg-small"];
