//! One-vs-rest precision–recall and ROC curves.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, ScoredSamples, series_color, thin};
use crate::curves::{self, one_vs_rest};
use crate::error::EvalError;

/// Which curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveKind {
    /// Precision against recall, drawn as steps (the curve average precision sums).
    PrecisionRecall,
    /// True-positive rate against false-positive rate.
    Roc,
}

impl CurveKind {
    /// The file name (without extension) the figure is written under.
    pub fn file_stem(self) -> &'static str {
        match self {
            Self::PrecisionRecall => "pr_curve",
            Self::Roc => "roc_curve",
        }
    }
}

/// One curve per class (that class against the rest) with its AP or AUC in the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePlot {
    /// Which curve.
    pub kind: CurveKind,
    /// `(legend, points)` per class with at least one true sample.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Macro average of the per-class AP or AUC.
    pub macro_avg: f64,
    /// Classes without true samples (no curve).
    pub skipped: usize,
}

/// Above this many classes the legend would hide the plot; the caption carries the average.
const MAX_LEGEND: usize = 15;

impl CurvePlot {
    /// The curves of every class of `s` that has true samples.
    pub fn new(kind: CurveKind, s: ScoredSamples<'_>) -> Result<Self, EvalError> {
        let k = s.classes.len();
        s.check()?;
        let mut series = Vec::new();
        let mut values = Vec::new();
        for (c, name) in s.classes.iter().enumerate() {
            let (y, score) = one_vs_rest(s.labels, s.scores, k, c);
            if !y.contains(&true) {
                continue;
            }
            let (value, points) = match kind {
                CurveKind::PrecisionRecall => {
                    let pr = curves::precision_recall_curve(&y, &score)?;
                    // scikit-learn's PrecisionRecallDisplay: steps-post along recall.
                    let pts: Vec<(f64, f64)> =
                        pr.recall.iter().copied().zip(pr.precision).collect();
                    let steps = pts.windows(2).flat_map(|w| [w[0], (w[1].0, w[0].1)]);
                    let last = pts.last().copied();
                    let ap = curves::average_precision(&y, &score)?;
                    (ap, thin(steps.chain(last), 1e-3))
                }
                CurveKind::Roc => {
                    let roc = curves::roc_curve(&y, &score)?;
                    let auc = curves::auc(&roc.fpr, &roc.tpr)?;
                    (auc, thin(roc.fpr.into_iter().zip(roc.tpr), 1e-3))
                }
            };
            let short = match kind {
                CurveKind::PrecisionRecall => "AP",
                CurveKind::Roc => "AUC",
            };
            values.push(value);
            series.push((format!("{name} ({short} {value:.3})"), points));
        }
        let defined: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
        Ok(Self {
            kind,
            macro_avg: defined.iter().sum::<f64>() / defined.len() as f64,
            skipped: k - series.len(),
            series,
        })
    }
}

impl Figure for CurvePlot {
    fn size(&self) -> (u32, u32) {
        (720, 640)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (title, x_desc, y_desc, short) = match self.kind {
            CurveKind::PrecisionRecall => ("Precision–recall", "recall", "precision", "AP"),
            CurveKind::Roc => ("ROC", "false-positive rate", "true-positive rate", "AUC"),
        };
        let mut caption = format!("{title}, one vs rest (macro {short} {:.3})", self.macro_avg);
        if self.skipped > 0 {
            caption += &format!("; {} classes without samples", self.skipped);
        }
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 17))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1.0, 0f64..1.02)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        if self.kind == CurveKind::Roc {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    6,
                    4,
                    RGBColor(150, 150, 150).stroke_width(1),
                ))?
                .label("chance (AUC 0.5)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RGBColor(150, 150, 150)));
        }
        for (i, (legend, points)) in self.series.iter().enumerate() {
            let color = series_color(i);
            let drawn = chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?;
            if self.series.len() <= MAX_LEGEND {
                drawn.label(legend.clone()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
            }
        }
        if self.series.len() <= MAX_LEGEND {
            super::draw_legend(
                &mut chart,
                match self.kind {
                    CurveKind::PrecisionRecall => SeriesLabelPosition::LowerLeft,
                    CurveKind::Roc => SeriesLabelPosition::LowerRight,
                },
                12,
            )?;
        }
        Ok(())
    }
}
