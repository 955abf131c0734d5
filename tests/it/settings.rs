//! Every way into a run checks its settings the same way ([`kiln::train::RunConfig::plan`]):
//! an invalid value in a replayed `config.json`, a `.toml` settings file or a resumed run's
//! edited `config.json` exits 2 naming the file and the field, and writes nothing.

use crate::common;

use std::path::Path;

use serde_json::{Value, json};

/// Every file under `dir` (relative paths, sorted); empty if it does not exist.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn output(out: &std::process::Output) -> String {
    format!(
        "status {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An invalid value of a recorded run: the edit to `config.json`, the field the error must
/// name.
type Edit = (fn(&mut Value), &'static str);

fn invalid_recorded_values() -> Vec<Edit> {
    vec![
        (|c| c["training"]["lr"] = json!(-1.0), "training.lr"),
        (|c| c["training"]["lr"] = json!(0.0), "training.lr"),
        (
            |c| c["training"]["optimizer"]["beta_1"] = json!(7.0),
            "training.optimizer.beta_1",
        ),
        (
            |c| c["training"]["optimizer"]["beta_2"] = json!(-0.5),
            "training.optimizer.beta_2",
        ),
        (
            |c| {
                c["training"]["optimizer"] =
                    json!({"kind": "sgd", "momentum": 1.0, "nesterov": false, "weight_decay": 0.0})
            },
            "training.optimizer.momentum",
        ),
        (|c| c["training"]["epochs"] = json!(0), "training.epochs"),
        (
            |c| c["training"]["batch_size"] = json!(0),
            "training.batch_size",
        ),
        (
            |c| c["training"]["optimizer"]["weight_decay"] = json!(-0.1),
            "training.optimizer.weight_decay",
        ),
        (
            |c| c["training"]["label_smoothing"] = json!(1.0),
            "training.label_smoothing",
        ),
        (|c| c["architecture"] = json!("nope"), "architecture"),
        (
            |c| {
                c["monitor"] = json!({"metric": "valid_loss", "mode": null,
                    "early_stopping_patience": 2, "min_delta": -0.1, "save_best": false})
            },
            "monitor.min_delta",
        ),
    ]
}

/// A finished one-epoch run's `config.json`, as JSON.
fn recorded_run(cpu: &common::CpuRun) -> Value {
    let out = common::train_mnist(&cpu.data, &cpu.art, cpu.backend, &["--epochs", "1"]);
    assert!(out.status.success(), "{}", output(&out));
    serde_json::from_str(&std::fs::read_to_string(cpu.art.join("config.json")).unwrap()).unwrap()
}

#[test]
fn an_invalid_replayed_or_resumed_config_json_is_refused_naming_file_and_field() {
    let Some(cpu) = common::cpu_run(160, 40) else {
        return;
    };
    let recorded = recorded_run(&cpu);
    for (edit, field) in invalid_recorded_values() {
        let mut config = recorded.clone();
        edit(&mut config);

        // Replayed, into a new directory (the one the file names, and one given).
        let file = cpu.tmp.path().join("edited.json");
        let target = cpu.tmp.path().join("replayed");
        config["artifact_dir"] = json!(target);
        std::fs::write(&file, config.to_string()).unwrap();
        let (f, t) = (file.to_str().unwrap(), target.to_str().unwrap());
        for args in [
            vec!["train", "--config", f],
            vec!["train", "--config", f, "--artifact-dir", t],
        ] {
            let out = common::kiln_bin(&args);
            let log = output(&out);
            assert_eq!(out.status.code(), Some(2), "{field}: {log}");
            assert!(log.contains(&format!("{f}: {field}: ")), "{field}: {log}");
            assert!(!target.exists(), "{field}: replaying wrote {target:?}");
        }

        // Resumed after editing the run's own config.json: the run is left as it was.
        let run = cpu.tmp.path().join("run");
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).unwrap();
        for entry in listing(&cpu.art) {
            let (from, to) = (cpu.art.join(&entry), run.join(&entry));
            match from.is_dir() {
                true => std::fs::create_dir_all(&to).unwrap(),
                false => drop(std::fs::copy(&from, &to).unwrap()),
            }
        }
        config["artifact_dir"] = json!(run);
        let config_file = run.join("config.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let before = listing(&run);
        let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        let stamps: Vec<_> = before.iter().map(|e| modified(&run.join(e))).collect();
        let out = common::kiln_bin(&["train", "--resume", run.to_str().unwrap()]);
        let log = output(&out);
        assert_eq!(out.status.code(), Some(2), "{field}: {log}");
        let c = config_file.to_str().unwrap();
        assert!(log.contains(&format!("{c}: {field}: ")), "{field}: {log}");
        assert_eq!(listing(&run), before, "{field}: resuming changed the run");
        let after: Vec<_> = before.iter().map(|e| modified(&run.join(e))).collect();
        assert_eq!(after, stamps, "{field}: resuming rewrote a file");
    }
}

#[test]
fn a_recorded_config_that_is_not_json_of_a_run_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config.json");
    // Out of f64's range, so not representable: JSON has no infinity.
    std::fs::write(&file, r#"{"training": {"lr": 1e999}}"#).unwrap();
    let f = file.to_str().unwrap();
    let out = common::kiln_bin(&["train", "--config", f]);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(
        output(&out).contains(&format!("{f}: not a kiln run config")),
        "{}",
        output(&out)
    );
}

#[test]
fn an_invalid_toml_setting_is_refused_naming_file_and_key() {
    let Some(cpu) = common::cpu_run(16, 8) else {
        return;
    };
    let cases: [(&str, &str); 12] = [
        ("lr = -1.0", "lr"),
        ("lr = nan", "lr"),
        ("lr = inf", "lr"),
        ("optimizer = \"sgd\"\nmomentum = 1.0", "momentum"),
        ("optimizer = \"sgd\"\nmomentum = 2.0", "momentum"),
        ("epochs = 0", "epochs"),
        ("batch_size = 0", "batch_size"),
        ("weight-decay = -0.1", "weight-decay"),
        ("label_smoothing = 1.0", "label_smoothing"),
        ("model = \"nope\"", "model"),
        (
            "monitor = \"valid_loss\"\nearly-stopping = 2\nmin_delta = -0.1",
            "min_delta",
        ),
        ("metric = [\"macro_f1\", \"recall:Bird\"]", "metric"),
    ];
    let toml = cpu.tmp.path().join("run.toml");
    let t = toml.to_str().unwrap();
    for (settings, key) in cases {
        std::fs::write(&toml, format!("# a recipe\n{settings}\n")).unwrap();
        let args = cpu.args(&["train", "--config", t], &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::kiln_bin(&args);
        let log = output(&out);
        assert_eq!(out.status.code(), Some(2), "{settings}: {log}");
        assert!(
            log.contains(&format!("{t}: `{key}`: ")),
            "{settings}: {log}"
        );
        assert!(!cpu.art.exists(), "{settings}: wrote {:?}", cpu.art);
    }
    // The same value on the command line is named by its flag.
    let args = cpu.args(&["train", "--lr=-1"], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::kiln_bin(&args);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(
        output(&out).contains("--lr: must be a positive number, got -1"),
        "{}",
        output(&out)
    );
}
