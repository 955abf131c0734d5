use super::*;

#[test]
fn names_round_trip() {
    for d in DatasetName::ALL {
        assert_eq!(d.to_string().parse::<DatasetName>().unwrap(), d);
    }
    assert!("cifar".parse::<DatasetName>().is_err());
    assert_eq!(
        "cifar10".parse::<DatasetName>().unwrap(),
        DatasetName::Cifar10
    );
}

#[test]
fn tables_are_consistent() {
    for d in DatasetName::ALL {
        let s = d.spec();
        let classes = if d == DatasetName::Cifar100 { 100 } else { 10 };
        assert_eq!(s.num_classes(), classes);
        let mut names = s.class_name_list();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), classes, "{d}: class names are distinct");
        for f in s.all_files() {
            let (hex, len) = match f.checksum {
                Checksum::Sha256(h) => (h, 64),
                Checksum::Md5(h) => (h, 32),
            };
            assert_eq!(hex.len(), len, "{}", f.name);
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let files = match s.format {
            DatasetFormat::Idx => 4,
            DatasetFormat::Cifar(_) => 1,
        };
        assert_eq!(s.files.len(), files);
    }
}
