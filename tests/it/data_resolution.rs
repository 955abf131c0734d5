//! IDX reading on generated files (good and each kind of bad) and the resolution order.

use crate::common;

use std::path::{Path, PathBuf};

use kiln::data::{
    DataError, DatasetName, IdxProblem, ImageDataset, Resolver, Source, idx, load, sha256_file,
};

fn resolver(data_dir: Option<PathBuf>, env: &Path, cache: &Path, system: &Path) -> Resolver {
    Resolver {
        data_dir,
        env_root: Some(env.to_path_buf()),
        cache_root: Some(cache.to_path_buf()),
        system_root: Some(system.to_path_buf()),
        download: false,
    }
}

#[test]
fn reads_generated_files_raw_and_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let dir = tmp.path().join(format!("gz{gzip}"));
        common::write_dataset(&dir, 30, 10, gzip);
        let files = resolver(Some(dir.clone()), tmp.path(), tmp.path(), tmp.path())
            .resolve(DatasetName::Mnist.spec())
            .unwrap();
        assert_eq!(files.source, Source::DataDir);
        let d =
            ImageDataset::from_idx(&files.paths[0], &files.paths[1], Some([28, 28]), 10).unwrap();
        let (pixels, labels) = common::separable(30, 1);
        assert_eq!(d.len(), 30);
        assert_eq!(d.labels(), labels.as_slice());
        assert_eq!(d.image(7), &pixels[7 * 784..8 * 784]);
    }
}

#[test]
fn each_kind_of_bad_file_is_a_typed_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let problem = |path: &Path, r: Result<ImageDataset, DataError>| match r {
        Err(DataError::Idx { path: got, problem }) => {
            assert_eq!(got, path);
            problem
        }
        other => panic!(
            "expected an IDX error for {}, got {other:?}",
            path.display()
        ),
    };
    let labels = p("labels");
    idx::write_idx(&labels, &[2], &[1, 2], false).unwrap();

    std::fs::write(p("magic"), [1, 2, 8, 3, 0, 0, 0, 0]).unwrap();
    let r = ImageDataset::from_idx(&p("magic"), &labels, None, 10);
    assert!(matches!(
        problem(&p("magic"), r),
        IdxProblem::BadMagic { .. }
    ));

    let mut short = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    short.extend([0u8; 100]);
    std::fs::write(p("short"), &short).unwrap();
    let r = ImageDataset::from_idx(&p("short"), &labels, None, 10);
    assert!(matches!(
        problem(&p("short"), r),
        IdxProblem::Truncated { what: "data", .. }
    ));

    idx::write_idx(&p("rank"), &[2, 784], &[0; 1568], true).unwrap();
    let r = ImageDataset::from_idx(&p("rank"), &labels, None, 10);
    assert!(matches!(
        problem(&p("rank"), r),
        IdxProblem::WrongRank {
            expected: 3,
            found: 2,
            ..
        }
    ));

    idx::write_idx(&p("size"), &[2, 32, 32], &[0; 2048], false).unwrap();
    let r = ImageDataset::from_idx(&p("size"), &labels, Some([28, 28]), 10);
    assert!(matches!(
        problem(&p("size"), r),
        IdxProblem::UnexpectedShape { what: "height", .. }
    ));

    std::fs::write(p("gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let r = ImageDataset::from_idx(&p("gz"), &labels, None, 10);
    assert!(matches!(problem(&p("gz"), r), IdxProblem::Gzip(_)));

    let images = p("images");
    idx::write_idx(&images, &[2, 28, 28], &[0; 1568], false).unwrap();
    idx::write_idx(&p("badlabel"), &[2], &[1, 10], false).unwrap();
    let r = ImageDataset::from_idx(&images, &p("badlabel"), None, 10);
    assert_eq!(
        problem(&p("badlabel"), r),
        IdxProblem::LabelOutOfRange {
            index: 1,
            label: 10,
            num_classes: 10
        }
    );

    idx::write_idx(&p("three"), &[3], &[0, 1, 2], false).unwrap();
    let r = ImageDataset::from_idx(&images, &p("three"), None, 10);
    assert!(matches!(
        r,
        Err(DataError::CountMismatch {
            images: 2,
            labels: 3,
            ..
        })
    ));

    let r = ImageDataset::from_idx(&p("missing"), &labels, None, 10);
    match r {
        Err(e @ DataError::Io { .. }) => assert!(e.to_string().contains("missing")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn resolution_order_is_data_dir_env_cache_system() {
    let tmp = tempfile::tempdir().unwrap();
    let (env, cache, system) = (
        tmp.path().join("env"),
        tmp.path().join("cache"),
        tmp.path().join("sys"),
    );
    let data_dir = tmp.path().join("flag");
    let spec = DatasetName::Kmnist.spec();
    let r = resolver(Some(data_dir.clone()), &env, &cache, &system);

    // Nothing anywhere: the error lists every place, in order.
    let err = r.resolve(spec).unwrap_err();
    let msg = err.to_string();
    let positions: Vec<usize> = [
        &data_dir,
        &env.join("kmnist"),
        &cache.join("kmnist"),
        &system.join("kmnist"),
    ]
    .iter()
    .map(|d| {
        msg.find(&d.display().to_string())
            .unwrap_or_else(|| panic!("{msg}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{msg}");
    assert!(
        msg.contains("--data-dir") && msg.contains("KILN_DATA_DIR"),
        "{msg}"
    );

    // Fill the rungs from the bottom up; each new one takes precedence.
    common::write_dataset(&system.join("kmnist"), 12, 4, true);
    assert_eq!(r.resolve(spec).unwrap().source, Source::System);
    // A cache holding non-canonical files is passed over (checksums), not trusted, and the
    // reason is reported if nothing else is found.
    common::write_dataset(&cache.join("kmnist"), 12, 4, true);
    assert_eq!(r.resolve(spec).unwrap().source, Source::System);
    std::fs::remove_dir_all(system.join("kmnist")).unwrap();
    let msg = r.resolve(spec).unwrap_err().to_string();
    assert!(msg.contains("SHA-256"), "{msg}");
    std::fs::remove_dir_all(cache.join("kmnist")).unwrap();
    common::write_dataset(&system.join("kmnist"), 12, 4, true);
    common::write_dataset(&env.join("kmnist"), 12, 4, false);
    assert_eq!(r.resolve(spec).unwrap().source, Source::EnvDir);
    // A directory with only some files does not count, and says what is missing.
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("train-images-idx3-ubyte.gz"), b"").unwrap();
    assert_eq!(r.resolve(spec).unwrap().source, Source::EnvDir);
    common::write_dataset(&data_dir, 12, 4, true);
    let files = r.resolve(spec).unwrap();
    assert_eq!(
        (files.source, files.dir.clone()),
        (Source::DataDir, data_dir.clone())
    );

    let loaded = load(DatasetName::Kmnist, &r).unwrap();
    assert_eq!((loaded.train.len(), loaded.test.len()), (12, 4));
    assert!(sha256_file(&files.paths[0]).unwrap().len() == 64);
}

/// Fashion-MNIST from Debian's `dataset-fashion-mnist`, when installed.
#[test]
fn system_fashion_mnist_when_installed() {
    let system = Path::new("/usr/share/datasets");
    if !system.join("fashion-mnist").is_dir() {
        common::skipped(
            "/usr/share/datasets/fashion-mnist is absent (apt-get install dataset-fashion-mnist)",
        );
        return;
    }
    let r = Resolver {
        data_dir: None,
        env_root: None,
        cache_root: None,
        system_root: Some(system.to_path_buf()),
        download: false,
    };
    let d = load(DatasetName::FashionMnist, &r).unwrap();
    assert_eq!(d.files.source, Source::System);
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(d.train.class_counts(), vec![6_000; 10]);
    assert_eq!(d.test.class_counts(), vec![1_000; 10]);
}
