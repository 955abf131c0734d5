//! Evaluation at scale (`cargo bench --bench evaluation`, add `--features ndarray,wgpu` for
//! more backends):
//! 1. `ConfusionMatrix::update` from a 1,000,000 × 10 logits tensor on every usable backend —
//!    one device-side count, one read-back, no per-sample host loop;
//! 2. 1,000 bootstrap resamples of 1,000,000 predictions (the intervals of `eval.json`), without
//!    and with the score-based figures;
//! 3. `kiln metrics` on a 1,000,000-row × 10-class predictions CSV with scores, full JSON
//!    report with its bootstrap intervals (the binary, end to end).
//!
//! Prints the median of several runs; figures vary with machine load, so compare within one
//! run.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use burn::tensor::{Distribution, Int, Tensor};
use kiln::Backend;
use kiln::eval::ConfusionMatrix;

const N: usize = 1_000_000;
const K: usize = 10;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn confusion_update() {
    for backend in Backend::compiled() {
        let Ok(device) = backend.device() else {
            println!("confusion update, {backend}: no device, skipped");
            continue;
        };
        let logits = Tensor::<2>::random([N, K], Distribution::Default, &device);
        let targets = Tensor::<1, Int>::random([N], Distribution::Uniform(0.0, K as f64), &device);
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..5 {
            let mut cm = ConfusionMatrix::new(K);
            let start = Instant::now();
            cm.update(logits.clone(), targets.clone())
                .expect("the generated targets are in range");
            times.push(start.elapsed().as_secs_f64());
            total = cm.total();
        }
        assert_eq!(total, N as u64);
        let t = median(times);
        println!(
            "confusion update, {backend}: {N} samples × {K} classes in {:.1} ms ({:.1} M samples/s)",
            t * 1e3,
            N as f64 / t / 1e6
        );
    }
}

fn metrics_csv() {
    let dir = std::env::temp_dir().join(format!("kiln-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("predictions.csv");
    let mut rng = kiln::data::SplitMix64::new(3);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    let header: String = (0..K).map(|c| format!(",score_{c}")).collect();
    writeln!(out, "label,prediction{header}").expect("write");
    for _ in 0..N {
        let label = rng.below(K);
        let mut scores: Vec<f64> = (0..K).map(|_| rng.below(1000) as f64 + 1.0).collect();
        scores[label] += rng.below(3000) as f64;
        let sum: f64 = scores.iter().sum();
        let pred = (0..K)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap_or(0);
        let row: String = scores.iter().map(|s| format!(",{:.6}", s / sum)).collect();
        writeln!(out, "{label},{pred}{row}").expect("write");
    }
    drop(out);
    let json = dir.join("report.json");
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["metrics", "--predictions"])
            .arg(&csv)
            .args(["--format", "json", "--json"])
            .arg(&json)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run kiln");
        times.push(start.elapsed().as_secs_f64());
        assert!(status.success());
    }
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "kiln metrics, {N} rows × {K} classes with scores ({:.0} MB CSV), full JSON report: {:.2} s",
        size as f64 / 1e6,
        median(times)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1,000 bootstrap resamples of 1,000,000 predictions: the figures of the confusion counts
/// alone, then with the scores' ROC AUC (10 one-vs-rest classes) and ECE.
fn bootstrap() {
    let mut rng = kiln::data::SplitMix64::new(5);
    let truth: Vec<usize> = (0..N).map(|_| rng.below(K)).collect();
    let mut scores = vec![0.0f64; N * K];
    let mut predicted = Vec::with_capacity(N);
    for (i, &y) in truth.iter().enumerate() {
        let row = &mut scores[i * K..(i + 1) * K];
        for v in row.iter_mut() {
            *v = rng.below(1000) as f64 + 1.0;
        }
        row[y] += rng.below(3000) as f64;
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
        predicted.push(kiln::eval::calibration::top_label(row).0);
    }
    let cm = ConfusionMatrix::from_labels(&truth, &predicted, K).expect("labels in range");
    let new_report = || {
        kiln::eval::ClassificationReport::new(&cm, None, None, kiln::eval::ZeroDivision::Zero)
            .expect("a report")
    };
    let b = kiln::eval::Bootstrap::default();
    let start = Instant::now();
    new_report()
        .add_intervals(&truth, &predicted, None, K, b)
        .expect("intervals");
    let counts_only = start.elapsed().as_secs_f64();
    let mut report = new_report();
    report.add_scores(&truth, &scores, K, None).expect("scores");
    let start = Instant::now();
    report
        .add_intervals(&truth, &predicted, Some(&scores), K, b)
        .expect("intervals");
    let with_scores = start.elapsed().as_secs_f64();
    println!(
        "bootstrap, {} resamples of {N} predictions × {K} classes on {} threads: {counts_only:.2} s \
         (accuracy, balanced accuracy, F1s, per-class precision and recall), {with_scores:.2} s \
         with ROC AUC and ECE",
        b.resamples,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn main() {
    confusion_update();
    bootstrap();
    metrics_csv();
}
