use super::*;

#[test]
fn names_round_trip() {
    for d in DatasetName::ALL {
        assert_eq!(d.to_string().parse::<DatasetName>().unwrap(), d);
    }
    assert!("cifar".parse::<DatasetName>().is_err());
}

#[test]
fn tables_are_consistent() {
    for d in DatasetName::ALL {
        let s = d.spec();
        assert_eq!(s.num_classes(), 10);
        for f in s.all_files() {
            assert_eq!(f.sha256.len(), 64, "{}", f.name);
            assert!(f.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
