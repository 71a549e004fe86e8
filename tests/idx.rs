//! The IDX reader: round trips, and one test per malformed case, each checking its own error.

use std::path::{Path, PathBuf};

use stitch::data::{
    idx_bytes, parse_idx_bytes, read_idx, write_idx, DataError, FashionMnist, IdxKind,
};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stitch-idx-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn images(n: u32) -> Vec<u8> {
    let px: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
    idx_bytes(&[n, 28, 28], &px)
}

fn labels(v: &[u8]) -> Vec<u8> {
    idx_bytes(&[v.len() as u32], v)
}

fn parse(bytes: &[u8], kind: IdxKind) -> Result<stitch::data::IdxArray, DataError> {
    parse_idx_bytes(bytes, Path::new("f.idx"), kind)
}

/// The error's one-line message.
fn err(bytes: &[u8], kind: IdxKind) -> String {
    let e = parse(bytes, kind).expect_err("must be rejected");
    let s = e.to_string();
    assert!(!s.contains('\n'), "one line: {s}");
    assert!(s.starts_with("f.idx: "), "names the file: {s}");
    s
}

#[test]
fn round_trip_plain_and_gzip_files() {
    let d = tmpdir("rt");
    for gzip in [false, true] {
        let p = d.join(if gzip { "i.gz" } else { "i" });
        let px: Vec<u8> = (0..3 * 784).map(|i| (i % 256) as u8).collect();
        write_idx(&p, &[3, 28, 28], &px, gzip).unwrap();
        let a = read_idx(&p, IdxKind::Images).unwrap();
        assert_eq!((a.dims, a.data), (vec![3, 28, 28], px));
        let p = d.join(if gzip { "l.gz" } else { "l" });
        write_idx(&p, &[4], &[0, 9, 3, 5], gzip).unwrap();
        assert_eq!(
            read_idx(&p, IdxKind::Labels).unwrap().data,
            vec![0, 9, 3, 5]
        );
    }
}

#[test]
fn plain_bytes_under_a_gz_name_are_read_by_content() {
    let d = tmpdir("plaingz");
    let p = d.join("train-labels-idx1-ubyte.gz");
    std::fs::write(&p, labels(&[1, 2, 3])).unwrap();
    assert_eq!(read_idx(&p, IdxKind::Labels).unwrap().data, vec![1, 2, 3]);
}

#[test]
fn bad_magic() {
    let mut b = labels(&[1]);
    b[0] = 0x12;
    assert_eq!(
        err(&b, IdxKind::Labels),
        "f.idx: magic number 0x12000801 is not an IDX magic, expected 0x00000801"
    );
}

#[test]
fn wrong_type_code() {
    let mut b = labels(&[1]);
    b[2] = 0x0D; // float
    assert_eq!(
        err(&b, IdxKind::Labels),
        "f.idx: element type code 0x0d, expected 0x08 (unsigned byte)"
    );
}

#[test]
fn wrong_dimension_count() {
    assert!(err(&labels(&[1, 2]), IdxKind::Images).contains("1 dimensions, expected 3"));
    assert!(err(&images(1), IdxKind::Labels).contains("3 dimensions, expected 1"));
}

#[test]
fn images_of_27_by_28() {
    let b = idx_bytes(&[1, 27, 28], &[0; 27 * 28]);
    assert_eq!(
        err(&b, IdxKind::Images),
        "f.idx: images are 27×28, expected 28×28"
    );
}

#[test]
fn truncated_payload() {
    let b = images(2);
    let s = err(&b[..b.len() - 10], IdxKind::Images);
    assert_eq!(
        s,
        "f.idx: the header's dimensions need 1568 data bytes, but the file holds only 1558"
    );
    // And inside gzip.
    assert!(err(&gz(&b[..b.len() - 10]), IdxKind::Images).contains("holds only 1558"));
}

#[test]
fn trailing_garbage() {
    let mut b = labels(&[1, 2]);
    b.extend_from_slice(b"junk");
    assert!(
        err(&b, IdxKind::Labels).contains("more bytes than the header's dimensions account for")
    );
    assert!(err(&gz(&b), IdxKind::Labels).contains("more bytes than"));
}

#[test]
fn a_header_claiming_4_billion_items_fails_fast() {
    let b = idx_bytes(&[4_000_000_000, 28, 28], &[0; 784]);
    let s = err(&b, IdxKind::Images);
    assert!(s.contains("claims 3136000000000 bytes"), "{s}");
    // Labels: 4e9 bytes is over the limit too, plain or compressed.
    let b = idx_bytes(&[4_000_000_000], &[1; 10]);
    assert!(err(&b, IdxKind::Labels).contains("claims 4000000000 bytes"));
    assert!(err(&gz(&b), IdxKind::Labels).contains("claims 4000000000 bytes"));
    // Within the limit but far more than a gzip file this small holds: read as far as the
    // stream goes (the buffer grows with the bytes that arrive), then refused as truncated.
    let b = idx_bytes(&[1_000_000_000], &[1; 10]);
    let s = err(&gz(&b), IdxKind::Labels);
    assert!(
        s.contains("need 1000000000 data bytes, but the file holds only 10"),
        "{s}"
    );
    // More than the stream holds: read, never allocated up front.
    let noisy: Vec<u8> = (0..10u32).map(|i| (i * 7 % 10) as u8).collect();
    let b = idx_bytes(&[600], &noisy);
    assert!(
        err(&gz(&b), IdxKind::Labels).contains("need 600 data bytes, but the file holds only 10")
    );
}

#[test]
fn label_10() {
    assert_eq!(
        err(&labels(&[0, 9, 10]), IdxKind::Labels),
        "f.idx: label 10 at index 2 is outside 0..=9"
    );
}

#[test]
fn count_mismatch_between_images_and_labels() {
    let d = tmpdir("count");
    for (name, bytes) in [
        ("train-images-idx3-ubyte", images(3)),
        ("train-labels-idx1-ubyte", labels(&[1, 2])),
        ("t10k-images-idx3-ubyte", images(1)),
        ("t10k-labels-idx1-ubyte", labels(&[1])),
    ] {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let e = FashionMnist::load(&d).unwrap_err().to_string();
    assert!(
        e.contains("3 images, but") && e.contains("has 2 labels"),
        "{e}"
    );
}

#[test]
fn empty_file() {
    assert_eq!(
        err(&[], IdxKind::Labels),
        "f.idx: the file is empty, expected an IDX header"
    );
}

#[test]
fn short_header() {
    assert!(
        err(&[0, 0, 8], IdxKind::Labels).contains("the header is cut short: 3 bytes, expected 4")
    );
    assert!(err(&[0, 0, 8, 3, 0, 0, 0, 1, 0], IdxKind::Images)
        .contains("cut short: 9 bytes, expected 16"));
}

#[test]
fn gzip_stream_cut_in_the_middle() {
    // Pixels that do not compress well, so half the stream is cut mid-payload.
    let mut state = 12345u32;
    let px: Vec<u8> = (0..20 * 784)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 24) as u8
        })
        .collect();
    let z = gz(&idx_bytes(&[20, 28, 28], &px));
    let s = err(&z[..z.len() / 2], IdxKind::Images);
    assert_eq!(
        s,
        "f.idx: starts like gzip (1f 8b) but does not decompress: incomplete deflate stream"
    );
}

#[test]
fn bytes_that_start_like_gzip_and_are_not() {
    let s = err(
        &[0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        IdxKind::Labels,
    );
    assert!(
        s.contains("starts like gzip (1f 8b) but does not decompress"),
        "{s}"
    );
}

#[test]
fn missing_dataset_names_where_it_looked_and_the_install_command() {
    // Nothing given and nothing found: where it looked and how to install the package.
    let e = DataError::NotFound {
        looked: vec![PathBuf::from("/usr/share/datasets/fashion-mnist")],
    }
    .to_string();
    assert!(
        e.contains("/usr/share/datasets/fashion-mnist")
            && e.contains("sudo apt-get install -y dataset-fashion-mnist"),
        "{e}"
    );
    // A directory the user gave that holds none of the files: all four named.
    let d = tmpdir("missing");
    let e = stitch::data::locate(Some(&d)).unwrap_err().to_string();
    assert!(
        e.contains(&d.display().to_string())
            && e.contains("lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"),
        "{e}"
    );
}

#[test]
fn a_gzip_file_of_blank_images_that_compresses_1000_times_is_read() {
    // 10,000 blank 28×28 images: 7.8 MB of zeros in a few kilobytes of gzip.
    let n = 10_000;
    let plain = idx_bytes(&[n, 28, 28], &vec![0u8; n as usize * 784]);
    let z = gz(&plain);
    assert!(z.len() * 500 < plain.len(), "{} compressed bytes", z.len());
    let a = parse_idx_bytes(&z, Path::new("blank.gz"), IdxKind::Images).unwrap();
    assert_eq!(a.dims, [n as usize, 28, 28]);
    assert!(a.data.iter().all(|&p| p == 0));
    // A gzip file with only a header says it is truncated, as before.
    let header_only = gz(&idx_bytes(&[n, 28, 28], &[]));
    let s = err(&header_only, IdxKind::Images);
    assert!(
        s.contains("need 7840000 data bytes, but the file holds only 0"),
        "{s}"
    );
}

#[test]
fn a_split_with_no_images_names_its_file() {
    let d = tmpdir("empty-split");
    for (name, bytes) in [
        ("train-images-idx3-ubyte", idx_bytes(&[0, 28, 28], &[])),
        ("train-labels-idx1-ubyte", idx_bytes(&[0], &[])),
        ("t10k-images-idx3-ubyte", images(1)),
        ("t10k-labels-idx1-ubyte", labels(&[1])),
    ] {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let e = FashionMnist::load(&d).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte: the file holds no images"),
        "{e}"
    );
}

#[test]
fn a_given_directory_names_the_files_it_lacks() {
    let d = tmpdir("lacks");
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz(&images(1))).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte"), labels(&[1])).unwrap();
    let e = stitch::data::locate(Some(&d)).unwrap_err().to_string();
    assert!(
        e.contains("(given by --data) lacks train-labels-idx1-ubyte, t10k-images-idx3-ubyte"),
        "{e}"
    );
    assert!(
        !e.contains("apt-get"),
        "no install hint for a directory the user gave: {e}"
    );
}
