use std::path::Path;

use super::*;
use crate::images::ImageShape;
use crate::resolve::Source;
use crate::spec::DatasetName;

#[test]
fn checksum_status_of_canonical_corrupt_and_decompressed_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DatasetName::Mnist.spec();
    let names: Vec<&str> = spec.all_files().map(|f| f.name).collect();
    // A canonical name with the wrong bytes, and three decompressed copies.
    let paths = vec![
        dir.path().join(names[0]),
        dir.path().join(spec.files[1].raw_name()),
        dir.path().join(spec.files[2].raw_name()),
        dir.path().join(spec.files[3].raw_name()),
    ];
    for p in &paths {
        std::fs::write(p, b"abc").unwrap();
    }
    let files = DatasetFiles {
        dir: dir.path().to_path_buf(),
        source: Source::DataDir,
        paths,
    };
    let checks = check_files(spec, &files).unwrap();
    assert_eq!(
        checks[0].status,
        ChecksumStatus::Mismatch {
            expected: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609".into(),
            actual: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        }
    );
    assert!(
        checks[1..]
            .iter()
            .all(|c| c.status == ChecksumStatus::NoDigest)
    );
    assert_eq!(checks[0].path, Path::new(dir.path()).join(names[0]));
}

#[test]
fn class_balance_counts_and_shares() {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 1,
    };
    let train = ImageDataset::new(shape, 3, vec![0; 4], vec![0, 0, 0, 2]).unwrap();
    let test = ImageDataset::new(shape, 3, vec![0; 2], vec![1, 2]).unwrap();
    let names = ["a".to_string(), "bb".into(), "c".into()];
    let table = class_balance_table(&names, &train, &test);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[1].starts_with("a ")
            && lines[1].contains("3  75.00%")
            && lines[1].contains("0   0.00%"),
        "{table}"
    );
    assert!(
        lines[2].contains("0   0.00%") && lines[2].contains("1  50.00%"),
        "{table}"
    );
    assert!(
        lines[4].starts_with("total") && lines[4].contains('4') && lines[4].ends_with('2'),
        "{table}"
    );
}
