use super::*;
use crate::confusion::ConfusionMatrix;
use crate::curves::roc_auc_ovr;

fn data() -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    // 3 classes, 600 samples; scores rounded so that there are ties.
    let mut truth = Vec::new();
    let mut scores = Vec::new();
    for i in 0..600usize {
        let y = i % 3;
        truth.push(y);
        let noise = ((i * 7919) % 101) as f64 / 100.0;
        let mut row = [0.2, 0.2, 0.2];
        row[y] += 0.6 * noise;
        row[(y + 1) % 3] += 0.6 * (1.0 - noise);
        let s: f64 = row.iter().sum();
        scores.extend(row.map(|v| (v / s * 20.0).round() / 20.0));
    }
    let scores: Vec<f64> = scores
        .chunks(3)
        .flat_map(|r| {
            let s: f64 = r.iter().sum();
            r.iter().map(move |v| v / s).collect::<Vec<_>>()
        })
        .collect();
    let pred = scores.chunks(3).map(|r| top_label(r).0).collect();
    (truth, pred, scores)
}

#[test]
fn unit_weights_give_the_point_estimates() {
    let (truth, pred, scores) = data();
    let cm = ConfusionMatrix::from_labels(&truth, &pred, 3).unwrap();
    let mut report = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero).unwrap();
    report.add_scores(&truth, &scores, 3, None).unwrap();
    let auc: Vec<Auc> = (0..3)
        .filter_map(|c| Auc::new(&truth, &scores, 3, c))
        .collect();
    let ones = vec![1u8; truth.len()];
    let expected = roc_auc_ovr(&truth, &scores, 3).unwrap();
    for (a, e) in auc.iter().zip(&expected.per_class) {
        let w = a.weighted(&ones);
        assert!((w - e).abs() < 1e-12, "{w} vs {e}");
    }
    let cal = report.calibration.clone().unwrap();
    let samples = Samples {
        num_classes: 3,
        truth: compact(&truth),
        predicted: compact(&pred),
        auc,
        ece: {
            let (slots, gaps) = (scores.chunks(3).zip(&truth))
                .map(|(r, &y)| {
                    let (top, c) = top_label(r);
                    let hit = f64::from(u8::from(top == y));
                    (slot(&bin_edges(cal.bins), c) as u8, hit - c)
                })
                .unzip();
            Some((cal.bins, slots, gaps))
        },
        labels: &report.labels,
        zero_division: ZeroDivision::Zero,
    };
    let mut out = vec![0.0; 4 + 6 + 2];
    samples.statistics(&ones, &mut out);
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(out[0], report.micro.f1);
    close(out[1], report.balanced_accuracy);
    close(out[2], report.macro_avg.f1);
    close(out[3], report.weighted.f1);
    close(out[4], report.rows[0].precision);
    close(out[7], report.rows[0].recall);
    close(out[10], expected.macro_avg);
    close(out[11], cal.ece);
}

#[test]
fn intervals_contain_the_point_estimates_and_go_into_the_json() {
    let (truth, pred, scores) = data();
    let cm = ConfusionMatrix::from_labels(&truth, &pred, 3).unwrap();
    let mut report = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero).unwrap();
    report.add_scores(&truth, &scores, 3, None).unwrap();
    let b = Bootstrap::new(200, 3).unwrap();
    report
        .add_intervals(&truth, &pred, Some(&scores), 3, b)
        .unwrap();
    let ci = report.intervals.clone().unwrap();
    assert!(ci.accuracy.contains(report.micro.f1), "{ci:?}");
    assert!(ci.macro_f1.contains(report.macro_avg.f1));
    assert!(
        ci.ece
            .unwrap()
            .contains(report.calibration.as_ref().unwrap().ece)
    );
    let json = report.to_json();
    assert_eq!(json["ci"]["resamples"], 200);
    assert_eq!(json["ci"]["recall"]["2"].as_array().unwrap().len(), 2);
    // The same seed gives the same intervals.
    let mut again = report.clone();
    again
        .add_intervals(&truth, &pred, Some(&scores), 3, b)
        .unwrap();
    assert_eq!(again.intervals, report.intervals);
}

#[test]
fn a_class_of_ten_images_gets_a_wide_interval_warning() {
    let mut truth = vec![0usize; 500];
    truth.extend([1; 10]);
    let mut pred = truth.clone();
    for p in pred.iter_mut().skip(500).take(5) {
        *p = 0;
    }
    let cm = ConfusionMatrix::from_labels(&truth, &pred, 2).unwrap();
    let mut report = ClassificationReport::new(&cm, None, None, ZeroDivision::Zero).unwrap();
    report
        .add_intervals(&truth, &pred, None, 2, Bootstrap::default())
        .unwrap();
    let wide: Vec<_> = (report.diagnostics().into_iter())
        .filter(|d| d.kind == "wide_interval")
        .collect();
    assert_eq!(wide.len(), 1, "{wide:?}");
    assert_eq!(wide[0].class.as_deref(), Some("1"));
    assert!(
        wide[0].message.contains("from 10 images"),
        "{}",
        wide[0].message
    );
}

#[test]
fn the_weighted_auc_counts_a_sample_drawn_twice_twice() {
    // Scores 0.1 (neg), 0.5 (pos), 0.5 (neg), 0.9 (pos): with weights 1, 2, 1, 1 the pairs are
    // pos@0.5 (×2) vs neg@0.1: 2 wins; vs neg@0.5: 2 ties; pos@0.9 vs both negatives: 2 wins.
    let truth = [0, 1, 0, 1];
    let scores = [0.9, 0.1, 0.5, 0.5, 0.5, 0.5, 0.1, 0.9];
    let auc = Auc::new(&truth, &scores, 2, 1).unwrap();
    assert_eq!(auc.ties, vec![std::ops::Range { start: 1, end: 3 }]);
    let w = auc.weighted(&[1, 2, 1, 1]);
    assert!((w - (4.0 + 0.5 * 2.0) / 6.0).abs() < 1e-12, "{w}");
    assert!(auc.weighted(&[1, 0, 1, 0]).is_nan());
    assert!((auc.weighted(&[1, 1, 1, 1]) - 3.5 / 4.0).abs() < 1e-12);
}
