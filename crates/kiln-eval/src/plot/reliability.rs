//! The reliability diagram: accuracy against confidence per bin, with the confidence histogram
//! under it.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, series_color};
use crate::calibration::{Calibration, ReliabilityBin};

/// Each bin's accuracy as a bar beside the diagonal of perfect calibration, the gap to the
/// bin's mean confidence shaded, and under it how many predictions each bin holds. The slot of
/// confidence exactly 1.0 ([`crate::calibration`]) is drawn with the last bin.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityDiagram {
    /// The calibration drawn.
    pub calibration: Calibration,
    /// With temperature scaling: the temperature and the calibration before it, drawn as a
    /// line of points.
    pub before: Option<(f64, Calibration)>,
}

impl ReliabilityDiagram {
    /// The report's calibration (and its calibration before temperature scaling), if it has
    /// one.
    pub fn from_report(report: &crate::ClassificationReport) -> Option<Self> {
        Some(Self {
            calibration: report.calibration.clone()?,
            before: report.temperature.clone(),
        })
    }
}

/// The bins to draw: the last one merged with the slot of confidence 1.0.
fn drawn_bins(bins: &[ReliabilityBin]) -> Vec<ReliabilityBin> {
    let mut out = bins.to_vec();
    if out.len() < 2 {
        return out;
    }
    if let Some(one) = out.pop()
        && let Some(last) = out.last_mut()
    {
        let n = last.count + one.count;
        let mean = |a: f64, b: f64| match n {
            0 => 0.0,
            _ => (a * last.count as f64 + b * one.count as f64) / n as f64,
        };
        last.confidence = mean(last.confidence, one.confidence);
        last.accuracy = mean(last.accuracy, one.accuracy);
        last.count = n;
        last.upper = 1.0;
    }
    out
}

impl Figure for ReliabilityDiagram {
    fn size(&self) -> (u32, u32) {
        (640, 640)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (top, bottom) = root.split_vertically(470);
        let c = &self.calibration;
        let bins = drawn_bins(&c.reliability);
        let caption = format!(
            "Reliability: ECE {:.4}, MCE {:.4} ({} bins)",
            c.ece, c.mce, c.bins
        );
        let mut chart = ChartBuilder::on(&top)
            .caption(caption, (FONT, 17))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .y_desc("accuracy")
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        let bar = series_color(0);
        let gap = RGBColor(214, 39, 40);
        let filled = || bins.iter().filter(|b| b.count > 0);
        chart
            .draw_series(filled().map(|b| {
                Rectangle::new(
                    [(b.lower, 0.0), (b.upper, b.accuracy)],
                    bar.mix(0.8).filled(),
                )
            }))?
            .label("accuracy of the bin")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], bar.filled()));
        chart
            .draw_series(filled().map(|b| {
                Rectangle::new(
                    [(b.lower, b.accuracy), (b.upper, b.confidence)],
                    gap.mix(0.35).filled(),
                )
            }))?
            .label("gap to its mean confidence")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], gap.mix(0.35).filled())
            });
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
        if let Some((t, before)) = &self.before {
            let color = series_color(1);
            let points: Vec<(f64, f64)> = (drawn_bins(&before.reliability).iter())
                .filter(|b| b.count > 0)
                .map(|b| (b.confidence, b.accuracy))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(format!("before temperature {t:.3} (ECE {:.4})", before.ece))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)?;

        let most = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
        let mut hist = ChartBuilder::on(&bottom)
            .margin(12)
            .margin_top(0)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..most * 1.05)?;
        hist.configure_mesh()
            .x_labels(11)
            .y_labels(4)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("confidence (highest probability)")
            .y_desc("predictions")
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 12))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        hist.draw_series(bins.iter().map(|b| {
            Rectangle::new(
                [(b.lower, 0.0), (b.upper, b.count as f64)],
                RGBColor(127, 127, 127).mix(0.7).filled(),
            )
        }))?;
        Ok(())
    }
}
