//! Any bytes through kiln's CIFAR record parser, as CIFAR-10 and as CIFAR-100 (fine and coarse):
//! an error or whole records with labels in range, never a panic. Besides the bytes as they
//! are, the input is also cycled to 1–3 whole records (count from its first byte), so the label
//! checks and the record copy run on every input, not only on the rare exact-length ones.
#![no_main]

use std::path::Path;

use kiln_data::cifar::{CifarKind, IMAGE_BYTES, parse_records};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8], kind: CifarKind) {
    if let Ok((pixels, labels)) = parse_records(bytes, kind, Path::new("fuzz.bin")) {
        assert_eq!(pixels.len(), labels.len() * IMAGE_BYTES);
        assert_eq!(labels.len() * kind.record_bytes(), bytes.len());
        assert!(labels.iter().all(|&l| usize::from(l) < kind.num_classes()));
    }
}

fuzz_target!(|data: &[u8]| {
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100Fine, CifarKind::Cifar100Coarse] {
        check(data, kind);
        if let Some((&n, rest)) = data.split_first()
            && !rest.is_empty()
        {
            let len = (usize::from(n % 3) + 1) * kind.record_bytes();
            let whole: Vec<u8> = rest.iter().copied().cycle().take(len).collect();
            check(&whole, kind);
        }
    }
});
