"""PyTorch reference for the seed's four-step ladder on Fashion-MNIST (CPU).

Reads the raw IDX .gz files, trains each ladder model with Adam, and prints
per-epoch train seconds (training loop only) and test accuracy. Used as the
side-by-side anchor for the Rust engine: same models, same hyper-parameters.
"""
import argparse, gzip, struct, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"

def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

def load(data_dir):
    def x(name):
        a = read_idx(f"{data_dir}/{name}").astype(np.float32) / 255.0
        return torch.from_numpy((a - 0.2860) / 0.3530).unsqueeze(1)
    def y(name):
        return torch.from_numpy(read_idx(f"{data_dir}/{name}").astype(np.int64))
    return (x("train-images-idx3-ubyte.gz"), y("train-labels-idx1-ubyte.gz"),
            x("t10k-images-idx3-ubyte.gz"), y("t10k-labels-idx1-ubyte.gz"))

def augment(xb):
    flip = torch.rand(len(xb)) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    pad = F.pad(xb, (2, 2, 2, 2), value=float((0 - 0.2860) / 0.3530))
    dx, dy = torch.randint(0, 5, (2,)).tolist()  # one shift per batch keeps this cheap
    return pad[:, :, dy:dy + 28, dx:dx + 28]

def model(name):
    if name == "dnn":        # step 1: flatten -> MLP
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "conv":       # step 2: one conv in front of the MLP
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(32 * 28 * 28, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "conv-pool":  # step 3: conv + max-pool
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    if name == "cnn":        # step 4: the seed's final model (BN + dropout)
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.3)]
        return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    raise SystemExit(f"unknown model {name}")

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--save-state", default="", help="write the trained model's state_dict here as safetensors (for `stitch eval --load FILE --model NAME`)")
    p.add_argument("--model", default="cnn")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DATA)
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--augment", action="store_true", help="random horizontal flip + random crop with 2-pixel zero padding")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr, xte, yte = load(a.data)
    if a.limit_train:
        xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
    m = model(a.model)
    opt = torch.optim.Adam(m.parameters(), lr=a.lr)
    steps = a.epochs * ((len(xtr) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if a.schedule == "cosine" else None
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} model={a.model} "
          f"params={sum(p.numel() for p in m.parameters())}", flush=True)
    for ep in range(1, a.epochs + 1):
        m.train()
        perm = torch.randperm(len(xtr))
        t0 = time.perf_counter(); tot = 0.0; n = 0
        for i in range(0, len(xtr), a.batch):
            idx = perm[i:i + a.batch]
            xb, yb = xtr[idx], ytr[idx]
            if a.augment:
                xb = augment(xb)
            loss = F.cross_entropy(m(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            tot += loss.item() * len(idx); n += len(idx)
        dt = time.perf_counter() - t0
        m.eval(); correct = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                correct += (m(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        print(f"epoch {ep} loss {tot / n:.4f} train_s {dt:.2f} samples_per_s {n / dt:.0f} "
              f"test_acc {100.0 * correct / len(xte):.2f}", flush=True)
    if a.save_state:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, a.save_state, metadata={"format": "pt", "model": a.model})
        print(f"wrote {a.save_state}", flush=True)


if __name__ == "__main__":
    main()
