"""Writes scikit-learn's bundled handwritten digits as MNIST-format IDX files.

The 1,797 real 8x8 digits of `sklearn.datasets.load_digits` (UCI optdigits), upsampled to 28x28,
shuffled with a fixed seed and split 1,400 train / 397 test: a small real-digit dataset for
checking the default recipe in the few-thousand-images regime where real MNIST is not at hand.

    python3 scripts/sklearn_digits_idx.py OUT_DIR
    cargo run --release --example mnist -- --dataset mnist --data-dir OUT_DIR --offline
"""
import gzip
import os
import struct
import sys

import numpy as np
from sklearn.datasets import load_digits
d = load_digits()
x = d.images / 16.0
rng = np.random.default_rng(0)
idx = rng.permutation(len(x))
x, y = x[idx], d.target[idx]
# Linear interpolation 8 -> 20 pixels, centred in 28x28 with a 4-pixel border (MNIST puts digits in a 20x20 box).
def up(img):
    g = np.linspace(0, 7, 20)
    rows = np.array([np.interp(g, np.arange(8), r) for r in img])
    full = np.array([np.interp(g, np.arange(8), c) for c in rows.T]).T
    out = np.zeros((28, 28)); out[4:24, 4:24] = full
    return (out * 255).round().astype(np.uint8)
imgs = np.stack([up(i) for i in x])
out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out_dir, exist_ok=True)
def w(name, arr, dims):
    with gzip.open(os.path.join(out_dir, name), "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", v) for v in dims) + arr.tobytes())
n = 1400
w("train-images-idx3-ubyte.gz", imgs[:n], [n, 28, 28]); w("train-labels-idx1-ubyte.gz", y[:n].astype(np.uint8), [n])
m = len(x) - n
w("t10k-images-idx3-ubyte.gz", imgs[n:], [m, 28, 28]); w("t10k-labels-idx1-ubyte.gz", y[n:].astype(np.uint8), [m])
print(n, m)
