//! Data loading at scale (`cargo bench --bench data`):
//! 1. decode + validate all 70,000 Fashion-MNIST images and labels from the `.gz` files
//!    (Debian's `dataset-fashion-mnist`; skipped when absent) — `kiln_data::load`;
//! 2. decode + validate a generated 60,000-image CIFAR-10 set in the official binary layout,
//!    from the extracted directory and from the `.tar.gz`;
//! 3. the training step of `mnist-cnn` with and without data loading: batches prebuilt on the
//!    device, built on the training thread, and built ahead by 1 or 2 [`Loader`] workers.
//!
//! Prints the median of several runs; figures vary with machine load, so compare within one
//! run.

use std::path::Path;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use kiln::data::cifar::{CifarKind, CifarSource, read_cifar_splits};
use kiln::data::{
    Batch, Batcher, DatasetName, ImageDataset, ImageShape, Loader, Resolver, Split, epoch_batches,
    load,
};
use kiln::models::{Architecture, ImageClassifier, Model, ModelConfig, ModelSpec};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut items = 0;
    let times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            items = f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    (median(times), items)
}

fn fashion_mnist() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        println!("fashion-mnist: {} absent, skipped", dir.display());
        return;
    }
    let resolver = Resolver {
        data_dir: Some(dir.to_path_buf()),
        env_root: None,
        cache_root: None,
        system_root: None,
        download: false,
    };
    let (secs, n) = time(5, || {
        let d = load(DatasetName::FashionMnist, &resolver).unwrap();
        d.train.len() + d.test.len()
    });
    println!(
        "fashion-mnist (.gz): {n} images decoded and validated in {:.0} ms",
        secs * 1e3
    );
}

fn cifar10() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let mut state = 1u32;
    for name in CifarKind::Cifar10
        .files(Split::Train)
        .iter()
        .chain(CifarKind::Cifar10.files(Split::Test))
    {
        let mut bytes = Vec::with_capacity(10_000 * 3073);
        for _ in 0..10_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bytes.push((state >> 24) as u8 % 10);
            bytes.extend((0..3072u32).map(|j| (state.wrapping_add(j) >> 3) as u8));
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(dir.join("batches.meta.txt"), names).unwrap();
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("cifar-10-batches-bin", &dir).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    for (what, source) in [
        ("directory", CifarSource::Directory(dir)),
        (".tar.gz", CifarSource::Archive(archive)),
    ] {
        let (secs, n) = time(5, || {
            let (train, test) = read_cifar_splits(&source, CifarKind::Cifar10).unwrap();
            train.dataset.len() + test.dataset.len()
        });
        println!(
            "cifar-10 ({what}): {n} images decoded and validated in {:.0} ms",
            secs * 1e3
        );
    }
}

/// How the training steps of [`training_steps`] get their batches.
#[derive(Clone, Copy)]
enum Feed {
    /// Every batch built on the device before the clock starts: the step alone.
    Prebuilt,
    /// Built by a [`Loader`] with this many worker threads (0: on the training thread).
    Loader(usize),
}

/// Seconds per optimizer step of `mnist-cnn` (batch 64, Adam, flex) over `order`.
fn seconds_per_step(data: &ImageDataset, order: &[Vec<usize>], feed: Feed) -> f64 {
    let device = Device::flex();
    let spec = ModelSpec::new(10, 1, 28);
    let mut model = ModelConfig::from_name("mnist-cnn", &spec)
        .unwrap()
        .init(&device.clone().autodiff());
    let mut optim = AdamConfig::new().init();
    let batcher = Batcher::new(
        DatasetName::FashionMnist.spec().normalization(),
        device.clone().autodiff(),
    );
    let loss = CrossEntropyLossConfig::new().init(&device.clone().autodiff());
    let mut step = |model: Model, batch: Batch| {
        let loss = loss.forward(model.forward(batch.images), batch.targets);
        let _ = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-3, model, grads)
    };
    let start;
    match feed {
        Feed::Prebuilt => {
            let batches: Vec<Batch> = order.iter().map(|b| batcher.batch(data, b)).collect();
            start = Instant::now();
            for batch in batches {
                model = step(model, batch);
            }
        }
        Feed::Loader(workers) => {
            start = Instant::now();
            model = Loader::new(batcher.clone(), workers).run(data, order, 1, |batches| {
                for (batch, _) in batches {
                    model = step(model, batch);
                }
                model
            });
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(model);
    secs / order.len() as f64
}

/// Training step time with and without data loading: `mnist-cnn` on Fashion-MNIST (or, where
/// absent, random 28×28 images), batch 64. The feeds alternate, three rounds, medians.
fn training_steps() {
    let data = match load(DatasetName::FashionMnist, &Resolver::from_env(None, true)) {
        Ok(d) => d.train,
        Err(_) => {
            let mut state = 7u32;
            let pixels = (0..6_400 * 784)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let labels = (0..6_400).map(|i| (i % 10) as u8).collect();
            let shape = ImageShape {
                channels: 1,
                height: 28,
                width: 28,
            };
            ImageDataset::new(shape, 10, pixels, labels).unwrap()
        }
    };
    let order: Vec<Vec<usize>> = epoch_batches(data.len(), 64, Some((1, 1)))
        .into_iter()
        .take(60)
        .collect();
    let batcher = Batcher::new(
        DatasetName::FashionMnist.spec().normalization(),
        Device::flex(),
    );
    let (build, _) = time(5, || {
        order
            .iter()
            .map(|b| batcher.host_batch(&data, b).labels.len())
            .sum()
    });
    let feeds = [
        ("no data loading (batches prebuilt)", Feed::Prebuilt),
        ("built on the training thread", Feed::Loader(0)),
        ("1 loader worker", Feed::Loader(1)),
        ("2 loader workers", Feed::Loader(2)),
    ];
    seconds_per_step(&data, &order[..10], Feed::Prebuilt); // warm-up
    let mut times = vec![Vec::new(); feeds.len()];
    for _ in 0..3 {
        for (t, (_, feed)) in times.iter_mut().zip(&feeds) {
            t.push(seconds_per_step(&data, &order, *feed));
        }
    }
    let medians: Vec<f64> = times.into_iter().map(median).collect();
    println!(
        "mnist-cnn training step, batch 64, flex, {} threads ({} steps per run, median of 3):",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        order.len()
    );
    println!(
        "  building one batch on the host: {:.3} ms",
        build * 1e3 / order.len() as f64
    );
    for ((what, _), secs) in feeds.iter().zip(&medians) {
        println!(
            "  {what}: {:.2} ms/step ({:.3}× the step alone)",
            secs * 1e3,
            secs / medians[0]
        );
    }
}

fn main() {
    fashion_mnist();
    cifar10();
    training_steps();
}
