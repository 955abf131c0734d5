use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

/// Records of `kind` with the given label bytes; pixel `j` of record `i` is `(i·7 + j) mod 251`
/// offset by `seed`, so every image differs.
fn records(kind: CifarKind, labels: &[&[u8]], seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        assert_eq!(label.len(), kind.label_bytes());
        out.extend_from_slice(label);
        out.extend((0..IMAGE_BYTES).map(|j| ((i * 7 + j) % 251) as u8 ^ seed));
    }
    out
}

fn image(bytes: &[u8], kind: CifarKind, i: usize) -> &[u8] {
    let r = kind.record_bytes();
    &bytes[i * r + kind.label_bytes()..(i + 1) * r]
}

const CIFAR10_NAMES: &str =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

/// The CIFAR-10 files: batch `b` holds 3 records labelled `b, b+1, b+2` (mod 10); the test
/// batch holds labels 9, 0.
fn cifar10_files() -> Vec<(&'static str, Vec<u8>)> {
    let k = CifarKind::Cifar10;
    let mut files: Vec<(&'static str, Vec<u8>)> = k
        .files(Split::Train)
        .iter()
        .enumerate()
        .map(|(b, name)| {
            let l: Vec<[u8; 1]> = (0..3).map(|i| [((b + i) % 10) as u8]).collect();
            let labels: Vec<&[u8]> = l.iter().map(|x| x.as_slice()).collect();
            (*name, records(k, &labels, b as u8))
        })
        .collect();
    files.push(("test_batch.bin", records(k, &[&[9], &[0]], 99)));
    files.push(("batches.meta.txt", CIFAR10_NAMES.as_bytes().to_vec()));
    files
}

fn cifar100_files() -> Vec<(&'static str, Vec<u8>)> {
    let k = CifarKind::Cifar100Fine;
    let fine: String = (0..100).map(|i| format!("fine{i}\n")).collect();
    let coarse: String = (0..20).map(|i| format!("coarse{i}\n")).collect();
    vec![
        ("train.bin", records(k, &[&[3, 41], &[19, 99], &[0, 0]], 5)),
        ("test.bin", records(k, &[&[7, 12]], 6)),
        ("fine_label_names.txt", fine.into_bytes()),
        ("coarse_label_names.txt", coarse.into_bytes()),
    ]
}

fn write_dir(root: &Path, dir: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = root.join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

/// A `.tar.gz` as the official one: members under `dir/`, plus a readme at the top.
fn write_archive(path: &Path, dir: &str, files: &[(&str, Vec<u8>)]) {
    let gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: String, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes).unwrap();
    };
    add("readme.html".into(), b"<html></html>");
    for (name, bytes) in files {
        add(format!("{dir}/{name}"), bytes);
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn cifar10_reads_every_batch_in_order_from_the_directory_and_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let files = cifar10_files();
    let dir = write_dir(tmp.path(), "cifar-10-batches-bin", &files);
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &files);
    let k = CifarKind::Cifar10;
    for source in [CifarSource::Directory(dir), CifarSource::Archive(archive)] {
        let train = read_cifar(&source, k, Split::Train).unwrap();
        assert_eq!(train.class_names[0], "airplane");
        assert_eq!(train.class_names.len(), 10);
        let d = &train.dataset;
        assert_eq!((d.len(), d.shape(), d.num_classes()), (15, SHAPE, 10));
        let expected: Vec<u8> = (0..5)
            .flat_map(|b| (0..3).map(move |i| ((b + i) % 10) as u8))
            .collect();
        assert_eq!(d.labels(), expected.as_slice());
        // Pixels are the records' bytes, CHW, untouched: image 4 is batch 2's second record.
        assert_eq!(d.image(4), image(&files[1].1, k, 1));
        let test = read_cifar(&source, k, Split::Test).unwrap();
        assert_eq!(test.dataset.labels(), &[9, 0]);
        assert_eq!(test.dataset.image(1), image(&files[5].1, k, 1));
    }
}

#[test]
fn cifar100_gives_fine_or_coarse_labels_with_their_names() {
    let tmp = tempfile::tempdir().unwrap();
    let files = cifar100_files();
    let dir = write_dir(tmp.path(), "cifar-100-binary", &files);
    let archive = tmp.path().join("cifar-100-binary.tar.gz");
    write_archive(&archive, "cifar-100-binary", &files);
    for source in [CifarSource::Directory(dir), CifarSource::Archive(archive)] {
        let fine = read_cifar(&source, CifarKind::Cifar100Fine, Split::Train).unwrap();
        assert_eq!(fine.dataset.labels(), &[41, 99, 0]);
        assert_eq!(
            (fine.class_names.len(), fine.class_names[99].as_str()),
            (100, "fine99")
        );
        assert_eq!(
            fine.dataset.image(2),
            image(&files[0].1, CifarKind::Cifar100Fine, 2)
        );
        let coarse = read_cifar(&source, CifarKind::Cifar100Coarse, Split::Test).unwrap();
        assert_eq!(coarse.dataset.labels(), &[7]);
        assert_eq!(coarse.dataset.num_classes(), 20);
        assert_eq!(coarse.class_names[7], "coarse7");
    }
}

fn cifar_problem(result: Result<CifarSplit, DataError>) -> (PathBuf, CifarProblem) {
    match result {
        Err(DataError::Cifar { path, problem }) => (path, problem),
        other => panic!("expected a CIFAR error, got {other:?}"),
    }
}

#[test]
fn malformed_files_are_typed_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let k = CifarKind::Cifar10;
    type Files = Vec<(&'static str, Vec<u8>)>;
    let case = |name: &str, edit: &dyn Fn(&mut Files)| {
        let mut files = cifar10_files();
        edit(&mut files);
        let dir = write_dir(tmp.path(), name, &files);
        (
            dir.clone(),
            read_cifar(&CifarSource::Directory(dir), k, Split::Train),
        )
    };

    // Truncated: one byte short of 3 records.
    let (dir, r) = case("truncated", &|f| {
        f[2].1.pop();
    });
    let (path, problem) = cifar_problem(r);
    assert_eq!(path, dir.join("data_batch_3.bin"));
    assert_eq!(
        problem,
        CifarProblem::RecordSize {
            len: 3 * 3073 - 1,
            record: 3073
        }
    );
    assert!(
        DataError::Cifar { path, problem }
            .to_string()
            .contains("data_batch_3.bin: 9218 bytes is not a multiple of the 3073-byte record")
    );

    // A CIFAR-100 file read as CIFAR-10 (3074-byte records): 2 records are not whole 3073s.
    let (_, r) = case("wrong-variant", &|f| {
        f[0].1 = records(CifarKind::Cifar100Fine, &[&[1, 1], &[2, 2]], 0);
    });
    assert!(matches!(
        cifar_problem(r).1,
        CifarProblem::RecordSize { len: 6148, .. }
    ));

    // Label out of range.
    let (dir, r) = case("label", &|f| {
        f[4].1[3073] = 10;
    });
    let (path, problem) = cifar_problem(r);
    assert_eq!(path, dir.join("data_batch_5.bin"));
    assert_eq!(
        problem,
        CifarProblem::LabelOutOfRange {
            index: 1,
            label: 10,
            num_classes: 10
        }
    );

    // Empty file, wrong names, names not text.
    let (_, r) = case("empty", &|f| f[1].1.clear());
    assert_eq!(cifar_problem(r).1, CifarProblem::Empty);
    let (dir, r) = case("names", &|f| f[6].1 = b"a\nb\n".to_vec());
    assert_eq!(
        cifar_problem(r),
        (
            dir.join("batches.meta.txt"),
            CifarProblem::NameCount {
                expected: 10,
                found: 2
            }
        )
    );
    let (_, r) = case("binary-names", &|f| f[6].1 = vec![0xff; 40]);
    assert_eq!(cifar_problem(r).1, CifarProblem::NamesNotText);

    // A missing batch names the path.
    let (dir, _) = case("missing", &|_| {});
    std::fs::remove_file(dir.join("data_batch_4.bin")).unwrap();
    match read_cifar(&CifarSource::Directory(dir.clone()), k, Split::Train) {
        Err(DataError::Io { path, .. }) => assert_eq!(path, dir.join("data_batch_4.bin")),
        other => panic!("{other:?}"),
    }

    // CIFAR-100: a coarse label beyond 20 is refused even when reading fine labels.
    let mut files = cifar100_files();
    files[0].1[2 * 3074] = 25;
    let dir = write_dir(tmp.path(), "c100", &files);
    let (_, problem) = cifar_problem(read_cifar(
        &CifarSource::Directory(dir),
        CifarKind::Cifar100Fine,
        Split::Train,
    ));
    assert_eq!(
        problem,
        CifarProblem::LabelOutOfRange {
            index: 2,
            label: 25,
            num_classes: 20
        }
    );
}

#[test]
fn broken_archives_are_errors_naming_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let k = CifarKind::Cifar10;
    // A member missing.
    let mut files = cifar10_files();
    files.remove(3);
    let archive = tmp.path().join("partial.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &files);
    let (path, problem) = cifar_problem(read_cifar(
        &CifarSource::Archive(archive.clone()),
        k,
        Split::Train,
    ));
    assert_eq!(path, archive);
    assert_eq!(
        problem,
        CifarProblem::MissingMember("cifar-10-batches-bin/data_batch_4.bin".into())
    );

    // Truncated download; an HTML page saved under the archive's name.
    let full = tmp.path().join("full.tar.gz");
    write_archive(&full, "cifar-10-batches-bin", &cifar10_files());
    let bytes = std::fs::read(&full).unwrap();
    for (name, content) in [
        ("cut.tar.gz", bytes[..bytes.len() / 2].to_vec()),
        (
            "page.tar.gz",
            b"<!DOCTYPE html><html>Not Found</html>".to_vec(),
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, content).unwrap();
        let error = read_cifar(&CifarSource::Archive(path.clone()), k, Split::Train).unwrap_err();
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn parse_records_alone_reads_one_file() {
    let k = CifarKind::Cifar10;
    let bytes = records(k, &[&[4], &[2]], 1);
    let (pixels, labels) = parse_records(&bytes, k, Path::new("x.bin")).unwrap();
    assert_eq!(labels, [4, 2]);
    assert_eq!(&pixels[IMAGE_BYTES..], image(&bytes, k, 1));
}

#[test]
fn both_splits_in_one_pass_equal_the_splits_read_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &cifar10_files());
    let source = CifarSource::Archive(archive);
    let (train, test) = read_cifar_splits(&source, CifarKind::Cifar10).unwrap();
    assert_eq!(
        train,
        read_cifar(&source, CifarKind::Cifar10, Split::Train).unwrap()
    );
    assert_eq!(
        test,
        read_cifar(&source, CifarKind::Cifar10, Split::Test).unwrap()
    );
}
