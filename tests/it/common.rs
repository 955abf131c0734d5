//! Helpers shared by the integration tests: generated IDX datasets.
#![allow(dead_code)]

use std::path::Path;

use kiln::data::idx::write_idx;

/// The four MNIST file names.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// A separable 10-class 28×28 dataset: class `c` is a bright horizontal bar at rows
/// `2c+4..2c+6` with a random horizontal extent, on low noise. Deterministic in `seed`.
pub fn separable(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = kiln::data::SplitMix64::new(seed);
    let mut pixels = vec![0u8; n * 784];
    let mut labels = vec![0u8; n];
    for i in 0..n {
        let c = rng.below(10);
        labels[i] = c as u8;
        let img = &mut pixels[i * 784..(i + 1) * 784];
        for p in img.iter_mut() {
            *p = rng.below(40) as u8;
        }
        let start = rng.below(8);
        let end = 20 + rng.below(8);
        for row in 2 * c + 4..2 * c + 6 {
            for col in start..end {
                img[row * 28 + col] = 200 + rng.below(56) as u8;
            }
        }
    }
    (pixels, labels)
}

/// Writes a generated MNIST-format dataset (`train` + `test` images) into `dir`.
pub fn write_dataset(dir: &Path, train: usize, test: usize, gzip: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let names: Vec<String> = FILES
        .iter()
        .map(|f| {
            if gzip {
                f.to_string()
            } else {
                f.trim_end_matches(".gz").to_string()
            }
        })
        .collect();
    for (split, n, seed) in [(0, train, 1), (2, test, 2)] {
        let (pixels, labels) = separable(n, seed);
        write_idx(&dir.join(&names[split]), &[n, 28, 28], &pixels, gzip).unwrap();
        write_idx(&dir.join(&names[split + 1]), &[n], &labels, gzip).unwrap();
    }
}

/// Runs the `kiln` binary offline (no `KILN_DATA_DIR`), echoing its output to the test log.
pub fn kiln_bin(args: &[&str]) -> std::process::Output {
    kiln_bin_in(Path::new("."), args)
}

/// [`kiln_bin`] in the working directory `cwd`.
pub fn kiln_bin_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(cwd)
        .env("KILN_OFFLINE", "1")
        .env_remove("KILN_DATA_DIR")
        .output()
        .unwrap();
    eprintln!(
        "kiln {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `kiln train` flags that make the loss diverge in epoch 2: the learning rate × 10³⁰ from
/// there on.
pub const DIVERGING: [&str; 6] = [
    "--schedule",
    "multistep",
    "--lr-milestones",
    "1",
    "--lr-gamma",
    "1e30",
];

/// `kiln train` on the generated MNIST set in `data` (batch 32, 64 validation images, seed 7,
/// 2 epochs unless `extra` sets `--epochs`), then `extra`.
pub fn train_mnist(
    data: &Path,
    artifacts: &Path,
    backend: kiln::Backend,
    extra: &[&str],
) -> std::process::Output {
    let (d, a, b) = (
        data.to_str().unwrap(),
        artifacts.to_str().unwrap(),
        backend.to_string(),
    );
    let mut args = mnist_args(d, a, &b);
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"]);
    }
    args.extend_from_slice(extra);
    kiln_bin(&args)
}

/// `kiln train` on the generated MNIST set in `data` into `artifacts` on `backend`: batch 32,
/// 64 validation images, seed 7.
pub fn mnist_args<'a>(data: &'a str, artifacts: &'a str, backend: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        data,
        "--artifact-dir",
        artifacts,
        "--backend",
        backend,
        "--batch-size",
        "32",
        "--valid-size",
        "64",
        "--seed",
        "7",
    ]
}

/// Every compiled backend that has a device here. A backend without one prints `SKIPPED` with
/// the reason — unless `KILN_REQUIRE_BACKENDS` (comma-separated, e.g. `wgpu`) names it, in which
/// case the test fails (CI sets it so the wgpu tests cannot silently skip).
pub fn usable_backends() -> Vec<(kiln::Backend, burn::tensor::Device)> {
    let required = std::env::var("KILN_REQUIRE_BACKENDS").unwrap_or_default();
    let mut out = Vec::new();
    for b in kiln::Backend::compiled() {
        match b.device() {
            Ok(d) => out.push((b, d)),
            Err(e) if required.split(',').any(|r| r.trim() == b.to_string()) => {
                panic!("{b} is required by KILN_REQUIRE_BACKENDS but unusable: {e}")
            }
            Err(e) => skipped(&format!("{b}: {e}")),
        }
    }
    assert!(!out.is_empty(), "no usable backend compiled in");
    out
}

/// Reports a skip on the real stderr: the harness captures `eprintln!` of passing tests, so a
/// skip printed that way would never be seen.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// A CPU run on a generated dataset: the first usable CPU backend, a temporary directory whose
/// `data/` holds the dataset (`train` + `test` images) and an artifact directory `art/` in it
/// (not created).
pub struct CpuRun {
    pub backend: kiln::Backend,
    pub tmp: tempfile::TempDir,
    pub data: std::path::PathBuf,
    pub art: std::path::PathBuf,
}

impl CpuRun {
    /// `before`, then the flags naming the dataset, artifact dir and backend, then `after`.
    pub fn args(&self, before: &[&str], after: &[&str]) -> Vec<String> {
        let (d, a) = (self.data.to_str().unwrap(), self.art.to_str().unwrap());
        let flags = [
            "--dataset",
            "mnist",
            "--data-dir",
            d,
            "--offline",
            "--artifact-dir",
            a,
        ];
        let backend = self.backend.to_string();
        before
            .iter()
            .chain(&flags)
            .chain(&["--backend", backend.as_str()])
            .chain(after)
            .map(|s| s.to_string())
            .collect()
    }
}

/// The first usable CPU backend; `None`, with the skip reported, when none is compiled in.
pub fn cpu_backend() -> Option<kiln::Backend> {
    let found = usable_backends().into_iter().find(|(b, _)| !b.is_gpu());
    if found.is_none() {
        skipped("no CPU backend");
    }
    found.map(|(b, _)| b)
}

/// A [`CpuRun`]; `None`, with the skip reported, when no CPU backend is compiled in.
pub fn cpu_run(train: usize, test: usize) -> Option<CpuRun> {
    let backend = cpu_backend()?;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, train, test, false);
    let art = tmp.path().join("art");
    Some(CpuRun {
        backend,
        tmp,
        data,
        art,
    })
}

/// The figure stems `--plots` writes with scores and `--positive-label 3`.
pub const FIGURES_CLASS_3: [&str; 5] = [
    "confusion_matrix",
    "per_class",
    "pr_curve",
    "roc_curve",
    "threshold_3",
];

/// Every float parameter's path and values (flattened), in visiting order.
pub fn parameters<M: burn::module::Module>(model: &M) -> Vec<(String, Vec<f32>)> {
    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        values: Vec<(String, Vec<f32>)>,
    }
    impl burn::module::ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let values = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .unwrap();
            self.values.push((self.path.join("."), values));
        }
    }
    let mut collect = Collect::default();
    model.visit(&mut collect);
    collect.values
}

/// A separable 10-class CIFAR-10 set in the official binary layout: `<label><R plane><G plane>
/// <B plane>` records, class `c` being a bright band at rows `3c..3c+3` of channel `c mod 3` on
/// low noise. Writes `dir/cifar-10-batches-bin/` (5 training batches of `per_batch` records, a
/// test batch of `test`, `batches.meta.txt`); returns the test records.
pub fn write_cifar10(dir: &Path, per_batch: usize, test: usize) -> Vec<u8> {
    let out = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = kiln::data::SplitMix64::new(3);
    let mut records = |n: usize| {
        let mut bytes = Vec::with_capacity(n * 3073);
        for _ in 0..n {
            let c = rng.below(10);
            bytes.push(c as u8);
            let mut image: Vec<u8> = (0..3072).map(|_| rng.below(50) as u8).collect();
            for row in 3 * c..3 * c + 3 {
                for col in 2..30 {
                    image[(c % 3) * 1024 + row * 32 + col] = 200 + rng.below(56) as u8;
                }
            }
            bytes.extend(image);
        }
        bytes
    };
    for b in 1..=5 {
        std::fs::write(out.join(format!("data_batch_{b}.bin")), records(per_batch)).unwrap();
    }
    let test_records = records(test);
    std::fs::write(out.join("test_batch.bin"), &test_records).unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    std::fs::write(out.join("batches.meta.txt"), names).unwrap();
    test_records
}

/// Packs `dir/cifar-10-batches-bin/` (from [`write_cifar10`]) as the official archive
/// `into/cifar-10-binary.tar.gz`; returns `into`.
pub fn pack_cifar10(dir: &Path, into: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(into).unwrap();
    let gz = std::fs::File::create(into.join("cifar-10-binary.tar.gz")).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        gz,
        flate2::Compression::fast(),
    ));
    tar.append_dir_all("cifar-10-batches-bin", dir.join("cifar-10-batches-bin"))
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    into.to_path_buf()
}

/// Asserts that two runs' `metrics.csv` agree to `tol` on every column but time (and exactly on
/// the text ones); returns their number of rows (epochs × splits).
pub fn assert_same_metrics(a: &Path, b: &Path, tol: f64) -> usize {
    let rows = |dir: &Path| -> Vec<Vec<String>> {
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        csv.lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (a, b) = (rows(a), rows(b));
    assert_eq!(a.len(), b.len(), "{a:?}\nvs\n{b:?}");
    assert_eq!(a[0], b[0]);
    for (x, y) in a.iter().zip(&b).skip(1) {
        for ((name, u), v) in a[0].iter().zip(x).zip(y) {
            match u.parse::<f64>() {
                _ if name == "seconds" => {}
                Ok(u) => {
                    let v: f64 = v.parse().unwrap();
                    assert!((u - v).abs() <= tol, "{name}: {u} vs {v}");
                }
                Err(_) => assert_eq!(u, v),
            }
        }
    }
    a.len() - 1
}

/// Asserts that two runs of `model` (10 classes, 1×28×28) have the same batch-norm running
/// statistics in `model.bpk` to `tol`, relative where a value exceeds 1 (variances reach the
/// hundreds); returns how many values there are.
pub fn assert_same_running_statistics(a: &Path, b: &Path, model: &str, tol: f32) -> usize {
    let (s, t) = (running_statistics(a, model), running_statistics(b, model));
    assert_eq!(s.len(), t.len());
    assert!(!s.is_empty(), "{model} has no batch norm");
    let d = s
        .iter()
        .zip(&t)
        .map(|(u, v)| (u - v).abs() / u.abs().max(1.0))
        .fold(0.0, f32::max);
    assert!(d <= tol, "running statistics off by {d} (relative)");
    s.len()
}

/// Every batch norm's running mean and variance in the `model.bpk` of a run of `model`.
fn running_statistics(run: &Path, model: &str) -> Vec<f32> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::{Device, Tensor};
    use kiln::models::{Architecture, ModelConfig, ModelSpec};
    struct Collect(Vec<String>, Vec<f32>);
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.0.push(name.into());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.0.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.last().is_some_and(|n| n.starts_with("running_")) {
                self.1.extend(param.val().into_data().iter::<f32>());
            }
        }
    }
    let config = ModelConfig::from_name(model, &ModelSpec::new(10, 1, 28)).unwrap();
    let model = config
        .init(&Device::flex())
        .load_file(run.join("model.bpk"));
    let mut collect = Collect(Vec::new(), Vec::new());
    model.visit(&mut collect);
    collect.1
}

/// A finished `kiln`'s exit status, stdout and stderr, for an assertion's message.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
