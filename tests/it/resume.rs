//! `kiln train --resume`: a run killed with SIGKILL mid-epoch, or stopped with Ctrl-C (SIGINT),
//! continues from its saved state to the `metrics.csv` rows (full precision, all but the
//! wall-clock seconds) and the weights of the uninterrupted run — on each CPU backend; and a
//! diverging run stops with a message, keeping its last good checkpoint.

use crate::common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use kiln::Backend;
use kiln::models::ModelConfig;
use kiln::train::{TrainingState, artifacts, load_trained, read_run_config, tensorboard};
use std::collections::BTreeMap;

/// mnist-cnn (dropout), Adam, a cosine schedule, affine augmentation on two loader workers,
/// the 2 best epochs kept by validation macro-F1, 3 epochs: long enough epochs (about 2 s) to
/// interrupt one in the middle.
const FLAGS: [&str; 13] = [
    "--epochs",
    "3",
    "--augment",
    "affine",
    "--loader-workers",
    "2",
    "--metric",
    "macro_f1",
    "--monitor",
    "valid_macro_f1",
    "--save-best",
    "--keep-checkpoints",
    "2",
];

/// Images (64 of them for validation): ndarray trains about 10× slower than Flex.
fn limit(backend: &str) -> &'static str {
    match backend {
        "ndarray" => "264",
        _ => "1264",
    }
}

/// Every ingredient of the training recipe at once: an augmentation policy with random erasing,
/// Mixup and CutMix, an EMA of the weights (with warm-up), the plateau schedule (its threshold
/// so high that the rate drops after every epoch, so its state matters) and a separate decay
/// for norm and bias parameters.
const RECIPE: [&str; 22] = [
    "--augment",
    "trivial-augment,random-erasing:0.5",
    "--mixup-alpha",
    "0.2",
    "--cutmix-alpha",
    "1.0",
    "--ema-decay",
    "0.9",
    "--ema-warmup",
    "--schedule",
    "plateau",
    "--plateau-patience",
    "0",
    "--plateau-threshold",
    "0.9",
    "--optimizer",
    "adamw",
    "--weight-decay",
    "0.05",
    "--norm-weight-decay",
    "0",
    "--warmup-steps=10",
];

fn args<'a>(data: &'a str, dir: &'a str, backend: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = common::mnist_args(data, dir, backend);
    args.extend(["--limit", limit(backend)]);
    args.extend(FLAGS);
    args.extend(extra);
    args
}

/// `metrics.csv` without its `seconds` column (the 7th).
fn rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(artifacts::METRICS))
        .unwrap()
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(6);
            cells.join(",")
        })
        .collect()
}

/// Everything a resumed run must reproduce: `metrics.csv` (but the seconds), `lr.csv`, the
/// kept checkpoints' names, the weights of model.bpk, model-best.bpk and (with an EMA)
/// model-raw.bpk as bits, and the TensorBoard values (but the seconds) by tag and step, each
/// once.
fn outcome(dir: &Path) -> Outcome {
    let mut kept: Vec<String> = std::fs::read_dir(dir.join(artifacts::CHECKPOINTS))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    (
        rows(dir),
        std::fs::read_to_string(dir.join(artifacts::LR)).unwrap(),
        kept,
        [
            None,
            Some(artifacts::BEST_MODEL),
            Some(artifacts::MODEL_RAW),
        ]
        .into_iter()
        .filter(|f| f.is_none_or(|f| dir.join(f).exists()))
        .map(|f| weights(dir, f))
        .collect(),
        tensorboard_values(dir),
    )
}

/// Every TensorBoard value of the run but the phases' seconds and the configuration, by tag
/// and step (Debug-printed),
/// with how many times each was written.
fn tensorboard_values(dir: &Path) -> BTreeMap<(String, i64), (String, usize)> {
    let mut values = BTreeMap::new();
    for file in tensorboard::event_files(&dir.join(artifacts::TENSORBOARD)).unwrap() {
        for event in tensorboard::read_events(&file).unwrap() {
            let (Some(tag), Some(tensorboard::What::Summary(s))) = (event.tag(), &event.what)
            else {
                continue;
            };
            // The configuration names the run's own directory.
            if tag.ends_with("/seconds") || tag == "config" {
                continue;
            }
            let entry = values
                .entry((tag.to_string(), event.step))
                .or_insert((String::new(), 0));
            *entry = (format!("{:?}", s.value[0]), entry.1 + 1);
        }
    }
    values
}

type Weights = Vec<(String, Vec<u32>)>;

type Outcome = (
    Vec<String>,
    String,
    Vec<String>,
    Vec<Weights>,
    BTreeMap<(String, i64), (String, usize)>,
);

fn same(got: &Outcome, expected: &Outcome, what: &str) {
    assert_eq!(got.0, expected.0, "{what}: metrics.csv");
    assert_eq!(got.1, expected.1, "{what}: lr.csv");
    assert_eq!(got.2, expected.2, "{what}: kept checkpoints");
    assert!(got.3 == expected.3, "{what}: weights");
    let twice: Vec<_> = (got.4.iter())
        .filter(|(_, (_, n))| *n > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        twice.is_empty(),
        "{what}: TensorBoard values written twice: {twice:?}"
    );
    assert!(got.4 == expected.4, "{what}: TensorBoard values");
}

/// The trained weights of the run in `dir` (or its `file`), as bits.
fn weights(dir: &Path, file: Option<&str>) -> Weights {
    let config = read_run_config::<ModelConfig>(dir).unwrap();
    let file = file.map(|f| dir.join(f));
    let model = load_trained(dir, &config, file.as_deref(), &Device::default()).unwrap();
    common::parameters(&model)
        .into_iter()
        .map(|(name, v)| (name, v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

fn state(dir: &Path) -> Option<TrainingState> {
    TrainingState::read(&dir.join(artifacts::TRAINING_STATE)).unwrap()
}

/// Starts `kiln train` in the background, its output in `dir.log`.
fn spawn(data: &Path, dir: &Path, backend: &str, extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args(
            data.to_str().unwrap(),
            dir.to_str().unwrap(),
            backend,
            extra,
        ))
        .env("KILN_OFFLINE", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits until the run in `dir` has saved the state at the start of epoch 2.
fn wait_for_epoch_2(child: &mut Child, dir: &Path) {
    let start = Instant::now();
    while state(dir).is_none_or(|s| s.epoch < 2) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended early:\n{}",
            std::fs::read_to_string(dir.with_extension("log")).unwrap()
        );
        assert!(start.elapsed() < Duration::from_secs(300), "no epoch ended");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn resume(dir: &Path) {
    let out = common::kiln_bin(&["train", "--resume", dir.to_str().unwrap()]);
    assert!(out.status.success());
}

#[test]
fn killed_or_interrupted_runs_resume_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 1264, 50, false);
    // Each CPU backend with the base flags; the recipe's ingredients on the first of them.
    let backends: Vec<String> = (Backend::compiled().into_iter())
        .filter(|b| !b.is_gpu())
        .map(|b| b.to_string())
        .collect();
    let recipe = backends
        .first()
        .map(|b| (format!("{b}-recipe"), b.clone(), &RECIPE[..]));
    let cases = (backends.iter().map(|b| (b.clone(), b.clone(), &[][..]))).chain(recipe);
    for (case, b, extra) in cases {
        let start = Instant::now();
        let whole = tmp.path().join(format!("{case}-whole"));
        let whole_args = args(data.to_str().unwrap(), whole.to_str().unwrap(), &b, extra);
        let out = common::kiln_bin(&whole_args);
        assert!(
            out.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = outcome(&whole);
        if !extra.is_empty() {
            let lr: Vec<f64> = (expected.0.iter().skip(1))
                .map(|row| row.split(',').nth(5).unwrap().parse().unwrap())
                .collect();
            // Epoch 1 sets the best, epoch 2 misses it by 90%: epoch 3 runs at a tenth.
            assert!(lr[2] > lr[4], "{case}: the plateau drops the rate: {lr:?}");
            assert!(
                expected.0[0].ends_with(",accuracy_against"),
                "{:?}",
                expected.0[0]
            );
            assert!(
                expected.0[1].ends_with(",dominant_label") && expected.0[2].ends_with(",label")
            );
            assert_eq!(
                expected.3.len(),
                3,
                "{case}: model-raw.bpk kept beside the average"
            );
            assert!(
                expected.3[0] != expected.3[2],
                "{case}: averaged ≠ raw weights"
            );
            let eval = std::fs::read_to_string(whole.join(artifacts::EVAL)).unwrap();
            assert!(
                eval.contains("\"weights\"") && eval.contains("moving average"),
                "{case}: the report says it shows the average"
            );
        }
        assert_eq!(expected.0.len(), 7, "header + 3 epochs × 2 phases");
        assert_eq!(expected.2.len(), 2, "{:?}", expected.2);

        // SIGKILL as soon as epoch 1's state is saved: in the middle of epoch 2.
        let killed = tmp.path().join(format!("{case}-killed"));
        let mut child = spawn(&data, &killed, &b, extra);
        wait_for_epoch_2(&mut child, &killed);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(rows(&killed).len(), 3, "{case}: killed after epoch 2 ended");
        assert!(!killed.join(artifacts::MODEL).exists());
        resume(&killed);
        same(
            &outcome(&killed),
            &expected,
            &format!("{case}: resumed after SIGKILL"),
        );

        // Ctrl-C: the step in progress finishes, the state is saved, exit code 130.
        let interrupted = tmp.path().join(format!("{case}-interrupted"));
        let mut child = spawn(&data, &interrupted, &b, extra);
        wait_for_epoch_2(&mut child, &interrupted);
        // Into epoch 2's first step: the state file appears just before the trainer's last
        // check for Ctrl-C at the epoch's end, and an interrupt in that gap ends the run at
        // `epoch 2, batch 0` (correctly, but not the mid-epoch case this checks; seen once in
        // many runs). An epoch here is 7 steps of ~0.9 s on 2 cores.
        std::thread::sleep(Duration::from_millis(200));
        let kill = format!("kill -INT {}", child.id());
        assert!(
            Command::new("sh")
                .args(["-c", &kill])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(interrupted.with_extension("log")).unwrap();
        assert_eq!(status.code(), Some(130), "{log}");
        let saved = state(&interrupted).unwrap();
        assert!(saved.epoch == 2 && saved.batch > 0, "{saved:?}");
        assert!(
            log.contains(&format!("epoch 2, batch {}", saved.batch))
                && log.contains("kiln train --resume"),
            "{log}"
        );
        resume(&interrupted);
        same(
            &outcome(&interrupted),
            &expected,
            &format!("{case}: resumed after Ctrl-C"),
        );

        // The comparison can fail: another seed's run ends elsewhere.
        let other = tmp.path().join(format!("{case}-other"));
        let mut other_args = args(data.to_str().unwrap(), other.to_str().unwrap(), &b, extra);
        other_args.extend(["--seed", "8"]);
        assert!(common::kiln_bin(&other_args).status.success());
        assert_ne!(rows(&other), expected.0);
        eprintln!("{case}: {:.1} s", start.elapsed().as_secs_f64());
    }
}

#[test]
fn resume_names_what_is_missing_and_refuses_other_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = common::kiln_bin(&["train", "--resume", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"));
    // Even a flag equal to its default (5 epochs) is refused, not silently ignored.
    for epochs in ["9", "5"] {
        let out = common::kiln_bin(&["train", "--resume", dir, "--epochs", epochs]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--resume")
                && stderr.contains("--epochs")
                && stderr.contains("--backend"),
            "{stderr}"
        );
    }
    let config = tmp.path().join("config.json");
    let out = common::kiln_bin(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--seed",
        "42",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seed"));
}

/// A learning rate multiplied by 10³⁰ from epoch 2 on makes the loss non-finite there: the run
/// stops naming the epoch and batch, exits non-zero, and keeps epoch 1's checkpoints.
#[test]
fn a_diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let Some(backend) = common::cpu_backend() else {
        return common::skipped("no CPU backend");
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 300, 50, false);
    let dir = tmp.path().join("run");
    let out = common::train_mnist(
        &data,
        &dir,
        backend,
        &[&["--limit", "300"][..], &common::DIVERGING].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("at epoch 2, batch"), "{stderr}");
    assert!(!dir.join(artifacts::MODEL).exists());
    let saved = state(&dir).unwrap();
    assert_eq!((saved.epoch, saved.batch, saved.history.len()), (2, 0, 2));
    assert_eq!(rows(&dir).len(), 3, "header + epoch 1's two rows");
    let config = read_run_config::<ModelConfig>(&dir).unwrap();
    let last = dir.join(artifacts::LAST_MODEL);
    let model = load_trained(&dir, &config, Some(&last), &Device::default()).unwrap();
    assert!(dir.join(artifacts::CURVES_PNG).is_file());
    assert!(
        common::parameters(&model)
            .iter()
            .all(|(_, v)| v.iter().all(|x| x.is_finite()))
    );
}
