#!/usr/bin/env python3
"""PyTorch's side of `kiln bench`: the same architecture, recipe and measurement, same JSON keys.

mnist-cnn (kiln's reference CNN = Burn's MNIST example: Conv 1→64 3×3 → BN → ReLU → MaxPool 2 →
Conv 64→64 3×3 → BN → ReLU → MaxPool 2 → Linear 1600→128 → GELU → Dropout 0.25 → Linear 128→128
→ GELU → Dropout 0.25 → Linear 128→10), PyTorch's default initialization, Adam (lr 1e-3,
β 0.9/0.999, ε 1e-8), batch B of Fashion-MNIST training images normalized with kiln's constants,
held in memory. resnet20 (He et al. 2016 §4.2, kiln's `resnet20`: 3×3 stem of 16 → three stages
of three basic blocks, 16/32/64 channels, option-A zero-padding shortcuts, global average pool,
fc) trains on `--synthetic` CIFAR-shaped 3×32×32 normal noise with random labels, as
`kiln bench --synthetic` does (CIFAR cannot be downloaded everywhere). resnet18 and resnet50
are torchvision's architectures (ImageNet stem, projection shortcuts, ResNet-50 "V1.5" with the
stride on the 3×3), written out here so torchvision is not needed, with 10 classes, on synthetic
images of `--image-size` (default 32, as `kiln bench --dataset cifar10 --synthetic`). Every
training step reads the loss back (`loss.item()`), every evaluation batch its predicted classes.
Times `--steps` steps after `--warmup`, training then evaluation.

    python3 bench/pytorch_reference.py --batch-size 64 --steps 100 --threads 2
    python3 bench/pytorch_reference.py --model resnet20 --synthetic --batch-size 128 --threads 2
    python3 bench/pytorch_reference.py --model resnet50 --synthetic --image-size 224 --batch-size 16

Needs torch and numpy (pip install torch); kiln's CI does not run it.
"""
import argparse
import gzip
import json
import os
import resource
import time

import numpy as np
import torch
from torch import nn

FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def mnist_cnn(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128), nn.GELU(), nn.Dropout(0.25),
        nn.Linear(128, 128), nn.GELU(), nn.Dropout(0.25),
        nn.Linear(128, num_classes),
    )


class BasicBlock(nn.Module):
    """conv3×3 → BN → ReLU → conv3×3 → BN, + option-A shortcut (subsample, zero-pad channels)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        short = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.pad:
            short = nn.functional.pad(short, (0, 0, 0, 0, self.pad, self.pad))
        return torch.relu(out + short)


def cifar_resnet(blocks, num_classes=10):
    """He et al.'s CIFAR ResNet-(6n+2): `blocks` = n basic blocks a stage, option-A shortcuts."""
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for i, width in enumerate([16, 32, 64]):
        for j in range(blocks):
            layers.append(BasicBlock(cin, width, 2 if i > 0 and j == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


class ImageNetBasic(nn.Module):
    """torchvision's BasicBlock: conv3×3 (stride) → BN → ReLU → conv3×3 → BN, + shortcut."""
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes))
        self.down = projection(cin, planes, stride)

    def forward(self, x):
        return torch.relu(self.body(x) + (self.down(x) if self.down else x))


class ImageNetBottleneck(nn.Module):
    """torchvision's Bottleneck (V1.5): 1×1 → 3×3 (stride) → 1×1 ×4, BN after each, + shortcut."""
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
            nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out))
        self.down = projection(cin, out, stride)

    def forward(self, x):
        return torch.relu(self.body(x) + (self.down(x) if self.down else x))


def projection(cin, cout, stride):
    """The 1×1 conv + BN shortcut where the shape changes, else None (identity)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


def imagenet_resnet(block, layers, num_classes=10):
    """torchvision's ResNet: 7×7/2 stem, 3×3/2 max-pool, four stages of `layers` blocks."""
    stem = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1)]
    blocks, cin = [], 64
    for i, (planes, count) in enumerate(zip([64, 128, 256, 512], layers)):
        for j in range(count):
            blocks.append(block(cin, planes, 2 if i > 0 and j == 0 else 1))
            cin = planes * block.expansion
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*stem, *blocks, *head)


MODELS = {
    "mnist-cnn": (mnist_cnn, (1, 28, 28)),
    "resnet20": (lambda: cifar_resnet(3), (3, 32, 32)),
    "resnet56": (lambda: cifar_resnet(9), (3, 32, 32)),
    "resnet18": (lambda: imagenet_resnet(ImageNetBasic, [2, 2, 2, 2]), (3, 32, 32)),
    "resnet50": (lambda: imagenet_resnet(ImageNetBottleneck, [3, 4, 6, 3]), (3, 32, 32)),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="mnist-cnn", choices=sorted(MODELS))
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--synthetic", action="store_true",
                   help="normal noise of the model's input shape instead of Fashion-MNIST")
    p.add_argument("--image-size", type=int,
                   help="with --synthetic: images of this size a side (default: the model's)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    build, shape = MODELS[a.model]
    if a.image_size is not None:
        if not a.synthetic:
            p.error("--image-size needs --synthetic")
        shape = (shape[0], a.image_size, a.image_size)
    if a.synthetic:
        count = max(a.batch_size * 8, 1024)
        x = torch.randn(count, *shape, generator=torch.Generator().manual_seed(1))
        y = torch.randint(0, 10, (count,), generator=torch.Generator().manual_seed(2))
    else:
        images = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte.gz"))
        x = (torch.from_numpy(images.astype(np.float32) / 255.0) - FMNIST_MEAN) / FMNIST_STD
        x = x.unsqueeze(1)
        y = torch.from_numpy(labels.astype(np.int64))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    batches = [order[i:i + a.batch_size] for i in range(0, len(x) - a.batch_size + 1, a.batch_size)]

    model = build()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            start = time.perf_counter()
        idx = batches[i % len(batches)]
        loss = loss_fn(model(x[idx]), y[idx])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        loss.item()
    train = time.perf_counter() - start

    model.eval()
    with torch.inference_mode():
        for i in range(a.warmup + a.steps):
            if i == a.warmup:
                start = time.perf_counter()
            idx = batches[i % len(batches)]
            model(x[idx]).argmax(1).numpy()
    evaluation = time.perf_counter() - start

    n = a.steps * a.batch_size
    print(json.dumps({
        "framework": "pytorch " + torch.__version__,
        "backend": "cpu",
        "model": a.model,
        "dataset": "synthetic" if a.synthetic else "fashion-mnist",
        "image_size": list(shape[1:]),
        "batch_size": a.batch_size,
        "steps": a.steps,
        "warmup": a.warmup,
        "threads": torch.get_num_threads(),
        "train_images_per_sec": n / train,
        "eval_images_per_sec": n / evaluation,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, indent=2))


if __name__ == "__main__":
    main()
