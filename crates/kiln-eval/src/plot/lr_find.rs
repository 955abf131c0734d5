//! The LR range test's figure (`kiln lr-find`): the loss against the learning rate on a
//! logarithmic axis, raw and smoothed, with the suggested rate marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, series_color};

/// The range test's points and its suggestion.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFindPlot {
    /// `(learning rate, loss)` of every step.
    pub loss: Vec<(f64, f64)>,
    /// `(learning rate, smoothed loss)` of every step.
    pub smoothed: Vec<(f64, f64)>,
    /// The suggested rate, if there is one.
    pub suggestion: Option<f64>,
}

impl Figure for LrFindPlot {
    fn size(&self) -> (u32, u32) {
        (800, 480)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let finite = || {
            (self.loss.iter().chain(&self.smoothed))
                .filter(|p| p.0 > 0.0 && p.0.is_finite() && p.1.is_finite())
        };
        let (x0, x1) = finite().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
        let (x0, x1) = match x0.is_finite() && x1 > x0 {
            true => (x0, x1),
            false => (1e-6, 1.0),
        };
        // Both curves set the range, up to twice the first smoothed loss (below): a diverging
        // loss would flatten everything.
        let ys = (self.loss.iter().chain(&self.smoothed))
            .map(|p| p.1)
            .filter(|y| y.is_finite());
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
        // Up to twice the first smoothed loss: the divergence at the end would flatten the rest.
        let start = self.smoothed.first().map_or(f64::NAN, |p| p.1);
        let y1 = match start.is_finite() && start > 0.0 {
            true => y1.min(2.0 * start),
            false => y1,
        };
        let (y0, y1) = match y0.is_finite() && y1 > y0 {
            true => (y0 - 0.1 * (y1 - y0), y1 + 0.1 * (y1 - y0)),
            false => (0.0, 1.0),
        };
        let mut chart = ChartBuilder::on(root)
            .caption("LR range test", (FONT, 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("learning rate")
            .y_desc("training loss")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let clipped = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            (points.iter().copied())
                .filter(|p| p.0 > 0.0 && p.1.is_finite())
                .map(|(x, y)| (x, y.clamp(y0, y1)))
                .collect()
        };
        let raw = series_color(0).mix(0.45);
        chart
            .draw_series(LineSeries::new(clipped(&self.loss), raw.stroke_width(1)))?
            .label("loss")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], raw));
        let smooth = series_color(1);
        chart
            .draw_series(LineSeries::new(
                clipped(&self.smoothed),
                smooth.stroke_width(2),
            ))?
            .label("smoothed loss")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], smooth.stroke_width(2)));
        if let Some(lr) = self.suggestion {
            chart
                .draw_series(DashedLineSeries::new(
                    [(lr, y0), (lr, y1)],
                    5,
                    4,
                    BLACK.stroke_width(1),
                ))?
                .label(format!("suggested {lr:.2e}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)?;
        Ok(())
    }
}
