//! A minimal PNG encoder: 8-bit greyscale or RGB, no interlacing, one IDAT chunk.
//!
//! A PNG file is the 8-byte signature followed by chunks, each
//! `length (u32 BE) | type (4 ASCII bytes) | data | CRC-32 of type + data (u32 BE)`:
//! - `IHDR`: width, height (u32 BE), bit depth 8, colour type (0 grey, 2 RGB),
//!   compression 0, filter 0, interlace 0;
//! - `IDAT`: the zlib stream (flate2) of the scanlines, each prefixed by its filter byte
//!   (0 = None here: simplest, and these images are small);
//! - `IEND`: empty.
//!
//! The CRC is the same CRC-32 as gzip's and the checkpoints', from flate2.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

/// The 8 bytes every PNG file starts with.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Pixel layout of an [`Image`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// One byte per pixel, greyscale.
    Grey,
    /// Three bytes per pixel: red, green, blue.
    Rgb,
}

impl Color {
    fn channels(self) -> usize {
        match self {
            Color::Grey => 1,
            Color::Rgb => 3,
        }
    }
}

/// An 8-bit image, rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Grey or RGB.
    pub color: Color,
    /// Row-major pixel bytes.
    pub pixels: Vec<u8>,
}

impl Image {
    /// A black image.
    pub fn new(width: usize, height: usize, color: Color) -> Image {
        Image {
            width,
            height,
            color,
            pixels: vec![0; width * height * color.channels()],
        }
    }

    /// Each pixel repeated `factor` × `factor` times (nearest neighbour).
    pub fn upscale(&self, factor: usize) -> Image {
        let ch = self.color.channels();
        let mut out = Image::new(self.width * factor, self.height * factor, self.color);
        for y in 0..out.height {
            for x in 0..out.width {
                let src = ((y / factor) * self.width + x / factor) * ch;
                let dst = (y * out.width + x) * ch;
                out.pixels[dst..dst + ch].copy_from_slice(&self.pixels[src..src + ch]);
            }
        }
        out
    }

    /// The PNG file's bytes.
    pub fn to_png(&self) -> Vec<u8> {
        let ch = self.color.channels();
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&(self.width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.height as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, if ch == 1 { 0 } else { 2 }, 0, 0, 0]);
        // Scanlines, each behind filter type 0.
        let mut raw = Vec::with_capacity(self.height * (1 + self.width * ch));
        for row in self.pixels.chunks(self.width * ch).take(self.height) {
            raw.push(0);
            raw.extend_from_slice(row);
        }
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&raw).expect("writing to a Vec cannot fail");
        let idat = z.finish().expect("writing to a Vec cannot fail");
        let mut out = SIGNATURE.to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// Appends one chunk: length, type, data, CRC-32 of type + data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}
