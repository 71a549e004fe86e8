"""PyTorch reference for deeper Fashion-MNIST nets (the write-up's next step) on the CPU.

The side-by-side anchor for stitch's deeper models and training recipes: the same
architectures, the same augmentation, loss, optimizer and schedule, timed the same way
(training loop only, per epoch), evaluated on the 10k test images after every epoch.

  resnet20   CIFAR-style ResNet-20 (He et al. 2016) for 1x28x28: conv3x3(16)-BN-ReLU,
             3 stages x 3 basic blocks (16, 32, 64 channels; stages 2 and 3 start with
             stride 2 and a 1x1 conv + BN projection shortcut), global average pool,
             Linear(64, 10). 272,186 parameters.
  vgg-small  [conv3x3-BN-ReLU] x2 per stage, widths 32, 64, 128, MaxPool2d(2) after each
             stage, global average pool, Linear(128, 10). 288,170 parameters.

Recipe flags: --optimizer sgd|adam, --nesterov, --label-smoothing, --schedule
constant|cosine|onecycle, --augment none|flipcrop|flipcrop-erase (per-image random
horizontal flip, random crop of the image padded by --pad pixels with the background
value, optional random erasing p=0.5), --tta (average the logits of the image and its
mirror at evaluation).

Example: python3 pytorch_deep.py --model resnet20 --epochs 10 --optimizer sgd --lr 0.1 \
             --nesterov --wd 5e-4 --label-smoothing 0.1 --schedule onecycle \
             --augment flipcrop --threads 2
"""
import argparse, gzip, struct, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(d):
    def x(n):
        a = read_idx(f"{d}/{n}").astype(np.float32) / 255.0
        return torch.from_numpy((a - MEAN) / STD).unsqueeze(1)
    def y(n):
        return torch.from_numpy(read_idx(f"{d}/{n}").astype(np.int64))
    return (x("train-images-idx3-ubyte.gz"), y("train-labels-idx1-ubyte.gz"),
            x("t10k-images-idx3-ubyte.gz"), y("t10k-labels-idx1-ubyte.gz"))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1)); cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean((2, 3)))


def vgg_small():
    layers, cin = [], 1
    for w in (32, 64, 128):
        for _ in range(2):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]; cin = w
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def build(name):
    if name == "resnet20":
        return ResNet20()
    if name == "vgg-small":
        return vgg_small()
    raise SystemExit(f"unknown model {name}")


def augment(xb, mode, pad):
    n = len(xb)
    flip = torch.rand(n) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    bg = (0.0 - MEAN) / STD
    p = F.pad(xb, (pad, pad, pad, pad), value=bg)
    dy = torch.randint(0, 2 * pad + 1, (n,)); dx = torch.randint(0, 2 * pad + 1, (n,))
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, :, None]
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, :]
    xb = p[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    if mode == "flipcrop-erase":  # random erasing, p = 0.5, area 2-40 %, aspect 0.3-3.3
        for i in torch.nonzero(torch.rand(n) < 0.5).flatten().tolist():
            for _ in range(10):
                area = 784 * float(torch.empty(1).uniform_(0.02, 0.4))
                r = float(torch.empty(1).uniform_(np.log(0.3), np.log(1 / 0.3)).exp())
                h, w = int(round((area * r) ** 0.5)), int(round((area / r) ** 0.5))
                if h < 28 and w < 28:
                    y0 = int(torch.randint(0, 28 - h + 1, (1,))); x0 = int(torch.randint(0, 28 - w + 1, (1,)))
                    xb[i, :, y0:y0 + h, x0:x0 + w] = torch.randn(1, h, w)
                    break
    return xb


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--save-state", default="", help="write the trained model's state_dict here as safetensors (for `stitch eval --load FILE --model NAME`)")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--schedule", choices=["constant", "cosine", "onecycle"], default="onecycle")
    p.add_argument("--augment", choices=["none", "flipcrop", "flipcrop-erase"], default="flipcrop")
    p.add_argument("--pad", type=int, default=2)
    p.add_argument("--tta", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (timing only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DATA)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr, xte, yte = load(a.data)
    if a.limit_train:
        xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
    m = build(a.model)
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=a.momentum, nesterov=a.nesterov, weight_decay=a.wd)
    else:
        opt = torch.optim.Adam(m.parameters(), lr=a.lr, weight_decay=a.wd)
    per_epoch = (len(xtr) + a.batch - 1) // a.batch
    steps = a.epochs * per_epoch
    if a.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    elif a.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps)
    else:
        sched = None
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} model={a.model} "
          f"params={sum(q.numel() for q in m.parameters())} recipe={vars(a)}", flush=True)
    wall0 = time.perf_counter(); train_total = 0.0
    for ep in range(1, a.epochs + 1):
        m.train()
        perm = torch.randperm(len(xtr))
        t0 = time.perf_counter(); tot = 0.0; n = 0
        for s, i in enumerate(range(0, len(xtr), a.batch)):
            if a.max_steps and s >= a.max_steps:
                break
            idx = perm[i:i + a.batch]
            xb, yb = xtr[idx], ytr[idx]
            if a.augment != "none":
                xb = augment(xb, a.augment, a.pad)
            loss = F.cross_entropy(m(xb), yb, label_smoothing=a.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            tot += loss.item() * len(idx); n += len(idx)
        dt = time.perf_counter() - t0; train_total += dt
        m.eval(); correct = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                xb = xte[i:i + 1000]
                logits = m(xb)
                if a.tta:
                    logits = logits + m(xb.flip(3))
                correct += (logits.argmax(1) == yte[i:i + 1000]).sum().item()
        print(f"epoch {ep} loss {tot / n:.4f} train_s {dt:.2f} samples_per_s {n / dt:.0f} "
              f"test_acc {100.0 * correct / len(xte):.2f} train_total_s {train_total:.1f} "
              f"wall_s {time.perf_counter() - wall0:.1f}", flush=True)

    if a.save_state:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, a.save_state, metadata={"format": "pt", "model": a.model})
        print(f"wrote {a.save_state}", flush=True)


if __name__ == "__main__":
    main()
