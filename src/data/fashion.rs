//! The Fashion-MNIST dataset in memory.
//!
//! Pixels stay as `u8` (47 MB for the 60,000 training images instead of 188 MB of f32); each
//! batch is converted as it is drawn: x = (pixel / 255 − 0.2860) / 0.3530, the training
//! set's mean and standard deviation, the normalisation the PyTorch reference uses.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::augment::{erase_box, flip_and_crop, Augment, ImageRng};
use super::idx::{find_file, read_idx, IdxKind};
use super::DataError;
use crate::Tensor;

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The last place searched, relative to the working directory.
pub const FALLBACK_DIR: &str = "data/fashion-mnist";
/// Mean of the training pixels scaled to [0, 1].
pub const MEAN: f32 = 0.2860;
/// Standard deviation of the training pixels scaled to [0, 1].
pub const STD: f32 = 0.3530;
/// Pixels per image.
pub const PIXELS: usize = 28 * 28;

/// The ten classes, by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// One split: images `[len, 28, 28]` and labels `[len]`, as bytes.
#[derive(Clone, Debug)]
pub struct Split {
    /// The images' pixels, 784 bytes per image, row-major.
    pub images: Vec<u8>,
    /// The labels, one byte (0–9) per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` examples.
    pub fn truncated(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split {
            images: self.images[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// The examples at `indices` as a normalized `[B, 1, 28, 28]` f32 tensor and their labels.
    pub fn batch(&self, indices: &[usize]) -> (Tensor<f32>, Vec<usize>) {
        let _p = crate::profile::scope("batch", crate::profile::Pass::Data);
        // Every element is written below, so a recycled buffer will do.
        let mut x = crate::tensor::recycle::take(indices.len() * PIXELS, 0.0f32);
        let scale = 1.0 / (255.0 * STD);
        let shift = MEAN / STD;
        // Images in parallel, 32 a task (each element on its own: the same bits anywhere).
        use rayon::prelude::*;
        x.par_chunks_mut(PIXELS)
            .zip(indices.par_iter())
            .with_min_len(32)
            .for_each(|(row, &i)| {
                // (p/255 − mean)/std, as one multiply-add per pixel.
                for (v, &p) in row.iter_mut().zip(self.image(i)) {
                    *v = p as f32 * scale - shift;
                }
            });
        let y = indices.iter().map(|&i| self.labels[i] as usize).collect();
        (Tensor::from_vec(x, &[indices.len(), 1, 28, 28]), y)
    }

    /// [`Split::batch`] with the augmentations `aug` (see [`super::augment`]) drawn for
    /// epoch `epoch` of a run seeded with `seed`. Each image's draws depend only on (seed,
    /// epoch, its index in the split), and images are built in parallel: the batch is the
    /// same bits on any number of threads. With nothing on, it is `batch(indices)`.
    pub fn batch_augmented(
        &self,
        indices: &[usize],
        aug: &Augment,
        seed: u64,
        epoch: u64,
    ) -> (Tensor<f32>, Vec<usize>) {
        if !aug.is_on() {
            return self.batch(indices);
        }
        use rayon::prelude::*;
        let _p = crate::profile::scope("augment", crate::profile::Pass::Data);
        let mut x = crate::tensor::recycle::take(indices.len() * PIXELS, 0.0f32);
        let scale = 1.0 / (255.0 * STD);
        let shift = MEAN / STD;
        x.par_chunks_mut(PIXELS)
            .zip(indices.par_iter())
            .with_min_len(8)
            .for_each(|(row, &i)| {
                let mut rng = ImageRng::new(seed, epoch, i as u64);
                let mut pixels = [0u8; PIXELS];
                flip_and_crop(&mut pixels, self.image(i), aug, &mut rng);
                for (v, &p) in row.iter_mut().zip(&pixels) {
                    *v = p as f32 * scale - shift;
                }
                if aug.erase {
                    if let Some((y0, x0, h, w)) = erase_box(&mut rng) {
                        for r in y0..y0 + h {
                            for v in &mut row[r * 28 + x0..r * 28 + x0 + w] {
                                *v = rng.normal() as f32;
                            }
                        }
                    }
                }
            });
        let y = indices.iter().map(|&i| self.labels[i] as usize).collect();
        (Tensor::from_vec(x, &[indices.len(), 1, 28, 28]), y)
    }

    /// Splits off `n` examples chosen by `seed` (a seeded permutation's last `n`) as a
    /// validation set: (the rest, the held-out), each in the split's own order.
    pub fn hold_out(&self, n: usize, seed: u64) -> (Split, Split) {
        let n = n.min(self.len());
        let perm = epoch_permutation(self.len(), seed.wrapping_add(0x7A1D), 0);
        let mut held: Vec<usize> = perm[self.len() - n..].to_vec();
        held.sort_unstable();
        let mut is_held = vec![false; self.len()];
        held.iter().for_each(|&i| is_held[i] = true);
        let pick = |keep: bool| {
            let idx: Vec<usize> = (0..self.len()).filter(|&i| is_held[i] != keep).collect();
            Split {
                images: idx.iter().flat_map(|&i| self.image(i).to_vec()).collect(),
                labels: idx.iter().map(|&i| self.labels[i]).collect(),
            }
        };
        (pick(true), pick(false))
    }

    /// The raw pixels of example `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The training and test splits.
#[derive(Clone, Debug)]
pub struct FashionMnist {
    /// The directory the files came from.
    pub dir: PathBuf,
    /// The 60,000 training images.
    pub train: Split,
    /// The 10,000 test images.
    pub test: Split,
}

/// Reads one images file and one labels file and checks that their counts agree.
fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Split, DataError> {
    let missing = || DataError::NotFound {
        looked: vec![dir.to_path_buf()],
    };
    let ip = find_file(dir, images).ok_or_else(missing)?;
    let lp = find_file(dir, labels).ok_or_else(missing)?;
    let img = read_idx(&ip, IdxKind::Images)?;
    let lab = read_idx(&lp, IdxKind::Labels)?;
    if img.dims[0] == 0 {
        return Err(DataError::EmptySplit { file: ip });
    }
    if lab.dims[0] == 0 {
        return Err(DataError::EmptySplit { file: lp });
    }
    if img.dims[0] != lab.dims[0] {
        return Err(DataError::CountMismatch {
            images: ip,
            n_images: img.dims[0],
            labels: lp,
            n_labels: lab.dims[0],
        });
    }
    Ok(Split {
        images: img.data,
        labels: lab.data,
    })
}

impl FashionMnist {
    /// Reads the four files from `dir` (each `.gz` or plain).
    pub fn load(dir: &Path) -> Result<FashionMnist, DataError> {
        let train = load_split(dir, FILES[0], FILES[1])?;
        let test = load_split(dir, FILES[2], FILES[3])?;
        Ok(FashionMnist {
            dir: dir.to_path_buf(),
            train,
            test,
        })
    }

    /// [`locate`] then [`FashionMnist::load`].
    pub fn locate_and_load(explicit: Option<&Path>) -> Result<FashionMnist, DataError> {
        Self::load(&locate(explicit)?)
    }
}

fn has_all_files(dir: &Path) -> bool {
    FILES.iter().all(|f| find_file(dir, f).is_some())
}

/// The files of the four that `dir` lacks.
fn missing_files(dir: &Path) -> Vec<String> {
    FILES
        .iter()
        .filter(|f| find_file(dir, f).is_none())
        .map(|f| f.to_string())
        .collect()
}

/// The dataset directory: `explicit` (`--data`), else `$STITCH_DATA`, else [`DEFAULT_DIR`],
/// else [`FALLBACK_DIR`]. An explicit or environment directory must hold all four files (the
/// error names the ones it lacks); otherwise the first directory with all four.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let given = |d: PathBuf, given_by: &'static str| {
        let missing = missing_files(&d);
        if missing.is_empty() {
            Ok(d)
        } else {
            Err(DataError::Incomplete {
                dir: d,
                given_by,
                missing,
            })
        }
    };
    if let Some(d) = explicit {
        return given(d.to_path_buf(), "--data");
    }
    if let Some(d) = std::env::var_os("STITCH_DATA").filter(|s| !s.is_empty()) {
        return given(PathBuf::from(d), "STITCH_DATA");
    }
    let looked = vec![PathBuf::from(DEFAULT_DIR), PathBuf::from(FALLBACK_DIR)];
    looked
        .iter()
        .find(|d| has_all_files(d))
        .cloned()
        .ok_or(DataError::NotFound { looked })
}

/// The order in which epoch `epoch` visits `n` examples: a Fisher–Yates shuffle driven by a
/// ChaCha8 generator seeded with `seed` on stream `epoch`, so every epoch's order follows
/// from the seed alone (a resumed run replays it exactly).
pub fn epoch_permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.gen_range(0..=i);
        p.swap(i, j);
    }
    p
}
