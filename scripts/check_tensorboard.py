"""Checks a kiln run directory's TensorBoard event files against the run's CSV and JSON files.

Reads `RUN_DIR/tensorboard/*tfevents*` with TensorBoard's own `EventAccumulator` (nothing
sampled away, nothing purged) and checks:

- every `metrics.csv` column C (other than epoch/split) and split S has the scalar tag `S/C`,
  one value per epoch at step = epoch, equal to the CSV value as float32 (NaN stays NaN);
- `step/lr` has one value per `lr.csv` row at step = step + 1, equal to its lr; `step/loss`
  has finite values at the same steps;
- the set of scalar tags is exactly the expected one (extra and missing tags are reported);
- `valid/confusion_matrix` and `valid/per_class` have one PNG per epoch at step = epoch,
  of the width and height the event records;
- the text tag `config` (step 0) contains config.json's architecture; with an `eval.json`,
  `test/report` holds a classification report and `test/accuracy` (and `test/macro_f1`)
  equal eval.json's accuracy (and macro-average F1);
- no tag has two events at the same step (e.g. after a resumed run), and TensorBoard's
  default loader (which purges "orphaned" steps) keeps every event.

Prints one PASS/FAIL line per check and a summary; exits 0 when all pass, 1 otherwise.

    pip install tensorboard pillow numpy
    python3 scripts/check_tensorboard.py RUN_DIR [RUN_DIR...]
"""
import csv
import io
import json
import math
import os
import sys
from collections import Counter

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

GUIDANCE = {"scalars": 0, "images": 0, "tensors": 0}
IMAGE_TAGS = ("valid/confusion_matrix", "valid/per_class")
STEP_TAGS = {"step/lr", "step/loss"}
TEST_TAGS = {"test/accuracy", "test/macro_f1"}


def to_float(text):
    """A CSV or JSON number as float (empty or null = NaN)."""
    return math.nan if text is None or str(text).strip() == "" else float(text)


def close(got, want):
    """`got` (read from TensorBoard) equals `want` written as float32."""
    want = float(np.float32(want))
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return got == want or abs(got - want) <= max(1e-6, 1e-6 * abs(want))


def detail(problems):
    return f": {problems[:5]}" if problems else ""


def span(steps):
    return f"steps {steps[0]}..{steps[-1]}" if steps else "no steps"


def load(tb_dir, purge):
    acc = EventAccumulator(tb_dir, size_guidance=GUIDANCE, purge_orphaned_data=purge)
    acc.Reload()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    texts = {}
    for tag in acc.Tags()["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        events = acc.Tensors(tag)
        if plugin == "scalars":  # a scalar written as a tensor summary
            scalars[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events]
        elif plugin == "text":
            texts[tag] = [(e.step, text_of(e.tensor_proto)) for e in events]
    return acc, scalars, texts


def text_of(proto):
    values = np.asarray(tensor_util.make_ndarray(proto)).ravel()
    return "\n".join(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


class Run:
    def __init__(self, path):
        self.path, self.passed, self.failed = path, 0, 0

    def check(self, ok, what):
        print(f"{'PASS' if ok else 'FAIL'} {self.path}: {what}")
        self.passed, self.failed = self.passed + bool(ok), self.failed + (not ok)
        return ok

    def series(self, tag, scalars, steps, values, source):
        """`tag` has one value per expected step, equal to `values`."""
        got = sorted(scalars.get(tag, []), key=lambda e: e[0])
        got_steps = [s for s, _ in got]
        if not self.check(got_steps == steps, f"{tag}: {len(got)} events, {span(got_steps)} "
                          f"(want {len(steps)}, {span(steps)})"):
            return
        bad = [(s, g, w) for (s, g), w in zip(got, values) if not close(g, w)]
        self.check(not bad, f"{tag}: values equal {source}" if not bad else
                   f"{tag}: {len(bad)} values differ from {source}, first at step {bad[0][0]}: "
                   f"tb={bad[0][1]!r} csv={bad[0][2]!r}")


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames or [], list(reader)


def check_run(run):
    d = run.path
    tb_dir = os.path.join(d, "tensorboard")
    files = sorted(os.listdir(tb_dir)) if os.path.isdir(tb_dir) else []
    if not run.check(any("tfevents" in f for f in files), f"event files in {tb_dir}: {files}"):
        return
    acc, scalars, texts = load(tb_dir, purge=False)

    # metrics.csv: S/C per split S and column C, one value per epoch at step = epoch.
    header, rows = read_csv(os.path.join(d, "metrics.csv"))
    columns = [c for c in header if c not in ("epoch", "split")]
    expected = set(STEP_TAGS)
    valid_epochs = []
    for split in sorted({r["split"] for r in rows}):
        split_rows = sorted((r for r in rows if r["split"] == split), key=lambda r: int(r["epoch"]))
        epochs = [int(r["epoch"]) for r in split_rows]
        if split == "valid":
            valid_epochs = epochs
        for c in columns:
            expected.add(f"{split}/{c}")
            run.series(f"{split}/{c}", scalars, epochs, [to_float(r[c]) for r in split_rows],
                       "metrics.csv")

    # lr.csv: step/lr at step + 1; step/loss at the same steps, finite.
    _, lr_rows = read_csv(os.path.join(d, "lr.csv"))
    steps = [int(r["step"]) + 1 for r in lr_rows]
    run.series("step/lr", scalars, steps, [to_float(r["lr"]) for r in lr_rows], "lr.csv")
    loss = sorted(scalars.get("step/loss", []), key=lambda e: e[0])
    run.check([s for s, _ in loss] == steps, f"step/loss: {len(loss)} events, "
              f"{span([s for s, _ in loss])}, the steps of lr.csv")
    nonfinite = [s for s, v in loss if not math.isfinite(v)]
    run.check(not nonfinite, f"step/loss: all values finite{detail(nonfinite)}")

    # eval.json: test/accuracy, test/macro_f1 and test/report.
    eval_path = os.path.join(d, "eval.json")
    report = None
    if os.path.exists(eval_path):
        with open(eval_path) as f:
            report = json.load(f)
        expected |= TEST_TAGS
        for tag, want in (("test/accuracy", report.get("accuracy", "absent")),
                          ("test/macro_f1", report.get("macro avg", {}).get("f1-score", "absent"))):
            got = scalars.get(tag, [])
            if want == "absent":
                run.check(len(got) == 1, f"{tag}: one event ({len(got)}; not in eval.json)")
            else:
                run.check(len(got) == 1 and close(got[0][1], to_float(want)),
                          f"{tag}: one event equal to eval.json's {to_float(want)!r} (got {got})")
        events = texts.get("test/report", [])
        body = events[0][1] if events else ""
        run.check(len(events) == 1 and "precision" in body and "recall" in body,
                  f"test/report: one text event with precision and recall (found {len(events)})")

    extra, missing = set(scalars) - expected, expected - set(scalars)
    run.check(not extra and not missing, f"scalar tags: {len(scalars)} found, {len(expected)} "
              f"expected; extra {sorted(extra)}, missing {sorted(missing)}")

    # Images: one PNG per epoch at step = epoch, of the recorded size.
    for tag in IMAGE_TAGS:
        images = sorted(acc.Images(tag), key=lambda e: e.step) if tag in acc.Tags()["images"] else []
        got_steps = [e.step for e in images]
        run.check(got_steps == valid_epochs,
                  f"{tag}: {len(images)} images, {span(got_steps)} (want {span(valid_epochs)})")
        bad = []
        for e in images:
            try:
                img = Image.open(io.BytesIO(e.encoded_image_string))
                img.load()
                if img.format != "PNG" or img.size != (e.width, e.height):
                    bad.append(f"step {e.step}: {img.format} {img.size} vs {(e.width, e.height)}")
            except Exception as err:  # noqa: BLE001 - any decode error is a failure
                bad.append(f"step {e.step}: {err}")
        run.check(not bad, f"{tag}: every image is a PNG of its recorded size{detail(bad)}")

    # Text: config at step 0 with the architecture.
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    arch = config.get("architecture") or config.get("model", {}).get("architecture", "")
    events = texts.get("config", [])
    run.check(len(events) == 1 and events[0][0] == 0 and bool(arch) and arch in events[0][1],
              f"config: one text event at step 0 containing architecture {arch!r} "
              f"(steps {[s for s, _ in events]})")

    # No tag with two events at one step; the default (purging) loader keeps every event.
    counts, dups = {}, []
    for kind in ("scalars", "images", "tensors", "histograms"):
        for tag in acc.Tags().get(kind, []):
            items = getattr(acc, kind.capitalize())(tag)
            counts[tag] = len(items)
            steps = sorted(s for s, n in Counter(e.step for e in items).items() if n > 1)
            if steps:
                dups.append(f"{tag} at steps {steps[:5]}")
    run.check(not dups, f"no tag of {len(counts)} has two events at one step{detail(dups)}")
    purged, _, _ = load(tb_dir, purge=True)
    lost = []
    for kind in ("scalars", "images", "tensors", "histograms"):
        for tag in purged.Tags().get(kind, []):
            n = len(getattr(purged, kind.capitalize())(tag))
            if n != counts.get(tag):
                lost.append(f"{tag} {counts.get(tag)}->{n}")
    run.check(not lost, f"TensorBoard's default purging loader keeps every event{detail(lost)}")


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    runs = [Run(p) for p in paths]
    for run in runs:
        try:
            check_run(run)
        except Exception as err:  # noqa: BLE001 - report and go on to the next run
            run.check(False, f"could not check the run: {type(err).__name__}: {err}")
    passed, failed = sum(r.passed for r in runs), sum(r.failed for r in runs)
    print(f"{'OK' if not failed else 'FAILED'}: {passed} passed, {failed} failed "
          f"across {len(runs)} run(s)")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
