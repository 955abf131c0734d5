//! Data loading at scale (`cargo bench --bench data`):
//! 1. decode + validate all 70,000 Fashion-MNIST images and labels from the `.gz` files
//!    (Debian's `dataset-fashion-mnist`; skipped when absent) — `kiln_data::load`;
//! 2. decode + validate a generated 60,000-image CIFAR-10 set in the official binary layout,
//!    from the extracted directory and from the `.tar.gz`.
//!
//! Prints the median of several runs; figures vary with machine load, so compare within one
//! run.

use std::path::Path;
use std::time::Instant;

use kiln::data::cifar::{CifarKind, CifarSource, read_cifar_splits};
use kiln::data::{DatasetName, Resolver, Split, load};

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

fn main() {
    fashion_mnist();
    cifar10();
}
