//! Per-class precision / recall / F1 bars.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, Figure, series_color};
use crate::report::ClassificationReport;

/// Precision, recall and F1 of every class side by side, with each class's support under its
/// name and the macro averages as dashed lines.
#[derive(Debug, Clone, PartialEq)]
pub struct PerClassBars {
    /// Class names.
    pub names: Vec<String>,
    /// `[precision, recall, f1]` of each class.
    pub values: Vec<[f64; 3]>,
    /// True samples of each class.
    pub support: Vec<u64>,
    /// Macro-averaged `[precision, recall, f1]`.
    pub macro_avg: [f64; 3],
}

const SERIES: [&str; 3] = ["precision", "recall", "F1"];
const SLOT: u32 = 48;
const CHAR_W: u32 = 8;

impl PerClassBars {
    /// The report's per-class rows.
    pub fn from_report(report: &ClassificationReport) -> Self {
        let m = &report.macro_avg;
        Self {
            names: report.names.clone(),
            values: report
                .rows
                .iter()
                .map(|r| [r.precision, r.recall, r.f1])
                .collect(),
            support: report.rows.iter().map(|r| r.support).collect(),
            macro_avg: [m.precision, m.recall, m.f1],
        }
    }

    fn label_h(&self) -> u32 {
        let longest = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(1) as u32;
        if longest * CHAR_W <= SLOT {
            40
        } else {
            // Rotated labels carry " (n=<support>)".
            let n = self.support.iter().max().map_or(1, |s| s.to_string().len()) as u32;
            (longest + n + 5) * (CHAR_W - 1) + 12
        }
    }
}

impl Figure for PerClassBars {
    fn size(&self) -> (u32, u32) {
        let w = 100 + self.names.len() as u32 * SLOT;
        (w.max(640), 420 + self.label_h())
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let k = self.names.len();
        let mut chart = ChartBuilder::on(root)
            .caption("Per-class precision, recall and F1", (FONT, 18))
            .margin(12)
            .x_label_area_size(self.label_h())
            .y_label_area_size(48)
            // Head-room above 1 keeps the legend off the bars.
            .build_cartesian_2d(0f64..k as f64, 0f64..1.32)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(14)
            .y_label_formatter(&|v| {
                if *v <= 1.0 {
                    format!("{v:.1}")
                } else {
                    String::new()
                }
            })
            .y_desc("score")
            .label_style((FONT, 12))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        let width = 0.8 / SERIES.len() as f64;
        for (s, name) in SERIES.iter().enumerate() {
            let color = series_color(s);
            chart
                .draw_series(self.values.iter().enumerate().map(|(i, v)| {
                    let x = i as f64 + 0.1 + s as f64 * width;
                    let y = if v[s].is_nan() { 0.0 } else { v[s] };
                    Rectangle::new([(x, 0.0), (x + width, y)], color.filled())
                }))?
                .label(format!("{name} (macro {:.3})", self.macro_avg[s]))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            let avg = self.macro_avg[s];
            if avg.is_finite() {
                chart.draw_series(DashedLineSeries::new(
                    [(0.0, avg), (k as f64, avg)],
                    6,
                    4,
                    color.stroke_width(1),
                ))?;
            }
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;

        let rotate = self.label_h() > 40;
        for (i, name) in self.names.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let label = format!("{name} (n={})", self.support[i]);
            let style = if rotate {
                (FONT, 12)
                    .into_font()
                    .color(&BLACK)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                (FONT, 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top))
            };
            let text = if rotate { label } else { name.clone() };
            root.draw(&Text::new(text, (x, y + 6), style))?;
            if !rotate {
                root.draw(&Text::new(
                    format!("n={}", self.support[i]),
                    (x, y + 22),
                    (FONT, 10)
                        .into_font()
                        .color(&RGBColor(90, 90, 90))
                        .pos(Pos::new(HPos::Center, VPos::Top)),
                ))?;
            }
        }
        Ok(())
    }
}
