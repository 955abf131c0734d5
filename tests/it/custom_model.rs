//! `examples/custom_model.rs` end to end: an architecture defined outside kiln's crates is
//! listed, trained, re-evaluated and used for prediction through kiln's command line; and
//! every code excerpt of `docs/extending.md` is the example's code, so the guide compiles and
//! runs with it.

use crate::common;

#[path = "../../examples/custom_model.rs"]
#[allow(dead_code)] // its `main` is the example's, not the test's
mod example;

use std::path::Path;

use clap::Parser;
use kiln::cli::{ModelsArgs, PredictArgs, models, predict};
use kiln::models::ModelSpec;
use kiln::models::onnx::Message;

#[derive(Parser)]
struct Cli<T: clap::Args> {
    #[command(flatten)]
    args: T,
}

fn run<S: Into<String>>(args: impl IntoIterator<Item = S>) -> i32 {
    let args = std::iter::once("kiln".to_string()).chain(args.into_iter().map(Into::into));
    kiln::cli::main(&example::registry(), args)
}

#[test]
fn the_registered_architecture_is_listed_with_its_parameter_count() {
    let args =
        Cli::<ModelsArgs>::parse_from(["models", "--num-classes", "10", "--in-channels", "1"]);
    let listing = models(&example::registry(), &args.args).unwrap();
    let tiny = listing.iter().find(|m| m.name == "tiny-vgg").unwrap();
    // Bias-free convolutions, each with a batch norm's γ and β: block1 16·1·9 + 2·16;
    // block2..4 3 × (16·16·9 + 2·16); head (16·7·7)·10 + 10 for 28×28.
    assert_eq!(tiny.parameters, 176 + 3 * 2_336 + 7_850);
    assert!(
        listing.iter().any(|m| m.name == "resnet18"),
        "built-ins stay"
    );
    let spec = ModelSpec::new(10, 1, 28);
    assert_eq!(
        example::TinyVggConfig::new(spec.num_classes, spec.in_channels, spec.image_size).hidden,
        16
    );
}

#[test]
fn the_example_trains_evaluates_and_predicts_with_its_own_architecture() {
    let Some(cpu) = common::cpu_run(600, 200) else {
        return;
    };
    let (tmp, art) = (&cpu.tmp, &cpu.art);
    let (a, b) = (art.to_str().unwrap(), cpu.backend.to_string());
    let code = run(cpu.args(
        &["train", "--model", "tiny-vgg"],
        &["--epochs", "2", "--batch-size", "32"],
    ));
    assert_eq!(code, 0);

    // The run records the architecture by name and its full configuration.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architecture"], "tiny-vgg");
    assert_eq!(config["model"]["hidden"], 16);
    assert_eq!(config["model"]["image_size"], 28);
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("eval.json")).unwrap()).unwrap();
    let accuracy = eval["accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.5,
        "tiny-vgg learns the separable set: {accuracy}"
    );

    // `kiln eval` rebuilds tiny-vgg from config.json and reproduces the report.
    let before = std::fs::read_to_string(art.join("predictions.csv")).unwrap();
    assert_eq!(run(["eval", "--artifact-dir", a, "--backend", &b]), 0);
    assert_eq!(
        std::fs::read_to_string(art.join("predictions.csv")).unwrap(),
        before
    );

    // `kiln export` writes the architecture's own `to_onnx` graph, its weights by field name.
    assert_eq!(run(["export", "--artifact-dir", a, "--backend", &b]), 0);
    let onnx = std::fs::read(art.join("model.onnx")).unwrap();
    let graph = kiln::models::onnx::proto::ModelProto::decode(onnx.as_slice())
        .unwrap()
        .graph
        .unwrap();
    let weights: Vec<_> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.clone())
        .collect();
    assert!(
        weights.contains(&"block4.conv.weight".to_string()),
        "{weights:?}"
    );
    let ops: Vec<_> = graph
        .node
        .iter()
        .filter_map(|n| n.op_type.clone())
        .collect();
    assert_eq!(ops.iter().filter(|op| *op == "Conv").count(), 4, "{ops:?}");
    let norms = ops.iter().filter(|op| *op == "BatchNormalization");
    assert_eq!(norms.count(), 4, "{ops:?}");

    // `kiln predict` on test images exported as PNG gives predictions.csv's class and scores.
    let (pixels, _) = common::separable(200, 2);
    let mut files = Vec::new();
    for i in [0usize, 7, 19] {
        let path = tmp.path().join(format!("test-{i}.png"));
        write_png(&path, &pixels[i * 784..(i + 1) * 784]);
        files.push((i, path));
    }
    let mut args = vec![
        "predict",
        "--artifact-dir",
        a,
        "--backend",
        &b,
        "--top-k",
        "10",
    ];
    let paths: Vec<String> = files.iter().map(|(_, p)| p.display().to_string()).collect();
    for p in &paths {
        args.extend(["--image", p.as_str()]);
    }
    let parsed = Cli::<PredictArgs>::parse_from(&args);
    let predictions = predict(&example::registry(), &parsed.args).unwrap();
    let rows: Vec<Vec<String>> = before
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for ((i, _), p) in files.iter().zip(&predictions) {
        let row = &rows[*i];
        assert_eq!(p.top_k[0].class.to_string(), row[2], "image {i}");
        for c in &p.top_k {
            let expected: f32 = row[3 + c.class].parse().unwrap();
            assert!(
                (c.probability - expected).abs() < 1e-4,
                "image {i} class {}: predict {}, predictions.csv {expected}",
                c.class,
                c.probability
            );
        }
        assert_eq!(p.logits.len(), 10);
    }
}

fn write_png(path: &Path, gray: &[u8]) {
    image::GrayImage::from_raw(28, 28, gray.to_vec())
        .unwrap()
        .save(path)
        .unwrap();
}

/// Every ```rust block of the guide, verbatim in the example (which CI compiles and runs).
#[test]
fn the_extending_guide_quotes_the_example_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/extending.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/custom_model.rs")).unwrap();
    let mut blocks = 0;
    let mut rest = guide.as_str();
    while let Some(start) = rest.find("```rust\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").unwrap();
        let block = &body[..end];
        assert!(
            example.contains(block),
            "docs/extending.md quotes code that is not in examples/custom_model.rs:\n{block}"
        );
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(
        blocks >= 4,
        "the guide walks through the example ({blocks} blocks)"
    );
}
