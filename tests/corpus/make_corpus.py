#!/usr/bin/env python3
"""Writes the malformed-file corpus of tests/corpus.rs and the fuzz seeds.

Each corpus file is one way an IDX file, a checkpoint or a safetensors file can be wrong; `expected.tsv` holds,
per file, what it is read as (labels, images or checkpoint) and a part of the one-line error
it must produce. Run from the repository root: python3 tests/corpus/make_corpus.py
"""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "fuzz", "corpus")


def idx(magic_ndim, dims, payload, type_code=0x08):
    return bytes([0, 0, type_code, magic_ndim]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def labels(n, value=3):
    return idx(1, [n], bytes([value % 10] * n))


def images(n, rows=28, cols=28):
    return idx(3, [n, rows, cols], bytes((i * 7) % 256 for i in range(n * rows * cols)))


def ckpt(meta, tensors, version=2, magic=b"STITCHCK", fix_crc=True, crc=None):
    out = bytearray(magic + struct.pack("<I", version) + struct.pack("<I", len(meta)))
    for k, v in meta:
        for s in (k, v):
            b = s.encode()
            out += struct.pack("<I", len(b)) + b
    out += struct.pack("<I", len(tensors))
    for name, kind, shape, data in tensors:
        b = name.encode()
        out += struct.pack("<I", len(b)) + b + bytes([kind, len(shape)])
        out += b"".join(struct.pack("<I", d) for d in shape)
        out += b"".join(struct.pack("<f", x) for x in data)
    c = zlib.crc32(bytes(out)) if crc is None else crc
    return bytes(out) + struct.pack("<I", c)


def st(header, data=b"", raw_len=None):
    """A safetensors file: 8-byte little-endian header length, the header text, the data."""
    h = header if isinstance(header, bytes) else header.encode()
    n = len(h) if raw_len is None else raw_len
    return struct.pack("<Q", n) + h + data


def st_entry(dtype, shape, begin, end):
    return '{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}' % (dtype, ",".join(map(str, shape)), begin, end)


ST_W = st_entry("F32", [2], 0, 8)
ST_OK = st('{"w":%s}' % ST_W, b"\x00" * 8)

GOOD_META = [("model", "dnn"), ("epoch", "1")]
GOOD_T = [("1.weight", 0, [2, 3], [0.5] * 6)]

cases = [
    # (file name, read as, bytes, expected part of the error)
    ("empty-labels", "labels", b"", "is empty"),
    ("short-magic", "labels", b"\x00\x00", "header"),
    ("bad-magic", "labels", b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x01", "magic"),
    ("wrong-type-code", "labels", idx(1, [2], b"\x01\x02", type_code=0x0D), "type code"),
    ("labels-read-as-images", "images", labels(4), "dimensions"),
    ("images-read-as-labels", "labels", images(1), "dimensions"),
    ("short-dims", "images", bytes([0, 0, 8, 3]) + struct.pack(">I", 1), "header"),
    ("truncated-labels", "labels", labels(10)[:-3], "holds only"),
    ("trailing-bytes", "labels", labels(5) + b"\x00\x00", "more"),
    ("label-out-of-range", "labels", idx(1, [3], b"\x01\x0c\x02"), "label 12 at index 1"),
    ("wrong-image-size", "images", idx(3, [1, 27, 29], bytes(27 * 29)), "27"),
    ("lying-header-4g", "images", idx(3, [0xFFFFFFFF, 28, 28], bytes(100)), "limit"),
    ("lying-header-small", "labels", idx(1, [1 << 20], bytes(10)), "holds only"),
    ("gz-truncated-stream", "labels", gzip.compress(idx(1, [1000], bytes((i * 7) % 10 for i in range(1000))))[:-12], "gzip"),
    ("gz-corrupt-crc", "labels", (lambda g: g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:])(gzip.compress(labels(50))), "gzip"),
    ("gz-bomb-claim", "images", gzip.compress(idx(3, [200000, 28, 28], b"")), "holds only 0"),
    ("gz-label-out-of-range", "labels", gzip.compress(idx(1, [2], b"\x01\x63")), "label 99 at index 1"),
    ("gz-garbage-after-magic", "labels", b"\x1f\x8b" + b"garbage" * 4, "gzip"),
    ("ck-empty", "checkpoint", b"", "not a stitch checkpoint"),
    ("ck-wrong-magic", "checkpoint", ckpt(GOOD_META, GOOD_T, magic=b"PYTORCH!"), "not a stitch checkpoint"),
    ("ck-version-9", "checkpoint", ckpt(GOOD_META, GOOD_T, version=9), "format version 9"),
    ("ck-bad-checksum", "checkpoint", ckpt(GOOD_META, GOOD_T, crc=0x12345678), "checksum mismatch"),
    ("ck-truncated", "checkpoint", ckpt(GOOD_META, GOOD_T)[:30], "checksum"),
    ("ck-lying-tensor-length", "checkpoint", ckpt(GOOD_META, [("w", 0, [1000000, 1000], [1.0])]), "needs more data than the file holds"),
    ("ck-lying-string-length", "checkpoint", (lambda b: (lambda body: body + struct.pack("<I", zlib.crc32(body)))(b[:16] + struct.pack("<I", 0xFFFFFF00) + b[20:-4]))(ckpt(GOOD_META, GOOD_T)), "limit"),
    ("ck-bad-kind", "checkpoint", ckpt(GOOD_META, [("w", 7, [1], [1.0])]), "kind 7"),
    ("ck-state-in-version-1", "checkpoint", ckpt(GOOD_META, [("optimizer.exp_avg.0", 2, [1], [1.0])], version=1), "kind 2"),
    ("ck-too-many-dims", "checkpoint", ckpt(GOOD_META, [("w", 0, [1] * 9, [1.0])]), "9 dimensions"),
    ("ck-trailing-bytes", "checkpoint", (lambda b: (lambda body: body + struct.pack("<I", zlib.crc32(body)))(b[:-4] + b"xyz"))(ckpt(GOOD_META, GOOD_T)), "unexpected bytes"),
    ("ck-not-utf8", "checkpoint", (lambda b: (lambda body: body + struct.pack("<I", zlib.crc32(body)))(b[:20] + b"\xff\xfe\xfd\xfc\xfb" + b[25:-4]))(ckpt(GOOD_META, GOOD_T)), "UTF-8"),
    ("ck-wrong-shape-for-dnn", "checkpoint-into-dnn", ckpt(GOOD_META, GOOD_T), "1.weight has shape [2, 3], the model expects [128, 784]"),
    ("ck-no-optimizer-state", "checkpoint-resume", ckpt([("model", "dnn")], GOOD_T), "cannot be resumed"),
    # safetensors: each check of the reader (src/safetensors/mod.rs)
    ("st-short", "safetensors", b"\x05\x00\x00", "too short"),
    ("st-header-too-long", "safetensors", st("{}", raw_len=200_000_000), "exceeds the 100000000-byte limit"),
    ("st-header-past-the-end", "safetensors", st("{}", raw_len=1000), "more than the 2 bytes after it"),
    ("st-not-utf8", "safetensors", st(b'{"\xff\xfe":1}'), "not UTF-8"),
    ("st-not-json", "safetensors", st('{"w": {"dtype": "F32",'), "not valid JSON"),
    ("st-not-an-object", "safetensors", st("[1, 2]"), "expected '{'"),
    ("st-trailing-json", "safetensors", st('{"w":%s} {}' % ST_W, b"\x00" * 8), "after its object"),
    ("st-duplicate-name", "safetensors", st('{"w":%s,"w":%s}' % (ST_W, st_entry("F32", [2], 8, 16)), b"\x00" * 16), "names \"w\" twice"),
    ("st-unknown-dtype", "safetensors", st('{"w":%s}' % st_entry("F24", [2], 0, 6), b"\x00" * 6), "unknown dtype \"F24\""),
    ("st-size-mismatch", "safetensors", st('{"w":%s}' % st_entry("F32", [3], 0, 8), b"\x00" * 8), "needs 12 bytes"),
    ("st-shape-overflow", "safetensors", st('{"w":%s}' % st_entry("F32", [2**40, 2**40], 0, 8), b"\x00" * 8), "overflows"),
    ("st-hole", "safetensors", st('{"w":%s}' % st_entry("F32", [2], 4, 12), b"\x00" * 12), "leaving a hole"),
    ("st-overlap", "safetensors", st('{"a":%s,"b":%s}' % (ST_W, st_entry("F32", [1], 4, 8)), b"\x00" * 8), "inside the previous tensor"),
    ("st-trailing-bytes", "safetensors", st('{"w":%s}' % ST_W, b"\x00" * 11), "3 unexpected bytes"),
    ("st-data-short", "safetensors", st('{"w":%s}' % ST_W, b"\x00" * 5), "need 8 bytes of data, the file holds 5"),
    ("st-offsets-reversed", "safetensors", st('{"w":%s}' % st_entry("F32", [0], 8, 0)), "end before they begin"),
    ("st-three-offsets", "safetensors", st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}', b"\x00" * 8), "3 numbers, not 2"),
    ("st-negative-shape", "safetensors", st('{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', b"\x00" * 8), "non-negative integer"),
    ("st-no-dtype", "safetensors", st('{"w":{"shape":[2],"data_offsets":[0,8]}}', b"\x00" * 8), "has no \"dtype\""),
    ("st-metadata-not-string", "safetensors", st('{"__metadata__":{"epoch":3}}'), "is not a string"),
    ("st-deep-nesting", "safetensors", st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":%s}}' % ("[" * 200 + "]" * 200), b"\x00" * 8), "nested deeper"),
    ("st-huge-integer", "safetensors", st('{"w":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]}}', b"\x00" * 8), "does not fit in 64 bits"),
    ("st-wrong-shape-for-dnn", "safetensors-into-dnn", st('{"1.weight":%s}' % st_entry("F32", [2, 3], 0, 24), b"\x00" * 24), "tensor 1.weight has shape [2, 3], the model expects [128, 784]"),
    ("st-f16-for-dnn", "safetensors-into-dnn", st('{"1.weight":%s}' % st_entry("F16", [2], 0, 4), b"\x00" * 4), "tensor 1.weight has dtype F16"),
]

os.makedirs(HERE, exist_ok=True)
with open(os.path.join(HERE, "expected.tsv"), "w") as f:
    f.write("# file\tread as\tpart of the expected one-line error\n")
    for name, kind, data, want in cases:
        with open(os.path.join(HERE, name), "wb") as g:
            g.write(data)
        f.write(f"{name}\t{kind}\t{want}\n")

# Fuzz seeds: small valid files and a few of the broken ones.
seeds = {
    "idx_plain": [labels(5), images(1), labels(0)] + [d for n, k, d, w in cases if k in ("labels", "images") and not d.startswith(b"\x1f\x8b")][:6],
    "idx_gzip": [labels(5), images(1), idx(1, [3], b"\x01\x0c\x02")],
    "checkpoint": [ckpt(GOOD_META, GOOD_T), ckpt(GOOD_META + [("optimizer_steps", "3")], GOOD_T + [("optimizer.exp_avg.0", 2, [6], [0.1] * 6)]), ckpt([], [], version=1)],
    "safetensors": [ST_OK, st('{"__metadata__":{"format":"pt"},"n":%s,"w":%s}' % (st_entry("I64", [], 8, 16), ST_W), b"\x00" * 16), st("{}")] + [d for n, k, d, w in cases if k == "safetensors"][:8],
}
for target, items in seeds.items():
    d = os.path.join(FUZZ, target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i}"), "wb") as g:
            g.write(data)
print(f"{len(cases)} corpus files, seeds for {len(seeds)} fuzz targets")
