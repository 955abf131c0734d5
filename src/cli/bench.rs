//! `kiln bench`: training and evaluation throughput of an architecture on the compiled
//! backend, with the JSON keys `bench/pytorch_reference.py` prints for the same recipe.

use kiln_data::{DatasetName, ImageDataset, ImageShape, Resolver, SplitMix64, load};
use kiln_models::ModelSpec;
use kiln_train::BenchSettings;

use super::error::CliError;
use crate::backend::{self, Backend};
use kiln_train::Registry;

/// Flags of `kiln bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Architecture (`kiln models` lists them).
    #[arg(long, default_value = "mnist-cnn")]
    pub model: String,
    /// Dataset whose training images feed the steps (its shape and normalization are used).
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: DatasetName,
    /// Random images of the dataset's shape instead of its files (for datasets not on disk).
    #[arg(long)]
    pub synthetic: bool,
    /// Synthetic images of SIZE × SIZE instead of the dataset's size (with `--synthetic`; for
    /// example 224 for ImageNet-sized ResNets).
    #[arg(long, value_name = "SIZE")]
    pub image_size: Option<usize>,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Steps timed (training and evaluation each).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Steps run before timing.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Backend [default: the first usable one].
    #[arg(long)]
    pub backend: Option<Backend>,
    /// A directory holding the dataset's files; searched first.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Print JSON (`train_images_per_sec`, `eval_images_per_sec`, `peak_rss_bytes`,
    /// `backend`, `threads`, …).
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark and prints it; returns the JSON document.
pub fn bench(registry: &Registry, args: &BenchArgs) -> Result<serde_json::Value, CliError> {
    let spec = args.dataset.spec();
    let [height, width] = match args.image_size {
        None => spec.image_size,
        Some(_) if !args.synthetic => {
            return Err(CliError::Flag {
                flag: "--image-size",
                message: "only synthetic images can be resized: add --synthetic".into(),
            });
        }
        Some(0) => {
            return Err(CliError::Flag {
                flag: "--image-size",
                message: "an image needs at least one pixel a side".into(),
            });
        }
        Some(size) => [size, size],
    };
    let data = match args.synthetic {
        true => {
            let shape = ImageShape {
                channels: spec.channels,
                height,
                width,
            };
            let n = args.batch_size.max(1) * 16;
            let mut rng = SplitMix64::new(1);
            let pixels = (0..n * shape.len()).map(|_| rng.below(256) as u8).collect();
            let k = spec.num_classes();
            let labels = (0..n).map(|i| (i % k) as u8).collect();
            ImageDataset::new(shape, k, pixels, labels).map_err(kiln_train::TrainError::from)?
        }
        false => {
            let resolver = Resolver::from_env(args.data_dir.clone(), true);
            load(args.dataset, &resolver)
                .map_err(kiln_train::TrainError::from)?
                .train
        }
    };
    let selected = backend::select(args.backend)?;
    let model_spec = ModelSpec::new(spec.num_classes(), spec.channels, height);
    let settings = BenchSettings {
        batch_size: args.batch_size,
        steps: args.steps,
        warmup: args.warmup,
        lr: 1e-3,
    };
    let t = registry.bench(
        &args.model,
        &model_spec,
        &data,
        spec.normalization(),
        &selected.device,
        &settings,
    )?;
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let doc = serde_json::json!({
        "framework": "kiln",
        "backend": selected.backend.to_string(),
        "model": args.model,
        "dataset": args.dataset.to_string(),
        "image_size": [height, width],
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": threads,
        "train_images_per_sec": t.train_images_per_sec,
        "eval_images_per_sec": t.eval_images_per_sec,
        "peak_rss_bytes": peak_rss_bytes(),
    });
    match args.json {
        true => super::print_json(&doc)?,
        false => {
            println!(
                "{} on {} {height}×{width} ({}, {threads} threads), batch {}, {} steps after {} \
                 warm-up:",
                args.model,
                args.dataset,
                selected.backend,
                args.batch_size,
                args.steps,
                args.warmup
            );
            println!("  train: {:.0} images/s", t.train_images_per_sec);
            println!("  eval:  {:.0} images/s", t.eval_images_per_sec);
            if let Some(rss) = peak_rss_bytes() {
                println!("  peak RSS: {:.0} MiB", rss as f64 / (1 << 20) as f64);
            }
        }
    }
    Ok(doc)
}

/// The process's peak resident set size (`VmHWM` of `/proc/self/status`; Linux only).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
