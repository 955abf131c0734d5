//! Any bytes through kiln's CIFAR record parser, as CIFAR-10 and as CIFAR-100 (fine and coarse):
//! an error or whole records with labels in range, never a panic.
#![no_main]

use std::path::Path;

use kiln_data::cifar::{CifarKind, IMAGE_BYTES, parse_records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100Fine, CifarKind::Cifar100Coarse] {
        if let Ok((pixels, labels)) = parse_records(data, kind, Path::new("fuzz.bin")) {
            assert_eq!(pixels.len(), labels.len() * IMAGE_BYTES);
            assert!(labels.iter().all(|&l| usize::from(l) < kind.num_classes()));
        }
    }
});
