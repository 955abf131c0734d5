//! Runs are never lost and easy to find: the same command twice keeps both runs (a new
//! `version-N` each); a directory holding a run is refused untouched unless `--overwrite`; one
//! process per run directory (the second is refused naming the first's PID); `kiln runs`
//! tells finished, failed, running and interrupted runs apart; `kiln eval` takes a directory
//! holding one run; and every run's TensorBoard records read back with valid checksums, one
//! value per tag and step.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use kiln::train::tensorboard::{self, Kind};
use kiln::train::{RunState, artifacts, lock_holder};

/// `kiln train` on the generated MNIST set, without an artifact directory.
fn train_args<'a>(data: &'a str, backend: &'a str, limit: &'a str) -> Vec<&'a str> {
    let mut args = common::mnist_args(data, "", backend);
    let dir = args.iter().position(|a| *a == "--artifact-dir").unwrap();
    args.drain(dir..dir + 2);
    args.extend(["--limit", limit, "--epochs", "2"]);
    args
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => files.extend(snapshot(&path)),
            false => {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_never_replaces_another() {
    let Some(backend) = common::cpu_backend() else {
        return common::skipped("no CPU backend");
    };
    let b = backend.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 300, 50, false);
    let args = train_args(data.to_str().unwrap(), &b, "300");

    // The same command twice: two versions, the first untouched by the second.
    assert!(common::kiln_bin_in(tmp.path(), &args).status.success());
    let parent = tmp.path().join("artifacts/mnist-mnist-cnn");
    let first = parent.join("version-1");
    let before = snapshot(&first);
    assert!(before.contains_key(&first.join(artifacts::MODEL)));
    assert!(common::kiln_bin_in(tmp.path(), &args).status.success());
    assert!(parent.join("version-2").join(artifacts::EVAL).is_file());
    assert!(
        snapshot(&first) == before,
        "the second run changed the first"
    );

    // An explicit directory holding a run: refused (exit 2), nothing touched.
    let mut explicit = args.clone();
    explicit.extend(["--artifact-dir", first.to_str().unwrap()]);
    let out = common::kiln_bin_in(tmp.path(), &explicit);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains(&format!(
            "{} already holds a run (finished)",
            first.display()
        )) && message.contains("--overwrite"),
        "{message}"
    );
    assert!(
        snapshot(&first) == before,
        "a refused run touched the directory"
    );

    // A replacement that cannot start (no dataset where it looks) replaces nothing; only the
    // lock file names the last process that held it.
    explicit.push("--overwrite");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut failing = explicit.clone();
    failing.extend(["--data-dir", empty.to_str().unwrap()]);
    let out = common::kiln_bin_in(tmp.path(), &failing);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let unlocked = |mut files: BTreeMap<PathBuf, Vec<u8>>| {
        files.remove(&first.join(artifacts::LOCK));
        files
    };
    assert!(unlocked(snapshot(&first)) == unlocked(before.clone()));

    // --overwrite replaces it: the old files are gone, a new run is there.
    std::fs::write(first.join("notes.txt"), "old").unwrap();
    assert!(common::kiln_bin_in(tmp.path(), &explicit).status.success());
    assert!(!first.join("notes.txt").exists());
    let status = kiln::train::RunStatus::read(&first).unwrap().unwrap();
    assert_eq!(status.state, RunState::Finished);
    assert!(first.join(artifacts::MODEL).is_file());

    // A directory with runs under it is not one run's directory; a link to a run is not a
    // second run.
    std::os::unix::fs::symlink(parent.join("version-2"), parent.join("latest")).unwrap();
    let mut tree = args.clone();
    tree.extend(["--artifact-dir", parent.to_str().unwrap(), "--overwrite"]);
    let out = common::kiln_bin_in(tmp.path(), &tree);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has 2 run(s) under it"),
        "{}",
        stderr(&out)
    );

    // A parent that is itself a run (kiln's layout before versions) gets no versions inside.
    let old = tmp.path().join("old");
    let mut old_layout = args.clone();
    old_layout.extend(["--artifact-dir", "artifacts/mnist-mnist-cnn"]);
    std::fs::create_dir(&old).unwrap();
    assert!(common::kiln_bin_in(&old, &old_layout).status.success());
    let out = common::kiln_bin_in(&old, &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("version-0"), "{}", stderr(&out));

    // `kiln eval` on a directory: several runs are named; one run is used.
    let out = common::kiln_bin_in(
        tmp.path(),
        &[
            "eval",
            "--artifact-dir",
            parent.to_str().unwrap(),
            "--backend",
            &b,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("holds 2 runs") && stderr(&out).contains("version-2"));
    let lone = tmp.path().join("lone");
    let mut args = args.clone();
    let run = lone.join("run");
    args.extend(["--artifact-dir", run.to_str().unwrap()]);
    assert!(common::kiln_bin_in(tmp.path(), &args).status.success());
    let out = common::kiln_bin_in(
        tmp.path(),
        &[
            "eval",
            "--artifact-dir",
            lone.to_str().unwrap(),
            "--backend",
            &b,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("run: {}", run.display())));
}

/// Starts `kiln train` into `dir` in the background (log beside it).
fn spawn(args: &[&str], dir: &Path) -> Child {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .args(["--artifact-dir", dir.to_str().unwrap()])
        .env("KILN_OFFLINE", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits until `done` holds, while `child` runs.
fn wait_until(child: &mut Child, dir: &Path, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        let log = || std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default();
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended early:\n{}",
            log()
        );
        assert!(start.elapsed() < Duration::from_secs(300), "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The states `kiln runs --json DIR` lists, by run directory name.
fn states(root: &Path) -> BTreeMap<String, String> {
    let out = common::kiln_bin(&["runs", root.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (runs.as_array().unwrap().iter())
        .map(|r| {
            let dir = Path::new(r["dir"].as_str().unwrap());
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            (name, r["state"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn one_process_per_run_and_every_state_listed() {
    let Some(backend) = common::cpu_backend() else {
        return common::skipped("no CPU backend");
    };
    let b = backend.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 1264, 50, false);
    let root = tmp.path().join("runs");
    let (finished, failed) = (root.join("finished"), root.join("failed"));
    let (running, killed) = (root.join("running"), root.join("killed"));
    let short = train_args(data.to_str().unwrap(), &b, "300");
    let with_dir = |args: &[&str], dir: &Path| -> Vec<String> {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["--artifact-dir".into(), dir.to_str().unwrap().into()]);
        args
    };
    let run =
        |args: Vec<String>| common::kiln_bin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run(with_dir(&short, &finished)).status.success());
    // A learning rate × 10³⁰ from epoch 2 on: the loss diverges, the run fails.
    let mut diverging = with_dir(&short, &failed);
    diverging.extend(common::DIVERGING.map(String::from));
    assert_eq!(run(diverging).status.code(), Some(1));

    // A long run, and a second process on its directory.
    let mut long = train_args(data.to_str().unwrap(), &b, "1264");
    long.extend(["--epochs", "3"]);
    let mut first = spawn(&long, &running);
    wait_until(&mut first, &running, || {
        lock_holder(&running).unwrap().is_some()
    });
    for extra in [&[][..], &["--overwrite"][..]] {
        let mut second = with_dir(&long, &running);
        second.extend(extra.iter().map(|s| s.to_string()));
        let out = run(second);
        assert!(!out.status.success());
        let pid = format!("PID {}", first.id());
        assert!(stderr(&out).contains(&pid), "{extra:?}: {}", stderr(&out));
    }
    let listed = states(&root);
    assert_eq!(listed["finished"], "finished");
    assert_eq!(listed["failed"], "failed");
    assert_eq!(listed["running"], "running");

    // Killed (SIGKILL) after its first epoch: interrupted; --resume takes the lock.
    let mut victim = spawn(&long, &killed);
    let state_dir = killed.join(artifacts::TRAINING_STATE);
    wait_until(&mut victim, &killed, || {
        kiln::train::TrainingState::read(&state_dir).is_ok_and(|s| s.is_some_and(|s| s.epoch >= 2))
    });
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(
        first.wait().unwrap().success(),
        "the first run did not finish"
    );
    assert!(running.join(artifacts::EVAL).is_file());
    let listed = states(&root);
    assert_eq!(listed["running"], "finished");
    assert_eq!(listed["killed"], "interrupted");
    let table = common::kiln_bin(&["runs", root.to_str().unwrap(), "--sort", "accuracy"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    for word in [
        "finished",
        "failed",
        "interrupted",
        "valid_loss",
        "3/3",
        "2/2",
    ] {
        assert!(table.contains(word), "{word}:\n{table}");
    }
    let out = common::kiln_bin(&["train", "--resume", killed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(states(&root)["killed"], "finished");
    every_record_reads_back(&running, 3);
    every_record_reads_back(&killed, 3);
}

/// The run's event files read back with every checksum verified: one value per epoch of
/// every `metrics.csv` column by split, one per optimizer step of the loss and rate, the
/// validation images, the configuration and the test report.
fn every_record_reads_back(dir: &Path, epochs: i64) {
    let mut events = Vec::new();
    for file in tensorboard::event_files(&dir.join(artifacts::TENSORBOARD)).unwrap() {
        events.extend(tensorboard::read_events(&file).unwrap());
    }
    let mut steps: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for e in &events {
        if let Some(tag) = e.tag() {
            steps.entry(tag.to_string()).or_default().push(e.step);
        }
    }
    let epochs_axis: Vec<i64> = (1..=epochs).collect();
    let header = std::fs::read_to_string(dir.join(artifacts::METRICS)).unwrap();
    let header = header.lines().next().unwrap().to_string();
    for split in ["train", "valid"] {
        for column in header.split(',').skip(2) {
            assert_eq!(
                steps[&format!("{split}/{column}")],
                epochs_axis,
                "{split}/{column}"
            );
        }
    }
    for image in ["valid/confusion_matrix", "valid/per_class"] {
        assert_eq!(steps[image], epochs_axis, "{image}");
    }
    let lr_rows = std::fs::read_to_string(dir.join(artifacts::LR))
        .unwrap()
        .lines()
        .count()
        - 1;
    let step_axis: Vec<i64> = (1..=lr_rows as i64).collect();
    assert_eq!(steps["step/lr"], step_axis);
    assert_eq!(steps["step/loss"], step_axis);
    assert_eq!(steps["config"], [0]);
    assert_eq!(steps["test/report"], [epochs]);
    let images = events.iter().filter_map(|e| match &e.what {
        Some(tensorboard::What::Summary(s)) => match &s.value[0].kind {
            Some(Kind::Image(image)) => Some(image.encoded_image_string.clone()),
            _ => None,
        },
        _ => None,
    });
    for png in images {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
