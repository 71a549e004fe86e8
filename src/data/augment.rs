//! Augmentation of training images, as the batch is built: torchvision's recipe for
//! Fashion-MNIST-sized images, on the u8 pixels where it can be exact.
//!
//! For each image, in this order (the order of `../shared/reference/pytorch_deep.py`):
//! 1. **flip**: the horizontal mirror with probability 1/2;
//! 2. **crop = P**: pad the 28×28 image by P pixels of background (pixel 0, i.e. −μ/σ after
//!    normalization) on every side and cut a random 28×28 window out of the 28 + 2P square:
//!    offsets dy, dx uniform in 0..=2P;
//! 3. (normalization, (x/255 − μ)/σ)
//! 4. **erase**: with probability 1/2, random erasing (Zhong et al. 2017, torchvision's
//!    `RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 3.3), value='random')`): up to 10
//!    tries of an area a = 784 · U(0.02, 0.4) and an aspect r = exp(U(ln 0.3, ln 1/0.3)),
//!    h = round(√(a r)), w = round(√(a / r)) (round half to even, as Python's `round`); the
//!    first try with h < 28 and w < 28 fills an h × w rectangle at a uniform position with
//!    N(0, 1) noise in normalized units.
//!
//! The randomness of image i in epoch e is its own counter-based stream keyed by
//! (seed, epoch, i) ([`ImageRng`]): any thread may build any image, in any order, and the
//! batch comes out the same bits on 1 or 8 threads.

use std::fmt;

use crate::nn::splitmix64;

/// Which augmentations run, parsed from `--augment flip,crop=P,erase` (or `none`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    /// Mirror with probability 1/2.
    pub flip: bool,
    /// Random 28×28 crop of the image padded by this many pixels (0: no crop).
    pub crop: usize,
    /// Random erasing with probability 1/2.
    pub erase: bool,
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Augment::default()
    }

    /// Whether anything runs.
    pub fn is_on(&self) -> bool {
        self.flip || self.crop > 0 || self.erase
    }

    /// Parses `none` or a comma-separated list of `flip`, `crop=P` (P ≤ 14), `erase`.
    pub fn parse(s: &str) -> Result<Augment, String> {
        let mut a = Augment::none();
        if s.trim() == "none" || s.trim().is_empty() {
            return Ok(a);
        }
        for part in s.split(',').map(str::trim) {
            match part {
                "flip" => a.flip = true,
                "erase" => a.erase = true,
                p if p.starts_with("crop=") => {
                    let v = &p["crop=".len()..];
                    a.crop = match v.parse::<usize>() {
                        Ok(n) if (1..=14).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "--augment crop={v}: the padding must be a whole number of pixels from 1 to 14"
                            ))
                        }
                    };
                }
                other => {
                    return Err(format!(
                    "--augment: unknown part {other:?}; use none or a list of flip, crop=P, erase"
                ))
                }
            }
        }
        Ok(a)
    }
}

impl fmt::Display for Augment {
    /// The form [`Augment::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.flip {
            parts.push("flip".to_string());
        }
        if self.crop > 0 {
            parts.push(format!("crop={}", self.crop));
        }
        if self.erase {
            parts.push("erase".to_string());
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// The random stream of one image in one epoch: SplitMix64 from a key that mixes the seed,
/// the epoch and the image's index, so it depends on nothing else.
pub struct ImageRng {
    state: u64,
}

impl ImageRng {
    /// The stream of image `index` in epoch `epoch` of a run seeded with `seed`.
    pub fn new(seed: u64, epoch: u64, index: u64) -> Self {
        ImageRng {
            state: splitmix64(splitmix64(splitmix64(seed ^ 0xA116_3E57) ^ epoch) ^ index),
        }
    }

    /// The next 64 random bits (SplitMix64's step).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state.wrapping_sub(0x9E37_79B9_7F4A_7C15))
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in 0..=max.
    pub fn below_or_eq(&mut self, max: usize) -> usize {
        ((self.uniform() * (max + 1) as f64) as usize).min(max)
    }

    /// A standard normal draw (Box–Muller, the cosine half).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Side of an image.
const SIDE: usize = 28;

/// Flip and crop of one image's u8 pixels into `out` (28×28), drawing from `rng`.
pub fn flip_and_crop(out: &mut [u8], image: &[u8], a: &Augment, rng: &mut ImageRng) {
    let flip = a.flip && rng.uniform() < 0.5;
    let (dy, dx) = if a.crop > 0 {
        (rng.below_or_eq(2 * a.crop), rng.below_or_eq(2 * a.crop))
    } else {
        (a.crop, a.crop)
    };
    let p = a.crop as isize;
    for r in 0..SIDE {
        for c in 0..SIDE {
            // The padded image's pixel (r + dy, c + dx), i.e. the image's (r + dy − P, …).
            let (sr, sc) = (r as isize + dy as isize - p, c as isize + dx as isize - p);
            let v = if (0..SIDE as isize).contains(&sr) && (0..SIDE as isize).contains(&sc) {
                let sc = sc as usize;
                let col = if flip { SIDE - 1 - sc } else { sc };
                image[sr as usize * SIDE + col]
            } else {
                0
            };
            out[r * SIDE + c] = v;
        }
    }
}

/// The rectangle random erasing picks, (y0, x0, h, w), or `None` (not this time).
pub fn erase_box(rng: &mut ImageRng) -> Option<(usize, usize, usize, usize)> {
    if rng.uniform() >= 0.5 {
        return None;
    }
    let area_total = (SIDE * SIDE) as f64;
    for _ in 0..10 {
        let area = area_total * rng.uniform_in(0.02, 0.4);
        let ratio = rng.uniform_in(0.3f64.ln(), (1.0f64 / 0.3).ln()).exp();
        let h = (area * ratio).sqrt().round_ties_even() as usize;
        let w = (area / ratio).sqrt().round_ties_even() as usize;
        if h < SIDE && w < SIDE {
            let y0 = rng.below_or_eq(SIDE - h);
            let x0 = rng.below_or_eq(SIDE - w);
            return Some((y0, x0, h, w));
        }
    }
    None
}
