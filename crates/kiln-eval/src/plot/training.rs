//! Training curves: panels of per-epoch series (loss, accuracy, a monitored metric, the learning
//! rate), training and validation on the same axes.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, series_color};

/// One named line of `(epoch, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text (`train`, `valid`).
    pub name: String,
    /// `(x, value)` points in order; non-finite values are left out of the drawing.
    pub points: Vec<(f64, f64)>,
}

/// One chart of the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePanel {
    /// The chart's title (`loss`, `accuracy`, `valid_macro_f1`).
    pub title: String,
    /// Its lines.
    pub series: Vec<Series>,
    /// An epoch to mark with a dashed vertical line and its label (the best epoch).
    pub marker: Option<(f64, String)>,
}

/// Up to four panels in a 2 × 2 grid (one row for two or fewer).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCurves {
    /// The panels, row by row.
    pub panels: Vec<CurvePanel>,
}

impl Figure for TrainingCurves {
    fn size(&self) -> (u32, u32) {
        match self.panels.len() {
            0..=2 => (1000, 380),
            _ => (1000, 720),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let rows = if self.panels.len() <= 2 { 1 } else { 2 };
        let areas = root.split_evenly((rows, 2));
        for (panel, area) in self.panels.iter().zip(&areas) {
            draw_panel(panel, area)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    panel: &CurvePanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let finite = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let (x0, x1) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let (y0, y1) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (x0, x1) = match x0.is_finite() {
        true if x1 > x0 => (x0, x1),
        true => (x0 - 0.5, x0 + 0.5),
        false => (0.0, 1.0),
    };
    let pad = match y0.is_finite() {
        true => ((y1 - y0) * 0.08).max(1e-3 * y1.abs().max(1e-9)),
        false => 0.5,
    };
    let (y0, y1) = match y0.is_finite() {
        true => (y0 - pad, y1 + pad),
        false => (0.0, 1.0),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(62)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    // One tick per epoch while they fit, so ticks land on whole epochs; only whole epochs are
    // labelled. Values far from 1 (learning rates of 1e-3 … 1e-9) in scientific notation.
    let ticks = ((x1 - x0).round() as usize + 1).clamp(2, 12);
    let y_label = tick_formatter(y0, y1);
    chart
        .configure_mesh()
        .x_labels(ticks)
        .x_label_formatter(&|x| match x.fract() == 0.0 {
            true => format!("{x:.0}"),
            false => String::new(),
        })
        .y_label_formatter(&y_label)
        .x_desc("epoch")
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, s) in panel.series.iter().enumerate() {
        let color = series_color(i);
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(&s.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    if let Some((x, label)) = &panel.marker {
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, y0), (*x, y1)],
                5,
                4,
                BLACK.stroke_width(1),
            ))?
            .label(label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
    }
    super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 11)?;
    Ok(())
}

/// How the ticks of an axis from `lo` to `hi` are labelled: scientific notation (`1.0e-4`) when
/// the values are below 0.01 or above 10⁵ in size, else as many decimals as the span needs.
pub(crate) fn tick_formatter(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let size = lo.abs().max(hi.abs());
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let scientific = size > 0.0 && !(1e-2..1e5).contains(&size);
    let decimals = (1.0 - span.log10().floor()).clamp(0.0, 6.0) as usize;
    move |v: &f64| match scientific {
        true if *v == 0.0 => "0".to_string(),
        true => format!("{v:.1e}"),
        false => format!("{v:.decimals$}"),
    }
}
