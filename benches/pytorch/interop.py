"""Weights between stitch and PyTorch through safetensors, both ways, for one model.

  python interop.py --model cnn --stitch-file cnn.safetensors     # stitch -> PyTorch
      loads a `stitch export` file into the PyTorch model of the same architecture with
      load_state_dict(strict=True) and prints its test accuracy (compare `stitch eval`);
  python interop.py --model resnet20 --write torch.safetensors    # PyTorch -> stitch
      writes a freshly initialised PyTorch model's state_dict, num_batches_tracked
      included, for `stitch eval --load torch.safetensors --model resnet20`.
"""
import argparse, os, sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deep, ladder  # noqa: E402


def build(name):
    return deep.build(name) if name in ("resnet20", "vgg-small") else ladder.model(name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--stitch-file", default="")
    p.add_argument("--write", default="")
    p.add_argument("--data", default=ladder.DATA)
    a = p.parse_args()
    m = build(a.model)
    if a.stitch_file:
        m.load_state_dict(load_file(a.stitch_file), strict=True)
        _, _, xte, yte = ladder.load(a.data)
        m.eval()
        with torch.no_grad():
            correct = sum((m(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(xte), 1000))
        print(f"{a.stitch_file}: strict load into PyTorch's {a.model}; test accuracy {100.0 * correct / len(xte):.2f}%")
    if a.write:
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, a.write, metadata={"format": "pt"})
        print(f"wrote {a.write} ({len(m.state_dict())} tensors)")


if __name__ == "__main__":
    main()
