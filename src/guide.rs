//! # Write your own model
//!
//! A model is a struct of named layers and a `forward`, as in PyTorch. Implement
//! [`Module`](crate::nn::Module) with two methods:
//!
//! - [`children`](crate::nn::Module::children) lists the layers once, by name
//!   ([`children!`](crate::children) writes the list for fields of `self`). Parameter
//!   names (`layers.3.shortcut.0.weight`, PyTorch's `state_dict` keys), buffers,
//!   `train()` / `eval()`, `zero_grad()` and dropout's random state all follow from it.
//! - [`forward`](crate::nn::Module::forward) computes the output from the input with the
//!   layers and any tensor ops ([`Tensor::relu`](crate::Tensor::relu),
//!   [`Tensor::add_relu`](crate::Tensor::add_relu), [`Tensor::cat`](crate::Tensor::cat),
//!   …). Every op records its backward as it runs; there is nothing else to write.
//!
//! Make the struct generic over the element type (`T: Real = f32`) and the same model
//! exists in f64, where [`gradcheck_module`](crate::gradcheck_module) checks its gradients
//! against finite differences. Layer constructors take a `rand` generator: use
//! [`nn::init::rng`](crate::nn::init::rng) (or the re-exported [`stitch::rand`](crate::rand)),
//! not a `rand` of a different version.
//!
//! The model then trains through [`Trainer::with_model`](crate::train::Trainer::with_model)
//! with everything the built-in models get: the schedule, the non-finite guard,
//! diagnostics, checkpoints and resume. Register it with
//! [`models::register`](crate::models::register) and the command line's `--model` finds it
//! (`train`, `eval`, `summary`, `show`, `graph`, `profile`) in a binary that calls
//! [`cli::main`](crate::cli::main) after registering.
//!
//! ## A residual block, trained, saved and reloaded
//!
//! ```
//! use stitch::checkpoint::Checkpoint;
//! use stitch::data::Split;
//! use stitch::nn::{init, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, Linear, Module, Sequential};
//! use stitch::train::{predict, TrainConfig, Trainer};
//! use stitch::{children, Conv2dOptions, Real, Tensor};
//!
//! /// conv → BN → ReLU → conv → BN, plus the input, then ReLU (He et al.'s basic block).
//! struct Block<T: Real = f32> {
//!     conv1: Conv2d<T>,
//!     bn1: BatchNorm2d<T>,
//!     conv2: Conv2d<T>,
//!     bn2: BatchNorm2d<T>,
//! }
//!
//! impl<T: Real> Block<T> {
//!     fn new(channels: usize, rng: &mut impl stitch::rand::Rng) -> Self {
//!         let same = Conv2dOptions::same(3);
//!         Block {
//!             conv1: Conv2d::no_bias(channels, channels, 3, same, rng),
//!             bn1: BatchNorm2d::new_2d(channels),
//!             conv2: Conv2d::no_bias(channels, channels, 3, same, rng),
//!             bn2: BatchNorm2d::new_2d(channels),
//!         }
//!     }
//! }
//!
//! impl<T: Real> Module<T> for Block<T> {
//!     fn children(&self) -> Vec<(&str, &dyn Module<T>)> {
//!         children!(self: conv1, bn1, conv2, bn2)
//!     }
//!     fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
//!         let h = self.bn1.forward(&self.conv1.forward(x)).relu();
//!         // The sum and its ReLU in one pass (the fused op, same bits as add then relu).
//!         self.bn2.forward(&self.conv2.forward(&h)).add_relu(x)
//!     }
//! }
//!
//! /// A stem, the block, global average pooling and a linear head.
//! fn tiny_resnet(seed: u64) -> Sequential {
//!     let mut rng = init::rng(seed);
//!     Sequential::new()
//!         .add(Conv2d::no_bias(1, 8, 3, Conv2dOptions::same(3), &mut rng))
//!         .add(BatchNorm2d::new_2d(8))
//!         .add(stitch::nn::ReLU)
//!         .add(Block::new(8, &mut rng))
//!         .add(GlobalAvgPool2d::global())
//!         .add(Flatten)
//!         .add(Linear::new(8, 10, &mut rng))
//! }
//!
//! // A few synthetic 28×28 images stand in for Fashion-MNIST here.
//! let images: Vec<u8> = (0..64 * 784).map(|i| ((i * 7919) % 251) as u8).collect();
//! let labels: Vec<u8> = (0..64).map(|i| (i % 10) as u8).collect();
//! let data = Split { images, labels };
//!
//! let config = TrainConfig { model: "tiny-resnet".into(), batch: 16, ..TrainConfig::default() };
//! let mut trainer = Trainer::with_model(config, Box::new(tiny_resnet(0)));
//! for step in 0..4 {
//!     let (x, y) = data.batch(&(step * 16..(step + 1) * 16).collect::<Vec<_>>());
//!     let (loss, _correct) = trainer.train_step(&x, &y).unwrap();
//!     assert!(loss.is_finite());
//! }
//! assert_eq!(trainer.model.named_parameters()[3].0, "3.conv1.weight");
//!
//! // Save everything (weights, running statistics, optimizer state, recipe), reload it into
//! // a freshly built model, and the two predict the same logits.
//! let path = std::env::temp_dir().join(format!("guide-{}.ck", std::process::id()));
//! trainer.checkpoint(None).save(&path).unwrap();
//! let reloaded = tiny_resnet(1);
//! Checkpoint::load(&path).unwrap().load_into(&reloaded, &path).unwrap();
//! assert_eq!(
//!     predict(trainer.model.as_ref(), &data).to_vec(),
//!     predict(&reloaded, &data).to_vec()
//! );
//! # std::fs::remove_file(&path).unwrap();
//!
//! // The same block in f64, checked against finite differences with respect to its input
//! // and all four of its weights in one call.
//! let block = Block::<f64>::new(2, &mut init::rng(5));
//! let x = Tensor::<f64>::rand_uniform(&[2, 2, 4, 4], -1.0, 1.0, &mut init::rng(6));
//! stitch::assert_gradcheck_module(&block, &x);
//! ```
//!
//! ## Fusions
//! Fused ops (`add_relu` above, `max_pool2d_relu`, `conv2d_relu_max_pool2d`,
//! `batch_norm_relu_max_pool2d`, `conv2d_batch_norm_relu_max_pool2d`, `batch_norm_relu`,
//! `batch_norm_add_relu`, `conv2d_batch_norm_relu`, `conv2d_batch_norm_add_relu`) are
//! tensor methods any `forward` can call (batch norm's also as `BatchNorm::forward_relu`,
//! `BatchNorm::forward_add_relu`, and with the convolution before it taking its statistics,
//! `BatchNorm::forward_conv_relu(&conv, &x)` and `BatchNorm::forward_conv_add_relu`);
//! [`Sequential`](crate::nn::Sequential) also applies the
//! others by itself where its layers form the pattern. They give the same bits as their parts;
//! [`ops::set_fusion`](crate::ops::set_fusion) (or `--no-fusion`) turns them all off.
