#!/usr/bin/env bash
# Leave-one-out ablation of a training recipe: trains the recipe as is, then once per ingredient
# with that ingredient taken out (its keys deleted from a copy of the file), and prints one line
# per run: test accuracy, its 95% bootstrap interval and the wall time.
#
#   bench/ablation.sh                                    # recipes/fashion-mnist-cnn.toml, 10 epochs
#   RECIPE=recipes/fashion-mnist.toml bench/ablation.sh
#   SEEDS="1 2" bench/ablation.sh                         # plus the full recipe on other seeds
#
# The table in docs/training.md ("What each ingredient adds") came from the first line, run on
# the recipe's earlier augmented form (AUGMENT="crop:2,flip,random-erasing:0.25" puts it back).
# KILN (default: cargo run --release --quiet --bin kiln --) is the kiln command; OUT keeps the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
RECIPE=${RECIPE:-recipes/fashion-mnist-cnn.toml}
EPOCHS=${EPOCHS:-10}
AUGMENT=${AUGMENT:-}
SEEDS=${SEEDS:-}
KILN=${KILN:-cargo run --release --quiet --bin kiln --}
OUT=${OUT:-$(mktemp -d)}
echo "runs in $OUT" >&2

# The recipe without comments or epochs, with AUGMENT as its augmentation when given.
base() {
  grep -v -e '^#' -e '^$' -e '^epochs' "$RECIPE" | grep -v -e '^augment' || true
  [[ -n $AUGMENT ]] && echo "augment = \"$AUGMENT\""
  echo "epochs = $EPOCHS"
}

# name, sed script applied to the base file
variants=(
  "everything|"
  "without random erasing|s/^augment = \"\\(.*\\),random-erasing[^,\"]*\"/augment = \"\\1\"/"
  "without augmentation|/^augment/d"
  "without label smoothing|/^label-smoothing/d"
  "without EMA|/^ema/d"
  "decay on norms and biases too|/^norm-weight-decay/d"
  "Adam, no weight decay|s/^optimizer = .*/optimizer = \"adam\"/; /weight-decay/d"
  "constant rate|/^schedule/d; /^warmup-steps/d"
  "none of them|/^augment/d; /^label-smoothing/d; /^ema/d; /weight-decay/d; /^optimizer/d; /^schedule/d; /^warmup-steps/d"
)

# Trains one variant and prints its line.
run() {
  local name=$1 file=$2 seed=$3 dir log start
  dir="$OUT/run-$(echo "$name-$seed" | tr -c 'a-zA-Z0-9\n-' '-')"
  log="$dir.log"
  start=$SECONDS
  $KILN train --config "$file" --seed "$seed" --backend flex --no-leakage-check \
    --no-tensorboard --artifact-dir "$dir" > "$log" 2>&1
  local interval
  interval=$(grep -A1 '^95% intervals' "$log" | tail -1 | awk '{print $2, $3, $4}' || true)
  printf '%-32s seed %-3s  accuracy %s  %4d s\n' "$name" "$seed" "$interval" $((SECONDS - start))
}

i=0
for v in "${variants[@]}"; do
  name=${v%%|*}
  i=$((i + 1))
  base | sed -e "${v#*|}" > "$OUT/variant-$i.toml"
  if [[ $i -gt 1 ]] && cmp -s "$OUT/variant-$i.toml" "$OUT/variant-1.toml"; then
    continue # the ingredient is not in the recipe
  fi
  run "$name" "$OUT/variant-$i.toml" 42
done
for seed in $SEEDS; do
  run "everything" "$OUT/variant-1.toml" "$seed"
done
