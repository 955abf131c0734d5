//! kiln's deterministic augmentation ops against torchvision's, on the fixed images of
//! `tests/fixtures/augment_ops.json` (written by `tests/fixtures/gen_augment_ops.py`).

use serde_json::Value;

use super::*;

/// The fixture, parsed.
fn fixture() -> Value {
    let text = include_str!("../../tests/fixtures/augment_ops.json");
    serde_json::from_str(text).expect("the fixture is JSON")
}

/// The fixture's images by name: shape and bytes.
fn images(fixture: &Value) -> std::collections::BTreeMap<String, (ImageShape, Vec<u8>)> {
    let images = fixture["images"].as_object().expect("images");
    images
        .iter()
        .map(|(name, image)| {
            let dims = bytes_or_sizes(&image["shape"]);
            let shape = self::shape(dims[0], dims[1], dims[2]);
            let pixels = bytes_or_sizes(&image["pixels"])
                .into_iter()
                .map(|v| v as u8)
                .collect();
            (name.clone(), (shape, pixels))
        })
        .collect()
}

/// A JSON array of non-negative integers.
fn bytes_or_sizes(value: &Value) -> Vec<usize> {
    let items = value.as_array().expect("an array");
    items
        .iter()
        .map(|v| v.as_u64().expect("a non-negative integer") as usize)
        .collect()
}

/// The op `_apply_op` calls `name`.
fn op_named(name: &str) -> Op {
    let ops = RAND_OPS.iter().copied().chain([Op::Invert]);
    ops.into_iter()
        .find(|op| format!("{op:?}") == name)
        .unwrap_or_else(|| panic!("unknown op {name}"))
}

/// Asserts `ours` is within 1 of torchvision's `expected` everywhere, and says how many differ.
fn assert_close(what: &str, ours: &[u8], expected: &[usize]) -> usize {
    assert_eq!(ours.len(), expected.len(), "{what}");
    let mut differ = 0;
    for (i, (&a, &b)) in ours.iter().zip(expected).enumerate() {
        let diff = (i64::from(a) - b as i64).abs();
        assert!(diff <= 1, "{what}: value {i} is {a}, torchvision's {b}");
        differ += usize::from(diff > 0);
    }
    differ
}

#[test]
fn the_ops_match_torchvision_within_1() {
    let fixture = fixture();
    let images = images(&fixture);
    let mut exact = 0;
    let cases = fixture["cases"].as_array().expect("cases");
    for case in cases {
        let (shape, image) = &images[case["image"].as_str().expect("image name")];
        let mut ours = image.clone();
        let magnitude = case["magnitude"].as_f64().unwrap_or(0.0) as f32;
        let what = match case["kind"].as_str().expect("kind") {
            "op" => {
                let name = case["op"].as_str().expect("op name");
                apply_op(&mut ours, *shape, op_named(name), magnitude);
                format!("{name}({magnitude}) on {}", case["image"])
            }
            "hue" => {
                color::adjust_hue(&mut ours, *shape, magnitude);
                format!("adjust_hue({magnitude}) on {}", case["image"])
            }
            "crop" => {
                let w = bytes_or_sizes(&case["window"]);
                let window = Window {
                    top: w[0],
                    left: w[1],
                    height: w[2],
                    width: w[3],
                };
                resize_window(&mut ours, *shape, window);
                format!("resized_crop({window:?}) on {}", case["image"])
            }
            other => panic!("unknown case kind {other}"),
        };
        let differ = assert_close(&what, &ours, &bytes_or_sizes(&case["expected"]));
        exact += usize::from(differ == 0);
    }
    // Off-by-one is float rounding at an exact tie; the integer ops match exactly.
    assert!(
        exact * 10 >= cases.len() * 9,
        "{exact} of {} exact",
        cases.len()
    );
}

#[test]
fn the_magnitude_tables_are_torchvisions_to_the_bit() {
    let fixture = fixture();
    let tables = fixture["magnitudes"].as_array().expect("magnitudes");
    assert!(tables.len() > 30);
    for table in tables {
        let name = table["op"].as_str().expect("op name");
        let (space, bins) = match table["space"].as_str().expect("space") {
            "standard" => (Space::Standard, policy::MAGNITUDE_BINS),
            "auto" => (Space::Standard, 10),
            _ => (Space::Wide, policy::MAGNITUDE_BINS),
        };
        let dims = |key: &str| table[key].as_u64().expect("a size") as usize;
        let shape = shape(3, dims("height"), dims("width"));
        let values = table["values"].as_array().expect("values");
        assert_eq!(values.len(), bins, "{table}");
        for (bin, value) in values.iter().enumerate() {
            let theirs = value.as_f64().expect("a number") as f32;
            let ours = magnitude(op_named(name), space, bin, bins, shape);
            assert_eq!(
                ours.to_bits(),
                theirs.to_bits(),
                "{name} bin {bin} of {table}"
            );
        }
    }
}
