//! `kiln train` end to end on generated files, on every compiled backend.

use crate::common;
use crate::common::text;

use std::path::Path;
use std::process::{Command, Output};

use kiln::backend::Backend;
use serde_json::{Value, json};

fn kiln(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(args)
        .env("KILN_OFFLINE", "1")
        .env_remove("KILN_DATA_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `kiln metrics --predictions FILE --format json EXTRA…`, parsed.
fn metrics_json(predictions: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "metrics",
        "--predictions",
        predictions.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = kiln(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn train(data: &Path, artifacts: &Path, backend: Backend, extra: &[&str]) -> Output {
    common::train_mnist(data, artifacts, backend, extra)
}

#[test]
fn trains_beats_chance_and_writes_every_artifact_on_each_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // 288 training images (9 steps an epoch) reach 100% on this separable set on every backend
    // (measured 2026-12-01; 704 did too, at twice the cost on ndarray and lavapipe).
    common::write_dataset(&data, 352, 200, true);
    for (backend, _) in common::usable_backends() {
        let start = std::time::Instant::now();
        let art = tmp.path().join(format!("art-{backend}"));
        let out = train(&data, &art, backend, &[]);
        eprintln!(
            "{backend}: trained in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let log = text(&out);
        assert!(out.status.success(), "{log}");
        assert!(log.contains(&format!("backend: {backend}")), "{log}");
        assert!(
            log.contains("precision    recall  f1-score   support"),
            "{log}"
        );

        let eval: Value =
            serde_json::from_str(&std::fs::read_to_string(art.join("eval.json")).unwrap()).unwrap();
        let accuracy = eval["accuracy"].as_f64().unwrap();
        assert!(
            accuracy > 0.6,
            "{backend}: test accuracy {accuracy} (chance 0.1)\n{log}"
        );
        eprintln!("{backend}: test accuracy {accuracy}");
        for key in ["macro avg", "weighted avg", "0", "9"] {
            for field in ["precision", "recall", "f1-score", "support"] {
                assert!(
                    eval[key][field].is_number(),
                    "{backend}: eval.json[{key}][{field}]"
                );
            }
        }
        assert_eq!(eval["weighted avg"]["support"], 200);
        let cm = eval["confusion_matrix"].as_array().unwrap();
        let total: u64 = cm
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 200);
        assert!(eval["balanced_accuracy"].is_number() && eval["labels"].is_array());
        assert!(eval["cohen_kappa"].is_number() && eval["matthews_corrcoef"].is_number());
        assert_eq!(
            eval["top_k_accuracy"]["1"], eval["accuracy"],
            "{backend}: top-1 = accuracy"
        );
        assert!(eval["top_k_accuracy"]["5"].as_f64().unwrap() >= accuracy);
        for key in ["macro", "weighted", "0", "9"] {
            let auc = eval["roc_auc"][key].as_f64().unwrap();
            assert!(auc > 0.5 && auc <= 1.0, "{backend}: roc_auc[{key}] = {auc}");
        }
        assert!(eval["average_precision"]["macro"].as_f64().unwrap() > 0.5);

        let preds = std::fs::read_to_string(art.join("predictions.csv")).unwrap();
        let mut lines = preds.lines();
        let header = (0..10).fold("index,label,prediction".to_string(), |h, c| {
            h + &format!(",score_{c}")
        });
        assert_eq!(lines.next(), Some(header.as_str()));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 200);
        let correct = rows
            .iter()
            .filter(|r| {
                let f: Vec<&str> = r.split(',').collect();
                let probs: f64 = f[3..].iter().map(|p| p.parse::<f64>().unwrap()).sum();
                assert!(
                    (probs - 1.0).abs() < 1e-4,
                    "{backend}: softmax row sums to {probs}"
                );
                f[1] == f[2]
            })
            .count();
        assert_eq!(
            correct as f64 / 200.0,
            accuracy,
            "{backend}: predictions.csv agrees with eval.json"
        );

        let metrics = std::fs::read_to_string(art.join("metrics.csv")).unwrap();
        let m: Vec<&str> = metrics.lines().collect();
        assert_eq!(m[0], "epoch,split,loss,accuracy,macro_f1,lr,seconds");
        assert_eq!(m.len(), 5, "2 epochs × (train, valid)");
        assert!(
            m[1].starts_with("1,train,")
                && m[2].starts_with("1,valid,")
                && m[4].starts_with("2,valid,")
        );

        // `kiln metrics` on the predictions reproduces eval.json's numbers.
        let preds_path = art.join("predictions.csv");
        let again = metrics_json(&preds_path, &[]);
        for key in [
            "accuracy",
            "macro avg",
            "weighted avg",
            "0",
            "7",
            "balanced_accuracy",
            "cohen_kappa",
            "matthews_corrcoef",
            "top_k_accuracy",
            "roc_auc",
            "average_precision",
            "confusion_matrix",
        ] {
            assert_eq!(
                again[key], eval[key],
                "{backend}: kiln metrics vs eval.json on {key}"
            );
        }

        // Diagnostic thresholds are flags of `kiln metrics` too: a ratio of 1 always warns.
        let strict = metrics_json(&preds_path, &["--imbalance-ratio", "1"]);
        let kinds: Vec<&str> = strict["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"imbalance"), "{backend}: {kinds:?}");
        assert!(kinds.contains(&"decision_boundary"), "{backend}: {kinds:?}");

        // The threshold trade-off for one class: every rule's counts cover the test set.
        let flags = [
            "--positive-label",
            "3",
            "--min-precision",
            "0.5",
            "--min-recall",
            "0.5",
        ];
        let t = metrics_json(&preds_path, &flags)["thresholds"].clone();
        assert_eq!(t["positive_label"], "3");
        for rule in [
            "best_f1",
            "max_recall_at_precision",
            "max_precision_at_recall",
        ] {
            let c = &t[rule];
            let n: u64 = ["tp", "fp", "fn", "tn"]
                .iter()
                .map(|k| c[k].as_u64().unwrap())
                .sum();
            assert_eq!(n, 200, "{backend}: {rule}");
            let f = |k: &str| c[k].as_f64().unwrap();
            let f1 = 2.0 * f("tp") / (2.0 * f("tp") + f("fp") + f("fn"));
            assert!((f("f1") - f1).abs() < 1e-12, "{backend}: {rule}");
        }
        assert!(t["max_recall_at_precision"]["precision"].as_f64().unwrap() >= 0.5);
        assert!(t["max_precision_at_recall"]["recall"].as_f64().unwrap() >= 0.5);

        // `kiln eval` reloads model.bpk: on the test split it reproduces eval.json and
        // predictions.csv; on the validation split it sees the 64 held-out images.
        let re = tmp.path().join(format!("re-{backend}"));
        let plots = re.join("plots");
        let (a, r, p, b) = (
            art.to_str().unwrap(),
            re.to_str().unwrap(),
            plots.to_str().unwrap(),
            backend.to_string(),
        );
        let common = ["eval", "--artifact-dir", a, "--backend", &b, "--out", r];
        let mut args = common.to_vec();
        args.extend(["--plots", p, "--positive-label", "3", "--format", "json"]);
        let out = kiln(&args, &[]);
        assert!(out.status.success(), "{}", text(&out));
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["thresholds"]["positive_label"], "3");
        let reread = |f: &str| std::fs::read_to_string(re.join(f)).unwrap();
        let re_eval: Value = serde_json::from_str(&reread("eval.json")).unwrap();
        assert_eq!(
            re_eval, eval,
            "{backend}: kiln eval vs the training run's eval.json"
        );
        assert_eq!(reread("predictions.csv"), preds, "{backend}: predictions");
        for stem in common::FIGURES_CLASS_3 {
            for ext in ["png", "svg"] {
                let f = plots.join(format!("{stem}.{ext}"));
                assert!(
                    std::fs::metadata(&f).unwrap().len() > 1_000,
                    "{}",
                    f.display()
                );
            }
        }
        let mut args = common.to_vec();
        args.extend(["--split", "valid", "--format", "csv"]);
        let out = kiln(&args, &[]);
        assert!(out.status.success(), "{}", text(&out));
        let valid: Value = serde_json::from_str(&reread("eval-valid.json")).unwrap();
        assert_eq!(valid["weighted avg"]["support"], 64);
        assert_eq!(reread("predictions-valid.csv").lines().count(), 65);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("class,precision,recall"));

        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["training"]["epochs"], 2);
        assert_eq!(config["model"]["architecture"], "mnist-cnn");
        assert_eq!(config["backend"], backend.to_string());
        assert!(std::fs::metadata(art.join("model.bpk")).unwrap().len() > 1_000_000);

        // metrics.jsonl carries metrics.csv's rows as JSON.
        let csv = std::fs::read_to_string(art.join("metrics.csv")).unwrap();
        let jsonl = std::fs::read_to_string(art.join("metrics.jsonl")).unwrap();
        assert_eq!(jsonl.lines().count(), csv.lines().count() - 1);
        for (row, line) in csv.lines().skip(1).zip(jsonl.lines()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let cells: Vec<&str> = row.split(',').collect();
            assert_eq!(v["epoch"].to_string(), cells[0]);
            assert_eq!(v["split"], cells[1]);
            // (serde_json's default float parser may be one ulp off; the writers are exact.)
            for (key, cell) in [("loss", cells[2]), ("accuracy", cells[3])] {
                let (a, b) = (v[key].as_f64().unwrap(), cell.parse::<f64>().unwrap());
                assert!((a - b).abs() <= 1e-15 * b.abs(), "{key}: {a} vs {b}");
            }
        }
        // model-last.bpk holds the last epoch's weights: evaluating it gives the run's report.
        let last = art.join("model-last.bpk");
        let mut args = common.to_vec();
        args.extend(["--weights", last.to_str().unwrap(), "--format", "json"]);
        assert!(kiln(&args, &[]).status.success());
        let from_last: Value = serde_json::from_str(&reread("eval.json")).unwrap();
        assert_eq!(from_last, eval, "{backend}: model-last.bpk");
    }
}

/// The same seed twice gives the same metrics (all but wall-clock seconds) on the CPU backends,
/// with seeded augmentation on and whatever the number of loader workers.
#[test]
fn cpu_training_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 200, 50, false);
    for backend in Backend::compiled().into_iter().filter(|b| !b.is_gpu()) {
        let run = |name: &str, extra: &[&str]| -> Vec<String> {
            let art = tmp.path().join(format!("{backend}-{name}"));
            let mut flags = vec!["--limit", "200"];
            flags.extend_from_slice(extra);
            let out = train(&data, &art, backend, &flags);
            assert!(out.status.success(), "{}", text(&out));
            std::fs::read_to_string(art.join("metrics.csv"))
                .unwrap()
                .lines()
                .map(|l| l.rsplit_once(',').unwrap().0.to_string())
                .collect()
        };
        let first = run("0", &["--augment", "affine", "--loader-workers", "0"]);
        let second = run("1", &["--augment", "affine", "--loader-workers", "3"]);
        assert_eq!(first, second, "{backend}");
        let plain = run("plain", &[]);
        assert_ne!(first, plain, "{backend}: augmentation changes training");
        let config: Value = serde_json::from_str(
            &std::fs::read_to_string(tmp.path().join(format!("{backend}-1/config.json"))).unwrap(),
        )
        .unwrap();
        let affine = &config["training"]["augmentation"][0];
        assert_eq!(
            (&affine["op"], &affine["degrees"]),
            (&json!("affine"), &json!(10.0))
        );
        assert_eq!(config["training"]["loader_workers"], 3);
    }
}

#[test]
fn missing_dataset_offline_is_an_actionable_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kiln(
        &[
            "train",
            "--dataset",
            "kmnist",
            "--artifact-dir",
            tmp.path().join("a").to_str().unwrap(),
        ],
        &[
            ("KILN_DATA_DIR", tmp.path()),
            ("KILN_CACHE_DIR", tmp.path()),
        ],
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(3), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    for needle in [
        "dataset `kmnist` not found",
        "--data-dir",
        "KILN_DATA_DIR",
        "/usr/share/datasets/kmnist",
        "download: disabled by --offline or KILN_OFFLINE",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in\n{log}");
    }
    assert!(
        !tmp.path().join("a").exists(),
        "a run that cannot start creates no artifact dir"
    );
}

/// Extra metrics become metrics.csv columns; a monitor drives early stopping and the
/// best-model checkpoint, which `kiln eval --weights` can evaluate.
#[test]
fn monitored_metrics_stop_early_and_keep_the_best_model() {
    let Some(common::CpuRun {
        backend,
        tmp,
        data,
        art,
    }) = common::cpu_run(704, 200)
    else {
        return;
    };
    // The training loss falls every epoch, so "higher is better" never improves after epoch 1:
    // patience 1 stops after epoch 2 of 4, and the best model is epoch 1's.
    let flags = [
        "--epochs",
        "4",
        "--metric",
        "macro_f1",
        "--metric",
        "recall:3",
        "--monitor",
        "train_loss",
        "--mode",
        "max",
        "--early-stopping",
        "1",
        "--save-best",
    ];
    let out = train(&data, &art, backend, &flags);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("early stopping after epoch 2: train_loss has not improved for 1 epochs"),
        "{log}"
    );
    let metrics = std::fs::read_to_string(art.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<&str>> = metrics.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "epoch", "split", "loss", "accuracy", "macro_f1", "lr", "seconds", "macro_f1",
            "recall:3"
        ]
    );
    assert_eq!(rows.len(), 5, "2 epochs × (train, valid):\n{metrics}");
    for row in &rows[1..] {
        assert_eq!(
            row[7], row[4],
            "the macro_f1 column equals the built-in one"
        );
        let recall: f64 = row[8].parse().unwrap();
        assert!((0.0..=1.0).contains(&recall), "{metrics}");
    }
    let loss = |r: usize| rows[r][2].parse::<f64>().unwrap();
    assert!(loss(3) < loss(1), "training loss fell: {metrics}");
    let best = art.join("model-best.bpk");
    assert!(std::fs::metadata(&best).unwrap().len() > 1_000_000);
    assert_ne!(
        std::fs::read(&best).unwrap(),
        std::fs::read(art.join("model.bpk")).unwrap(),
        "epoch 1's weights differ from epoch 2's"
    );
    let (a, w, b) = (
        art.to_str().unwrap(),
        best.to_str().unwrap(),
        backend.to_string(),
    );
    let re = tmp.path().join("re");
    let r = re.to_str().unwrap();
    let out = kiln(
        &[
            "eval",
            "--artifact-dir",
            a,
            "--weights",
            w,
            "--backend",
            &b,
            "--out",
            r,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let best_eval: Value =
        serde_json::from_str(&std::fs::read_to_string(re.join("eval.json")).unwrap()).unwrap();
    assert_eq!(best_eval["weighted avg"]["support"], 200);

    let out = train(&data, &art, backend, &["--monitor", "valid_recall:Bird"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--monitor: unknown metric `recall:Bird`"),
        "{}",
        text(&out)
    );
}

#[test]
fn eval_of_a_directory_without_a_run_names_the_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kiln(
        &["eval", "--artifact-dir", tmp.path().to_str().unwrap()],
        &[],
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("config.json") && log.contains("kiln artifact directory"),
        "{log}"
    );
    let out = kiln(&["eval", "--artifact-dir", ".", "--split", "dev"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("unknown split `dev`"), "{}", text(&out));
}

#[test]
fn optimizer_clipping_accumulation_smoothing_and_class_weights_reach_the_run() {
    let Some(cpu) = common::cpu_run(704, 200) else {
        return;
    };
    let flags = [
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--momentum",
        "0.9",
        "--nesterov",
        "--weight-decay",
        "0.0001",
        "--clip-grad-norm",
        "1.0",
        "--accumulate-grad-batches",
        "2",
        "--label-smoothing",
        "0.1",
        "--class-weights",
        "balanced",
        "--schedule",
        "multistep",
        "--lr-milestones",
        "1",
        "--lr-gamma",
        "0.5",
        "--sampler",
        "balanced",
    ];
    let out = train(&cpu.data, &cpu.art, cpu.backend, &flags);
    assert!(out.status.success(), "{}", text(&out));
    // metrics.csv's lr column: 0.05 through epoch 1, halved from epoch 2 (0-based milestone 1).
    let metrics = std::fs::read_to_string(cpu.art.join("metrics.csv")).unwrap();
    let lrs: Vec<f64> = metrics
        .lines()
        .skip(1)
        .filter(|l| l.contains(",train,"))
        .map(|l| l.split(',').nth(5).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lrs, [0.05, 0.025], "{metrics}");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(cpu.art.join("config.json")).unwrap())
            .unwrap();
    let t = &config["training"];
    assert_eq!(t["optimizer"]["kind"], "sgd");
    assert_eq!(t["optimizer"]["momentum"], 0.9);
    assert_eq!(t["optimizer"]["nesterov"], true);
    assert_eq!(
        t["grad_clipping"],
        serde_json::json!({"kind": "norm", "max": 1.0})
    );
    assert_eq!(t["grad_accumulation"], 2);
    assert_eq!(t["sampler"], "balanced");
    assert!((t["label_smoothing"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    // `balanced` is recorded as the weights it resolved to on the training split.
    let weights: Vec<f64> = t["class_weights"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert_eq!(weights.len(), 10);
    assert!(weights.iter().all(|&w| w > 0.5 && w < 2.0), "{weights:?}");
    let eval: Value =
        serde_json::from_str(&std::fs::read_to_string(cpu.art.join("eval.json")).unwrap()).unwrap();
    assert!(eval["accuracy"].as_f64().unwrap() > 0.5, "{eval}");

    let w = cpu.tmp.path().join("weights.txt");
    std::fs::write(&w, "1 1 1\n").unwrap();
    let bad: [(&[&str], &str); 5] = [
        (
            &["--momentum", "0.9"],
            "--momentum: applies to --optimizer sgd only",
        ),
        (
            &["--label-smoothing", "1"],
            "--label-smoothing: must be in [0, 1)",
        ),
        (
            &["--class-weights", w.to_str().unwrap()],
            "--class-weights: ",
        ),
        (
            &["--class-weights", "/nonexistent/w.txt"],
            "--class-weights: /nonexistent/w.txt",
        ),
        (
            &["--accumulate-grad-batches", "0"],
            "--accumulate-grad-batches: must be at least 1",
        ),
    ];
    for (flags, expected) in bad {
        let out = train(&cpu.data, &cpu.art, cpu.backend, flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{flags:?}: {}", text(&out));
    }
}

#[test]
fn bad_flags_are_errors_naming_the_flag() {
    let out = kiln(&["train", "--model", "nope", "--offline"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--model"), "{}", text(&out));
    let out = kiln(&["train", "--epochs", "0", "--offline"], &[]);
    assert!(text(&out).contains("--epochs"), "{}", text(&out));
    let out = kiln(&["train", "--dataset", "cifar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("unknown dataset `cifar`"),
        "{}",
        text(&out)
    );
}

#[test]
fn metrics_on_malformed_csv_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("label,prediction\n1,1\n2\n", "line 3"),
        (
            "label,prediction,score_0,score_1\n0,0,0.9,zero\n",
            "score_1",
        ),
        ("label,guess\n1,1\n", "prediction"),
        ("", "label"),
    ];
    for (i, (content, needle)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("bad{i}.csv"));
        std::fs::write(&path, content).unwrap();
        let out = kiln(&["metrics", "--predictions", path.to_str().unwrap()], &[]);
        let log = text(&out);
        assert_eq!(out.status.code(), Some(2), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        assert!(
            log.contains(needle) && log.contains(&format!("bad{i}.csv")),
            "missing {needle:?}:\n{log}"
        );
    }
    let good = tmp.path().join("good.csv");
    std::fs::write(&good, "label,prediction\ncat,cat\ndog,cat\ncat,cat\n").unwrap();
    let out = kiln(
        &[
            "metrics",
            "--predictions",
            good.to_str().unwrap(),
            "--format",
            "markdown",
        ],
        &[],
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("| cat | 0.6667 | 1.0000 | 0.8000 | 2 |"),
        "{log}"
    );
}

#[test]
fn models_lists_every_architecture_with_torchvisions_parameter_counts() {
    let out = kiln(&["models", "--json", "--image-size", "224"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let count = |name: &str| {
        listing
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["parameters"].as_u64().unwrap())
    };
    assert_eq!(count("resnet18"), Some(11_689_512));
    assert_eq!(count("resnet50"), Some(25_557_032));
    assert_eq!(count("resnet152"), Some(60_192_808));
    let out = kiln(
        &[
            "models",
            "--json",
            "--num-classes",
            "10",
            "--image-size",
            "32",
        ],
        &[],
    );
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mnist-cnn",
            "lenet5",
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet101",
            "resnet152",
            "resnet20",
            "resnet32",
            "resnet44",
            "resnet56",
            "resnet110"
        ]
    );
    let resnet20 = &listing[7];
    assert_eq!(resnet20["parameters"], 269_722);
    // The text listing groups digits.
    let out = kiln(&["models", "--num-classes", "10"], &[]);
    assert!(text(&out).contains("269,722"), "{}", text(&out));
}

#[test]
fn a_cifar_resnet_trains_on_grayscale_images_and_is_reevaluated_by_name() {
    let Some(common::CpuRun {
        backend,
        tmp: _tmp, // kept: dropping it deletes the data
        data,
        art,
    }) = common::cpu_run(400, 100)
    else {
        return;
    };
    let out = train(
        &data,
        &art,
        backend,
        &["--model", "resnet20", "--epochs", "1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architecture"], "resnet20");
    assert_eq!(config["model"]["architecture"], "cifar-resnet");
    assert_eq!(config["model"]["in_channels"], 1);
    let before = std::fs::read_to_string(art.join("eval.json")).unwrap();
    let out = kiln(
        &[
            "eval",
            "--artifact-dir",
            art.to_str().unwrap(),
            "--backend",
            &backend.to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(art.join("eval.json")).unwrap(),
        before
    );
}

#[test]
fn data_info_reports_where_the_files_are_and_the_class_balance() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 200, 50, false);
    let d = data.to_str().unwrap();
    let out = kiln(
        &["data", "info", "--dataset", "mnist", "--data-dir", d],
        &[],
    );
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains(&format!("found: {d} (--data-dir)")), "{log}");
    assert!(log.contains("no canonical checksum"), "{log}");
    assert!(log.contains("train 200, test 50; 10 classes"), "{log}");
    let total = log.lines().find(|l| l.starts_with("total")).unwrap();
    assert_eq!(
        total.split_whitespace().collect::<Vec<_>>(),
        ["total", "200", "50"]
    );

    // fetch of a dataset that is nowhere, with downloads off: exit 3 and the places looked.
    let cache = tmp.path().join("cache");
    let out = kiln(
        &["data", "fetch", "--dataset", "cifar10"],
        &[("KILN_CACHE_DIR", &cache), ("KILN_DATA_DIR", &cache)],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains("dataset `cifar10` not found") && log.contains("download: disabled"),
        "{log}"
    );
}

#[test]
fn data_verify_passes_a_good_copy_and_names_the_file_of_a_corrupted_one() {
    let system = Path::new("/usr/share/datasets/fashion-mnist");
    if !system.is_dir() {
        common::skipped("data verify: Debian's dataset-fashion-mnist is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("fashion");
    std::fs::create_dir_all(&copy).unwrap();
    for f in common::FILES {
        std::fs::copy(system.join(f), copy.join(f)).unwrap();
    }
    let c = copy.to_str().unwrap();
    let verify = || {
        kiln(
            &[
                "data",
                "verify",
                "--dataset",
                "fashion-mnist",
                "--data-dir",
                c,
            ],
            &[],
        )
    };
    let out = verify();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("content checksum verified").count(),
        4,
        "{}",
        text(&out)
    );

    // A well-formed file with one label changed: the checksum catches it.
    let labels = copy.join("t10k-labels-idx1-ubyte.gz");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&labels).unwrap()),
        &mut raw,
    )
    .unwrap();
    raw[100] = (raw[100] + 1) % 10;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    std::fs::write(&labels, gz.finish().unwrap()).unwrap();
    let out = verify();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("t10k-labels-idx1-ubyte.gz: CHECKSUM MISMATCH"),
        "{log}"
    );
    assert!(
        log.contains("error:") && log.contains("t10k-labels-idx1-ubyte.gz"),
        "{log}"
    );

    // A flipped byte inside the gzip stream: the error names the file.
    let images = copy.join("t10k-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&images).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&images, bytes).unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("t10k-images-idx3-ubyte.gz"),
        "{}",
        text(&out)
    );
}

/// A run's config.json is enough to run it again: `kiln train --config` reproduces the
/// metrics and the test predictions bit for bit on the CPU.
#[test]
fn a_recorded_config_replays_to_the_same_run() {
    let Some(cpu) = common::cpu_run(400, 100) else {
        return;
    };
    let flags = ["--optimizer", "sgd", "--augment", "affine", "--stratify"];
    let out = train(&cpu.data, &cpu.art, cpu.backend, &flags);
    assert!(out.status.success(), "{}", text(&out));
    let config = cpu.art.join("config.json");
    let again = cpu.tmp.path().join("again");
    let (c, a) = (config.to_str().unwrap(), again.to_str().unwrap());
    let out = kiln(&["train", "--config", c, "--artifact-dir", a], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = |dir: &Path| -> Vec<String> {
        std::fs::read_to_string(dir.join("metrics.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(rows(&cpu.art), rows(&again));
    // The weights (model.bpk also holds random parameter ids, so compare what they compute):
    // every test probability, printed at full precision, is the same.
    let same = |name: &str| {
        std::fs::read_to_string(cpu.art.join(name)).unwrap()
            == std::fs::read_to_string(again.join(name)).unwrap()
    };
    assert!(same("predictions.csv") && same("eval.json"));
    let json = |dir: &Path| -> Value {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        v["artifact_dir"] = Value::Null;
        v
    };
    assert_eq!(json(&cpu.art), json(&again));

    // Into a directory holding a run it would overwrite it; other flags would be ignored.
    let out = kiln(&["train", "--config", c], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already holds a run"), "{}", text(&out));
    // Nor into any other run's directory (the replay's own, now).
    let out = kiln(&["train", "--config", c, "--artifact-dir", a], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = kiln(
        &["train", "--config", c, "--artifact-dir", a, "--epochs", "9"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--config: --epochs cannot be given with it"),
        "{}",
        text(&out)
    );
}

/// `kiln train --config run.toml`: every key a flag, the command line overriding the file.
#[test]
fn a_toml_config_sets_the_flags_and_the_command_line_overrides_it() {
    let Some(cpu) = common::cpu_run(300, 60) else {
        return;
    };
    let toml = cpu.tmp.path().join("run.toml");
    std::fs::write(
        &toml,
        "# a small recipe\nmodel = \"lenet5\"\nepochs = 3\noptimizer = \"sgd\"\n\
         lr_milestones = [1, 2]\nschedule = \"multistep\"\nlr-gamma = 0.5\nmetric = [\"macro_f1\", \"recall:3\"]\n\
         stratify = true\nnesterov = false\n",
    )
    .unwrap();
    let t = toml.to_str().unwrap();
    let out = train(
        &cpu.data,
        &cpu.art,
        cpu.backend,
        &["--config", t, "--epochs", "1", "--lr-milestones", "2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(cpu.art.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architecture"], "lenet5");
    assert_eq!(config["training"]["epochs"], 1, "the command line wins");
    assert_eq!(config["training"]["optimizer"]["kind"], "sgd");
    assert_eq!(
        config["training"]["schedule"]["milestones"],
        serde_json::json!([2]),
        "a list given on the command line replaces the file's"
    );
    assert_eq!(config["training"]["schedule"]["gamma"], 0.5);
    assert_eq!(
        config["metrics"],
        serde_json::json!(["macro_f1", "recall:3"])
    );
    assert_eq!(config["stratify"], true);

    std::fs::write(&toml, "epochz = 3\n").unwrap();
    let out = train(&cpu.data, &cpu.art, cpu.backend, &["--config", t]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("run.toml: `epochz` is not a kiln train flag"),
        "{}",
        text(&out)
    );
    std::fs::write(&toml, "epochs = [\n").unwrap();
    let out = train(&cpu.data, &cpu.art, cpu.backend, &["--config", t]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--config: "), "{}", text(&out));
}

/// `--devices 2` on a CPU backend: two replicas in threads, each batch split between them
/// (the library test checks the step equals one device's); recorded and replayable.
#[test]
fn data_parallel_training_on_two_cpu_replicas_is_recorded() {
    let Some(backend) = common::cpu_backend() else {
        return common::skipped("no CPU backend");
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 300, 50, false);
    let art = tmp.path().join("dp");
    let out = train(
        &data,
        &art,
        backend,
        &[
            "--limit",
            "300",
            "--devices",
            "2",
            "--epochs",
            "1",
            "--model",
            "lenet5",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["devices"], 2);
    let out = train(
        &data,
        &tmp.path().join("zero"),
        backend,
        &["--devices", "0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--devices"));
}

/// `kiln bench --json` prints the keys `bench/compare.sh` reads, with positive rates;
/// `--image-size` resizes synthetic images only.
#[test]
fn bench_prints_throughput_and_peak_memory_as_json() {
    let Some(backend) = common::cpu_backend() else {
        return common::skipped("no CPU backend");
    };
    let b = backend.to_string();
    let args = [
        "bench",
        "--backend",
        &b,
        "--model",
        "lenet5",
        "--dataset",
        "cifar10",
        "--synthetic",
        "--batch-size",
        "8",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--json",
    ];
    let out = kiln(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["train_images_per_sec", "eval_images_per_sec"] {
        assert!(doc[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {doc}");
    }
    assert_eq!(doc["backend"], b.as_str());
    if cfg!(target_os = "linux") {
        assert!(doc["peak_rss_bytes"].as_u64().is_some_and(|v| v > 1 << 20));
    }
    let out = kiln(
        &["bench", "--model", "nope", "--synthetic", "--steps", "1"],
        &[],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("unknown model `nope`"),
        "{}",
        text(&out)
    );
    // Synthetic images of another size; real ones keep theirs.
    let mut resized = args.to_vec();
    resized.extend(["--image-size", "40"]);
    let out = kiln(&resized, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["image_size"], serde_json::json!([40, 40]));
    let real: Vec<&str> = resized
        .iter()
        .copied()
        .filter(|a| *a != "--synthetic")
        .collect();
    let out = kiln(&real, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("--image-size: only synthetic images can be resized"),
        "{}",
        text(&out)
    );
}

/// resnet20 (19 batch norms) on two replicas of the CPU device, synchronized: the same
/// `metrics.csv` as one device on every column but time, and the same running statistics.
/// With a learning rate at which training does not amplify rounding: at the default recipe's,
/// one device's fused kernels and Burn's ops already part by percents within two epochs, and at
/// SGD 1e-4 the first stage's running variances by 3e-5 (docs/training.md#several-devices).
#[test]
fn batch_norm_on_two_replicas_trains_as_one_device() {
    let system = Path::new("/usr/share/datasets/fashion-mnist");
    if !system.is_dir() {
        return common::skipped("replicas: Debian's dataset-fashion-mnist is not installed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let art = tmp.path().join(name);
        let mut args = vec![
            "train",
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            system.to_str().unwrap(),
            "--limit",
            "3000",
            "--epochs",
            "2",
            "--model",
            "resnet20",
            "--backend",
            "flex",
            "--optimizer",
            "sgd",
            "--momentum",
            "0",
            "--lr",
            "0.00001",
            "--artifact-dir",
            art.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = kiln(&args, &[]);
        assert!(out.status.success(), "{}", text(&out));
        art
    };
    let one = run("one", &[]);
    let two = run("two", &["--devices", "2"]);
    let rows = common::assert_same_metrics(&one, &two, 1e-4);
    assert_eq!(rows, 4, "2 epochs × 2 splits");
    let values = common::assert_same_running_statistics(&one, &two, "resnet20", 1e-5);
    assert_eq!(values, 2 * (16 * 7 + 32 * 6 + 64 * 6));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(two.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["devices"], json!(2));
    assert_eq!(config["replica_norm"], json!("synchronized"));
}
