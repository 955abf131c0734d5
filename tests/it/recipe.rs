//! The training recipe's tools end to end: `kiln lr-find` (JSON, plot, a suggestion inside the
//! range, nothing overwritten) and `kiln data augment` (the grid of augmented samples), and a
//! `.toml` recipe read by both `kiln train` and `kiln lr-find`.

use crate::common;

use serde_json::Value;

#[test]
fn lr_find_writes_the_range_test_and_suggests_a_rate_inside_it() {
    let Some(backend) = common::cpu_backend() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 600, 50, false);
    let recipe = tmp.path().join("recipe.toml");
    std::fs::write(
        &recipe,
        "dataset = \"mnist\"\nbatch-size = 32\naugment = \"crop:2,random-erasing:0.25\"\n\
         mixup-alpha = 0.2\noptimizer = \"adamw\"\nnorm-weight-decay = 0.0\n",
    )
    .unwrap();
    let stem = tmp.path().join("find");
    let (data, stem_arg, backend) = (
        data.to_str().unwrap(),
        stem.to_str().unwrap(),
        backend.to_string(),
    );
    let args = [
        "lr-find",
        "--config",
        recipe.to_str().unwrap(),
        "--data-dir",
        data,
        "--backend",
        &backend,
        "--limit",
        "600",
        "--num-steps",
        "40",
        "--start-lr",
        "1e-5",
        "--end-lr",
        "10",
        "--out",
        stem_arg,
    ];
    let out = common::kiln_bin(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value =
        serde_json::from_str(&std::fs::read_to_string(stem.with_extension("json")).unwrap())
            .unwrap();
    let points = found["points"].as_array().unwrap();
    assert!(points.len() >= 12 && points.len() <= 40, "{}", points.len());
    let lrs: Vec<f64> = points.iter().map(|p| p["lr"].as_f64().unwrap()).collect();
    assert!(lrs.windows(2).all(|w| w[1] > w[0]) && lrs[0] == 1e-5);
    let suggestion = found["suggestion"].as_f64().unwrap();
    assert!(
        suggestion > lrs[9] && suggestion <= *lrs.last().unwrap(),
        "{suggestion}"
    );
    assert!(stem.with_extension("png").is_file() && stem.with_extension("svg").is_file());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("suggested learning rate"), "{stdout}");
    // An existing result is not replaced without --replace.
    let again = common::kiln_bin(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));
}

#[test]
fn data_augment_draws_each_image_then_its_augmented_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::write_dataset(&data, 60, 10, false);
    let out_png = tmp.path().join("grid.png");
    let grid = |pipeline: &str, extra: &[&str]| {
        let mut args = vec![
            "data",
            "augment",
            "--dataset",
            "mnist",
            "--data-dir",
            data.to_str().unwrap(),
            "--augment",
            pipeline,
            "--rows",
            "3",
            "--variants",
            "4",
            "--scale",
            "2",
            "--out",
            out_png.to_str().unwrap(),
        ];
        args.extend(extra);
        common::kiln_bin(&args)
    };
    let out = grid("crop:2,flip,trivial-augment,random-erasing:0.5", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = image::open(&out_png).unwrap().to_rgb8();
    // 5 columns and 3 rows of 56-pixel tiles with 2-pixel gaps.
    assert_eq!(image.dimensions(), (5 * 58 + 2, 3 * 58 + 2));
    let tile = |row: u32, col: u32| -> Vec<u8> {
        let (x0, y0) = (2 + col * 58, 2 + row * 58);
        (y0..y0 + 56)
            .flat_map(|y| (x0..x0 + 56).map(move |x| (x, y)))
            .map(|(x, y)| image.get_pixel(x, y)[0])
            .collect()
    };
    let changed = (1..5).filter(|&c| tile(0, c) != tile(0, 0)).count();
    assert!(changed >= 2, "the draws change the image ({changed} of 4)");
    let refused = grid("crop:2", &[]);
    assert_eq!(refused.status.code(), Some(2), "an existing --out is kept");
    let bad = grid("random-erasing,flip", &["--overwrite"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("last"));
}
