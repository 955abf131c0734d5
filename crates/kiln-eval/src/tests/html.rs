use super::*;
use crate::confusion::ConfusionMatrix;
use crate::metrics::ZeroDivision;

#[test]
fn base64_matches_rfc_4648_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in cases {
        assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
    }
}

#[test]
fn the_most_confident_mistakes_come_first_and_right_answers_never() {
    // 4 samples × 3 classes: #0 right, #1 wrong at 0.7, #2 wrong at 0.9, #3 wrong at 0.5.
    let labels = [0, 1, 2, 0];
    let scores = [
        0.8, 0.1, 0.1, //
        0.7, 0.2, 0.1, //
        0.05, 0.9, 0.05, //
        0.25, 0.5, 0.25,
    ];
    let m = most_confident_mistakes(&labels, &scores, 3, 2);
    assert_eq!(m, [(2, 2, 1, 0.9), (1, 1, 0, 0.7)]);
    assert_eq!(most_confident_mistakes(&labels, &scores, 3, 10).len(), 3);
}

#[test]
fn thumbnails_are_png_files_of_the_image() {
    let gray: Vec<u8> = (0..12).collect();
    let png = png_image(&gray, 1, 3, 4).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (4, 3));
    assert_eq!(&buf[..12], &gray[..]);
    // Planar RGB is interleaved.
    let rgb = png_image(&[1, 2, 10, 20, 100, 200], 3, 1, 2).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(rgb))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    assert_eq!(&buf[..6], &[1, 10, 100, 2, 20, 200]);
    assert!(png_image(&gray, 3, 3, 4).is_err());
}

#[test]
fn the_page_has_every_section_escaped_and_no_script() {
    let names: Vec<String> = ["cat", "<dog>"].map(String::from).to_vec();
    let cm = ConfusionMatrix::from_labels(&[0, 0, 1, 1], &[0, 1, 1, 1], 2).unwrap();
    let report = ClassificationReport::new(&cm, None, Some(&names), ZeroDivision::Zero).unwrap();
    let config = serde_json::json!({"architecture": "mnist-cnn", "training": {"lr": 0.002}});
    let labels = [0, 0, 1, 1];
    let scores = [0.9, 0.1, 0.4, 0.6, 0.2, 0.8, 0.3, 0.7];
    let page = HtmlReport {
        title: "test & run".into(),
        config: &config,
        curves_svg: None,
        report: &report,
        scored: Some(ScoredSamples {
            labels: &labels,
            scores: &scores,
            classes: &names,
        }),
        mistakes: vec![Thumbnail {
            png: png_image(&[0; 4], 1, 2, 2).unwrap(),
            index: 1,
            truth: "cat".into(),
            predicted: "<dog>".into(),
            confidence: 0.6,
        }],
        comparison: None,
    }
    .render()
    .unwrap();
    for id in SECTIONS {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(page.contains("test &amp; run") && page.contains("&lt;dog&gt;"));
    assert!(!page.contains("<dog>") && !page.contains("<script"));
    assert!(page.contains("data:image/png;base64,iVBORw0KGgo"));
    assert!(page.contains("accuracy 75.00%"));
}

#[test]
fn the_configuration_reads_as_a_table() {
    let config = serde_json::json!({
        "dataset": "fashion-mnist",
        "limit": null,
        "metrics": ["macro_f1", "recall:Shirt"],
        "training": {
            "lr": 0.002,
            "optimizer": {"kind": "adam", "beta_1": 0.9, "beta_2": 0.999, "epsilon": 0.00001,
                          "weight_decay": 0.0},
            "grad_clipping": null,
            "batch_size": 64
        }
    });
    let rows = config_rows(&config);
    let setting = |k: &str, v: &str| ConfigRow::Setting(k.into(), v.into());
    assert_eq!(
        rows,
        [
            setting("dataset", "fashion-mnist"),
            setting("limit", "none"),
            setting("metrics", "macro_f1, recall:Shirt"),
            ConfigRow::Group("training".into()),
            setting("lr", "0.002"),
            setting("optimizer", "adam (β 0.9 / 0.999, ε 1e-5, weight decay 0)"),
            setting("grad clipping", "none"),
            setting("batch size", "64"),
        ]
    );
    assert_eq!(number(1.149098451065815), "1.1491");
    assert_eq!(number(0.22384399541166453), "0.223844");
    assert_eq!(number(0.000012345678), "1.23457e-5");
}
