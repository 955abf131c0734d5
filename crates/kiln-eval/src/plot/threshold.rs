//! One class's precision, recall and F1 against its decision threshold.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, ScoredSamples, series_color, thin};
use crate::curves::{one_vs_rest, precision_recall_curve};
use crate::error::EvalError;
use crate::threshold::{ThresholdChoice, ThresholdRule, choose_threshold};

/// How predicting the positive class when `score >= threshold` trades its precision for its
/// recall, with the best-F1 threshold marked.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdPlot {
    /// The positive class's name.
    pub positive: String,
    /// `(threshold, precision, recall, F1)`, thresholds ascending.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// The best-F1 operating point (`None` without positive samples).
    pub best_f1: Option<ThresholdChoice>,
}

impl ThresholdPlot {
    /// The trade-off of class `positive` (an index into `s.classes`).
    pub fn new(s: ScoredSamples<'_>, positive: usize) -> Result<Self, EvalError> {
        s.check()?;
        let k = s.classes.len();
        if positive >= k {
            return Err(EvalError::LabelOutOfRange {
                label: positive,
                num_classes: k,
            });
        }
        let (y, score) = one_vs_rest(s.labels, s.scores, k, positive);
        let pr = precision_recall_curve(&y, &score)?;
        let points = pr
            .thresholds
            .iter()
            .zip(pr.precision.iter().zip(&pr.recall))
            .map(|(&t, (&p, &r))| {
                let f1 = if p + r > 0.0 {
                    2.0 * p * r / (p + r)
                } else {
                    0.0
                };
                (t, p, r, f1)
            })
            .collect();
        Ok(Self {
            positive: s.classes[positive].clone(),
            points,
            best_f1: choose_threshold(&y, &score, ThresholdRule::BestF1)?,
        })
    }
}

impl Figure for ThresholdPlot {
    fn size(&self) -> (u32, u32) {
        (760, 520)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        // The span of the scores, from 0 when they are non-negative: a rare class's
        // probabilities may all sit below 0.1, and a fixed [0, 1] axis would hide them.
        let lo = self.points.first().map_or(0.0, |p| p.0).min(0.0);
        let top = self.points.last().map_or(1.0, |p| p.0);
        let hi = if top > lo { top } else { lo + 1.0 };
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "`{}`: predict positive when score ≥ threshold",
                    self.positive
                ),
                (FONT, 17),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d(lo..hi, 0f64..1.02)?;
        chart
            .configure_mesh()
            .x_desc("threshold")
            .y_desc("score")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let span = hi - lo;
        type Column = fn(&(f64, f64, f64, f64)) -> f64;
        let pick: [(&str, Column); 3] =
            [("precision", |p| p.1), ("recall", |p| p.2), ("F1", |p| p.3)];
        for (i, (name, value)) in pick.into_iter().enumerate() {
            let color = series_color(i);
            let unit = self.points.iter().map(|p| ((p.0 - lo) / span, value(p)));
            let points = thin(unit, 1e-3)
                .into_iter()
                .map(|(x, y)| (lo + x * span, y));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        if let Some(best) = &self.best_f1 {
            let f1 = 2.0 * best.precision * best.recall / (best.precision + best.recall);
            chart
                .draw_series(DashedLineSeries::new(
                    [(best.threshold, 0.0), (best.threshold, 1.02)],
                    5,
                    4,
                    BLACK.stroke_width(1),
                ))?
                .label(format!(
                    "best F1 {f1:.3} at {:.4} (P {:.3}, R {:.3})",
                    best.threshold, best.precision, best.recall
                ))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, 12)?;
        Ok(())
    }
}
