#!/usr/bin/env python3
"""Checks `kiln export` with the reference tools: onnx's checker, ONNX Runtime, PyTorch.

For every built-in architecture:
  * the exported ONNX passes `onnx.checker.check_model(full_check=True)`;
  * ONNX Runtime's logits on random images (batches of 1 and 7) match `kiln predict --json`
    within 1e-4 of the largest logit, with normalized input and, with
    `--include-normalization`, with raw 0-255 pixels.
The MNIST models and the CIFAR ResNets are trained briefly by kiln on Fashion-MNIST; the ImageNet
ResNets are torchvision's, randomly initialized with random batch-norm statistics, imported by
`--model NAME --weights FILE.safetensors` (so their logits are checked against torchvision's
too).

And the safetensors export: a kiln-trained resnet18, mnist-cnn and lenet5 load into torchvision's
resnet18 / the PyTorch modules of the README (its code block, run as shown) with
`load_state_dict(strict=True)` and give kiln's logits; `kiln eval --weights model.safetensors` reproduces the run's eval.json exactly.

Not run by CI (it needs torch, onnx, onnxruntime from PyPI); the same properties are tested in
Rust with tract (crates/kiln-models/tests/onnx_parity.rs, tests/it/export.rs).

    pip install torch torchvision onnx onnxruntime safetensors pillow
    python3 scripts/check_export.py [--kiln PATH] [--work DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file, save_file

TOLERANCE = 1e-4
KILN = "kiln"


def kiln(command, *args):
    """Runs a kiln subcommand on the Flex CPU backend (a build with wgpu would otherwise pick
    the GPU, software-rendered where there is none); returns stdout, or stops the script with
    kiln's stderr."""
    args = [command, *args, "--backend", "flex"]
    done = subprocess.run([KILN, *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"kiln {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def write_images(folder, n, channels, size, rng):
    """n random PNGs; returns their paths and pixels [n, c, size, size] (uint8)."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(n, channels, size, size), dtype=np.uint8)
    paths = []
    for i, image in enumerate(pixels):
        path = folder / f"{i}.png"
        if channels == 1:
            Image.fromarray(image[0], mode="L").save(path)
        else:
            Image.fromarray(image.transpose(1, 2, 0), mode="RGB").save(path)
        paths.append(path)
    return paths, pixels


def predicted_logits(source, paths):
    """`kiln predict --json` logits of the files, as the model saw them (no resize)."""
    args = ["predict", *source, "--no-resize", "--json", "--top-k", "1"]
    for p in paths:
        args += ["--image", p]
    return np.array([p["logits"] for p in json.loads(kiln(*args))], dtype=np.float32)


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-6))


def normalized(pixels, mean, std):
    mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return ((pixels.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


def check_onnx(name, source, channels, size, work, rng, torch_model=None):
    """Exports with and without the normalization; ONNX Runtime against kiln predict."""
    rows = []
    for raw in (False, True):
        stem = name.split()[0] + ("-torchvision" if " " in name else "")
        out = work / f"{stem}{'-raw' if raw else ''}.onnx"
        extra = ["--include-normalization"] if raw else []
        kiln("export", *source, "--out", out, "--overwrite", *extra)
        model = onnx.load(str(out))
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        mean, std = json.loads(meta["kiln.mean"]), json.loads(meta["kiln.std"])
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        for batch in (1, 7):
            paths, pixels = write_images(work / f"{stem}-{batch}", batch, channels, size, rng)
            expected = predicted_logits(source, paths)
            x = pixels.astype(np.float32) if raw else normalized(pixels, mean, std)
            got = session.run(["logits"], {"images": x})[0]
            error = relative_error(got, expected)
            row = [name, "raw pixels" if raw else "normalized", batch, error]
            if torch_model is not None and not raw:
                with torch.no_grad():
                    reference = torch_model(torch.from_numpy(normalized(pixels, mean, std))).numpy()
                row.append(relative_error(expected, reference))
            rows.append(row)
    return rows


def train(name, work, limit=512):
    run = work / "runs" / name
    kiln("train", "--dataset", "fashion-mnist", "--offline", "--model", name, "--epochs", "1",
         "--limit", limit, "--batch-size", "64", "--seed", "1", "--artifact-dir", run,
         "--overwrite", "--no-tensorboard")
    return run


def torchvision_resnet(name, rng):
    """torchvision's `name` for 10 classes, seeded, with random batch-norm statistics."""
    torch.manual_seed(int(rng.integers(1 << 31)))
    model = getattr(torchvision.models, name)(num_classes=10)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def readme_modules():
    """The README's PyTorch modules for mnist-cnn and lenet5, run as the README shows them."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = readme.split("```python\n")[1:]
    code = next(b.split("```")[0] for b in blocks if "class MnistCnn(nn.Module)" in b)
    scope = {}
    exec(code, scope)
    return scope["MnistCnn"], scope["LeNet5"]


def gray_resnet18():
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return model


def check_safetensors(name, module, work, rng):
    """A kiln run's safetensors in PyTorch (strict) and back in kiln (eval.json)."""
    run = work / "runs" / name
    weights = run / "model.safetensors"
    kiln("export", "--artifact-dir", run, "--format", "safetensors", "--overwrite")
    model = module()
    model.load_state_dict(load_file(str(weights)), strict=True)
    model.eval()
    paths, pixels = write_images(work / f"{name}-st", 7, 1, 28, rng)
    expected = predicted_logits(["--artifact-dir", run], paths)
    onnx_meta = {p.key: p.value for p in onnx.load(str(work / f"{name}.onnx")).metadata_props}
    x = normalized(pixels, json.loads(onnx_meta["kiln.mean"]), json.loads(onnx_meta["kiln.std"]))
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    out = work / f"{name}-eval"
    kiln("eval", "--artifact-dir", run, "--weights", weights, "--out", out, "--offline")
    same = json.loads((out / "eval.json").read_text()) == json.loads((run / "eval.json").read_text())
    return [name, relative_error(got, expected), same]


def main():
    global KILN
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    parser.add_argument("--kiln", default=f"{target}/release/kiln", help="the kiln binary")
    parser.add_argument("--work", help="keep the files here (default: a temporary directory)")
    args = parser.parse_args()
    KILN = args.kiln
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        rows = []
        for name in ["mnist-cnn", "lenet5", "resnet18", "resnet20", "resnet32", "resnet44",
                     "resnet56", "resnet110"]:
            run = train(name, work)
            rows += check_onnx(name, ["--artifact-dir", run], 1, 28, work, rng)
        for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]:
            model = torchvision_resnet(name, rng)
            # safetensors, not torch.save: burn-store's .pth reader refuses resnet101's and
            # resnet152's archives ("Invalid Central Directory header").
            weights = work / f"{name}-torchvision.safetensors"
            save_file(model.state_dict(), str(weights))
            source = ["--model", name, "--weights", weights, "--num-classes", "10",
                      "--image-size", "64"]
            rows += check_onnx(f"{name} (torchvision)", source, 3, 64, work, rng, model)

        print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, torch {torch.__version__}, "
              f"torchvision {torchvision.__version__}; every graph passed onnx.checker (full_check)")
        print(f"{'model':<24} {'input':<11} {'batch':>5}  {'ORT vs kiln':>11}  {'kiln vs torch':>13}")
        failed = False
        for row in rows:
            name, kind, batch, error = row[:4]
            torch_error = f"{row[4]:13.2e}" if len(row) > 4 else f"{'':13}"
            failed |= error > TOLERANCE or (len(row) > 4 and row[4] > TOLERANCE)
            print(f"{name:<24} {kind:<11} {batch:>5}  {error:11.2e}  {torch_error}")

        print(f"\n{'safetensors':<12} {'torch vs kiln':>13}  {'kiln eval = eval.json':>21}")
        mnist_cnn, lenet5 = readme_modules()
        for name, module in [("resnet18", gray_resnet18), ("mnist-cnn", mnist_cnn),
                             ("lenet5", lenet5)]:
            name, error, same = check_safetensors(name, module, work, rng)
            failed |= error > TOLERANCE or not same
            print(f"{name:<12} {error:13.2e}  {str(same):>21}")
    print("FAILED" if failed else f"all within {TOLERANCE:g} of the largest logit")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
