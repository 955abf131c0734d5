use super::*;
use crate::{ConfusionMatrix, ZeroDivision};

fn names(k: usize) -> Vec<String> {
    (0..k).map(|i| format!("class-{i}")).collect()
}

/// Labels, predictions and softmax-like scores: sample `i` has label `i % k`; every seventh is
/// predicted as the next class.
fn scored(n: usize, k: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
    let preds: Vec<usize> = (0..n)
        .map(|i| if i % 7 == 0 { (i + 1) % k } else { i % k })
        .collect();
    let mut scores = vec![0.0; n * k];
    for i in 0..n {
        let noise = ((i * 37) % 11) as f64 / 100.0;
        for c in 0..k {
            scores[i * k + c] = (1.0 - 0.6 - noise) / (k - 1) as f64;
        }
        scores[i * k + preds[i]] = 0.6 + noise;
    }
    (labels, preds, scores)
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn thin_keeps_ends_and_drops_near_duplicates() {
    let pts: Vec<(f64, f64)> = (0..=10_000).map(|i| (i as f64 / 10_000.0, 0.5)).collect();
    let kept = thin(pts.iter().copied(), 1e-3);
    assert_eq!(kept.first(), pts.first());
    assert_eq!(kept.last(), pts.last());
    assert!(kept.len() <= 1_002, "{}", kept.len());
    // A jump is never thinned away.
    let step = [(0.0, 0.0), (0.0001, 0.0), (0.0001, 1.0), (1.0, 1.0)];
    assert_eq!(
        thin(step, 1e-3),
        vec![(0.0, 0.0), (0.0001, 1.0), (1.0, 1.0)]
    );
}

/// Every figure of [`scored`]`(n, k)` drawn into a temporary directory: the directory, the
/// files, the labels, the scores and the report.
fn draw_all(
    n: usize,
    k: usize,
    positive: Option<usize>,
) -> (
    tempfile::TempDir,
    Vec<PathBuf>,
    Vec<usize>,
    Vec<f64>,
    ClassificationReport,
) {
    let (labels, preds, scores) = scored(n, k);
    let classes = names(k);
    let cm = ConfusionMatrix::from_labels(&labels, &preds, k).unwrap();
    let report = ClassificationReport::new(&cm, None, Some(&classes), ZeroDivision::Zero).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = ScoredSamples {
        labels: &labels,
        scores: &scores,
        classes: &classes,
    };
    let written = write_plots(dir.path(), &report, Some(s), positive).unwrap();
    (dir, written, labels, scores, report)
}

#[test]
fn every_figure_is_written_as_png_and_svg() {
    let (dir, written, labels, scores, report) = draw_all(600, 4, Some(2));
    let classes = names(4);
    let mut files: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "confusion_matrix.png",
            "confusion_matrix.svg",
            "per_class.png",
            "per_class.svg",
            "pr_curve.png",
            "pr_curve.svg",
            "roc_curve.png",
            "roc_curve.svg",
            "threshold_class-2.png",
            "threshold_class-2.svg",
        ]
    );
    for path in &written {
        if path.extension().unwrap() == "png" {
            let (w, h, pixels) = decode_png(path);
            assert!(w >= 360 && h >= 300, "{}: {w}×{h}", path.display());
            // Something besides the white background was drawn.
            let ink = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
            assert!(ink > 2_000, "{}: {ink} non-white pixels", path.display());
        } else {
            let svg = std::fs::read_to_string(path).unwrap();
            assert!(svg.starts_with("<svg"), "{}", path.display());
        }
    }
    let heatmap = std::fs::read_to_string(dir.path().join("confusion_matrix.svg")).unwrap();
    for name in &classes {
        assert!(heatmap.contains(name.as_str()), "{name} missing");
    }
    // Class 0: 600/4 = 150 samples, every seventh (i ≡ 0 mod 7, i ≡ 0 mod 4) sent to class 1.
    let to_next = (0..600).filter(|i| i % 4 == 0 && i % 7 == 0).count();
    assert!(heatmap.contains(&format!(">\n{}\n<", 150 - to_next)));
    assert!(heatmap.contains(&format!(">\n{to_next}\n<")));
    let pr = std::fs::read_to_string(dir.path().join("pr_curve.svg")).unwrap();
    let ap = report.average_precision.as_ref().map(|a| a.per_class[0]);
    assert!(ap.is_none(), "scores were not added to the report");
    let ap0 = crate::curves::average_precision_ovr(&labels, &scores, 4)
        .unwrap()
        .per_class[0];
    assert!(pr.contains(&format!("class-0 (AP {ap0:.3})")), "{pr}");
}

#[test]
fn heatmap_shades_by_row_share() {
    // Class 1 is rare but always right: its diagonal cell is as dark as the common class's.
    let heatmap = ConfusionHeatmap {
        names: vec!["common".into(), "rare".into()],
        counts: vec![vec![1000, 0], vec![0, 3]],
    };
    let dir = tempfile::tempdir().unwrap();
    let [png, _] = save(&heatmap, &dir.path().join("h")).unwrap();
    let (w, _, pixels) = decode_png(&png);
    let (x0, y0) = heatmap.origin();
    let cell = heatmap.cell();
    let at = |x: i32, y: i32| {
        let i = (y as usize * w as usize + x as usize) * 3;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    };
    let darkest = blues(1.0);
    let lightest = blues(0.0);
    // Sample near the cells' corners, away from the text.
    assert_eq!(at(x0 + 3, y0 + 3), [darkest.0, darkest.1, darkest.2]);
    assert_eq!(
        at(x0 + cell + 3, y0 + cell + 3),
        [darkest.0, darkest.1, darkest.2]
    );
    assert_eq!(
        at(x0 + cell + 3, y0 + 3),
        [lightest.0, lightest.1, lightest.2]
    );
}

#[test]
fn mismatched_scores_are_an_error() {
    let classes = names(3);
    let s = ScoredSamples {
        labels: &[0, 1],
        scores: &[0.1, 0.2, 0.7],
        classes: &classes,
    };
    assert!(matches!(
        CurvePlot::new(CurveKind::Roc, s),
        Err(EvalError::LengthMismatch { .. })
    ));
    let s = ScoredSamples {
        labels: &[3],
        scores: &[0.1, 0.2, 0.7],
        classes: &classes,
    };
    assert!(matches!(
        ThresholdPlot::new(s, 0),
        Err(EvalError::LabelOutOfRange { label: 3, .. })
    ));
}

#[test]
fn many_classes_still_draw() {
    let (_dir, written, ..) = draw_all(2_000, 100, None);
    assert_eq!(written.len(), 8);
}

#[test]
fn learning_rates_are_labelled_in_scientific_notation_and_epochs_whole() {
    let f = super::training::tick_formatter(1e-9, 1e-3);
    assert_eq!(f(&1e-3), "1.0e-3");
    assert_eq!(f(&5e-4), "5.0e-4");
    let f = super::training::tick_formatter(0.2, 0.9);
    assert_eq!(f(&0.5), "0.50");
    let f = super::training::tick_formatter(0.0, 2.5);
    assert_eq!(f(&1.5), "1.5");
}

#[test]
fn the_reliability_diagram_draws_the_one_slot_with_the_last_bin() {
    let labels = [0, 1, 1, 0];
    let probs = [0.9, 0.1, 0.2, 0.8, 0.0, 1.0, 0.6, 0.4];
    let calibration = crate::Calibration::new(&labels, &probs, 2, 10).unwrap();
    let diagram = ReliabilityDiagram {
        calibration,
        before: None,
    };
    let svg = svg_string(&diagram).unwrap();
    assert!(svg.contains("ECE"), "the caption names the ECE");
    let png = png_bytes(&diagram).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
}
