#!/usr/bin/env bash
# kiln vs PyTorch on the CPU, side by side in one invocation: `kiln bench` and
# bench/pytorch_reference.py alternate (A B A B …) for PAIRS pairs on the same model, batch,
# steps and thread count; prints each pair's ratios (kiln / PyTorch) and their medians.
#
#   bench/compare.sh                      # mnist-cnn, batch 64, 100 steps, 3 pairs, all cores
#   PAIRS=5 BATCH=128 THREADS=2 bench/compare.sh
#   MODEL=resnet20 DATASET=cifar10 SYNTHETIC=1 BATCH=128 bench/compare.sh
#   MODEL=resnet50 DATASET=cifar10 SYNTHETIC=1 IMAGE_SIZE=224 BATCH=16 STEPS=5 WARMUP=2 bench/compare.sh
#
# Needs python3 with torch and numpy, and Fashion-MNIST on disk (Debian's dataset-fashion-mnist).
# KILN (default: cargo run --release --quiet --bin kiln --) is the kiln command to time.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3}
BATCH=${BATCH:-64}
STEPS=${STEPS:-100}
WARMUP=${WARMUP:-10}
MODEL=${MODEL:-mnist-cnn}
DATASET=${DATASET:-fashion-mnist}
SYNTHETIC=${SYNTHETIC:-}
IMAGE_SIZE=${IMAGE_SIZE:-}
THREADS=${THREADS:-$(nproc)}
synthetic=()
[[ -n $SYNTHETIC ]] && synthetic=(--synthetic)
[[ -n $IMAGE_SIZE ]] && synthetic+=(--image-size "$IMAGE_SIZE")
KILN=${KILN:-cargo run --release --quiet --bin kiln --}
export RAYON_NUM_THREADS=$THREADS
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$PAIRS"); do
  $KILN bench --backend flex --model "$MODEL" --dataset "$DATASET" "${synthetic[@]}" \
    --batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP" --json > "$out/kiln-$i.json"
  python3 bench/pytorch_reference.py --model "$MODEL" "${synthetic[@]}" --batch-size "$BATCH" \
    --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" > "$out/torch-$i.json"
done
python3 - "$out" "$PAIRS" <<'PY'
import json, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(1, pairs + 1):
    k = json.load(open(f"{out}/kiln-{i}.json"))
    t = json.load(open(f"{out}/torch-{i}.json"))
    rows.append((k, t))
k0, t0 = rows[0]
print(f"{k0['model']}, batch {k0['batch_size']}, {k0['steps']} steps, {k0['threads']} threads: "
      f"kiln ({k0['backend']}) vs {t0['framework']}")
print("pair  kiln train  torch train  ratio | kiln eval  torch eval  ratio | kiln RSS MiB  torch RSS MiB")
tr, ev = [], []
for i, (k, t) in enumerate(rows, 1):
    r1 = k["train_images_per_sec"] / t["train_images_per_sec"]
    r2 = k["eval_images_per_sec"] / t["eval_images_per_sec"]
    tr.append(r1); ev.append(r2)
    print(f"{i:>4}  {k['train_images_per_sec']:>10.0f}  {t['train_images_per_sec']:>11.0f}  {r1:5.2f} |"
          f" {k['eval_images_per_sec']:>9.0f}  {t['eval_images_per_sec']:>10.0f}  {r2:5.2f} |"
          f" {k['peak_rss_bytes'] / 2**20:>12.0f}  {t['peak_rss_bytes'] / 2**20:>13.0f}")
print(f"median ratio: train {statistics.median(tr):.2f}, eval {statistics.median(ev):.2f}")
PY
