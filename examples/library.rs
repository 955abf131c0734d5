//! kiln as a library, without its command line: train the reference CNN on Fashion-MNIST,
//! re-evaluate the trained run on its validation split, and classify an image file.
//! The README's "Using kiln from Rust" walks through it.
//!
//! ```text
//! cargo run --release --example library                  # into artifacts/library
//! cargo run --release --example library -- OUT_DIR flex  # into OUT_DIR, on the flex backend
//! ```

use std::error::Error;
use std::path::PathBuf;

use kiln::data::DatasetName;
use kiln::train::{
    ArtifactEval, DirPolicy, EvalSplit, ModelSource, Progress, Registry, RunConfig, RunOptions,
    Splits, classify,
};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or("artifacts/library".into()));
    // The backend named (as `--backend` takes it), or the first usable one compiled in (GPU
    // before CPU), and its device.
    let backend = match args.next() {
        Some(name) => Some(<kiln::Backend as clap::ValueEnum>::from_str(&name, true)?),
        None => None,
    };
    let device = kiln::select(backend)?.device;

    // 1. A run: every setting has `kiln train`'s default until set. `plan` checks them all
    //    (training does too, before it writes anything): a bad value is an error naming it.
    let mut config = RunConfig::new(DatasetName::FashionMnist, "mnist-cnn", out.join("runs"));
    config.limit = Some(6_000);
    config.training.epochs = 1;
    config.metrics = vec!["macro_f1".into(), "recall:Shirt".into()];
    config.plan()?;

    // 2. Train it by the architecture's name; the test split is evaluated and every artifact
    //    written (config.json, model.bpk, metrics.csv, eval.json, predictions.csv, TensorBoard
    //    events, …) into a new `runs/version-N`: no earlier run is replaced.
    let registry = Registry::builtin();
    let callbacks = vec![Box::new(Progress::default()) as _];
    let options = RunOptions {
        directory: DirPolicy::NextVersion,
        ..RunOptions::default()
    };
    let outcome = registry.train(config.clone(), &device, callbacks, &options)?;
    println!("run: {}", outcome.artifact_dir.display());
    println!("test split:\n{}", outcome.report.to_text(4));

    // 3. Re-evaluate the trained run on its validation split, as `kiln eval` does.
    let request = ArtifactEval {
        split: EvalSplit::Valid,
        data_dir: None,
        offline: false,
        out_dir: Some(outcome.artifact_dir.join("valid")),
        weights: None,
        thresholds: None,
        evaluation: None,
    };
    let valid = registry.eval(&outcome.artifact_dir, &request, &device)?;
    println!("validation macro F1: {:.4}", valid.report.macro_avg.f1);

    // 4. Classify an image file: here the first test image, written as a PNG.
    let test = Splits::load(&config)?.test;
    let image = out.join("first-test-image.png");
    let pixels = test.image(0).to_vec();
    image::GrayImage::from_raw(28, 28, pixels)
        .ok_or("not a 28×28 image")?
        .save(&image)?;
    let source = ModelSource::Artifacts {
        dir: &outcome.artifact_dir,
        weights: None,
    };
    let model = registry.load(None, &source, &device)?;
    let predictions = classify(&model, std::slice::from_ref(&image), 3, &device)?;
    let names = config.class_names();
    println!(
        "{}: labelled {}",
        image.display(),
        names[test.labels()[0] as usize]
    );
    for c in &predictions[0].top_k {
        println!("  {:<12} {:.3}", names[c.class], c.probability);
    }
    Ok(())
}
