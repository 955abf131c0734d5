//! The confusion-matrix heatmap.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, Figure, blues};
use crate::report::ClassificationReport;

/// A confusion matrix as a heatmap: rows = true class, columns = predicted class; each cell is
/// colored by its share of the row (so the diagonal reads as each class's recall, and a rare
/// class is as visible as a common one) and shows its count and that share when it is large
/// enough to read.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionHeatmap {
    /// Class names, in row/column order.
    pub names: Vec<String>,
    /// Counts, rows = true class.
    pub counts: Vec<Vec<u64>>,
}

const TITLE_H: i32 = 56;
const MARGIN: i32 = 16;
const BAR_W: i32 = 18;
const BAR_GAP: i32 = 24;
const BAR_LABELS_W: i32 = 48;
/// Approximate advance of one character at the 13 px label size.
const CHAR_W: i32 = 8;

impl ConfusionHeatmap {
    /// The report's confusion counts over its labels.
    pub fn from_report(report: &ClassificationReport) -> Self {
        Self {
            names: report.names.clone(),
            counts: report.confusion.clone(),
        }
    }

    pub(crate) fn cell(&self) -> i32 {
        (640 / self.names.len().max(1) as i32).clamp(6, 84)
    }

    fn label_len(&self) -> i32 {
        self.names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(1) as i32
            * CHAR_W
            + 12
    }

    /// Whether column labels fit horizontally under their cells.
    fn rotate_columns(&self) -> bool {
        self.label_len() > self.cell()
    }

    pub(crate) fn origin(&self) -> (i32, i32) {
        (MARGIN + 24 + self.label_len(), TITLE_H)
    }

    fn share(row: &[u64], c: usize) -> f64 {
        let total: u64 = row.iter().sum();
        if total == 0 {
            0.0
        } else {
            row[c] as f64 / total as f64
        }
    }
}

impl Figure for ConfusionHeatmap {
    fn size(&self) -> (u32, u32) {
        let k = self.names.len() as i32;
        let (x0, y0) = self.origin();
        let below = if self.rotate_columns() {
            self.label_len()
        } else {
            24
        } + 28
            + MARGIN;
        let w = x0 + k * self.cell() + BAR_GAP + BAR_W + BAR_LABELS_W + MARGIN;
        let h = y0 + k * self.cell() + below;
        (w.max(360) as u32, h as u32)
    }

    // Longer than kiln's ~100-line guide on purpose: one plotters drawing, top to bottom —
    // title, cells, their numbers, the axes' class names, the colour bar — sharing the layout
    // computed at its start.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let k = self.names.len();
        let cell = self.cell();
        let (x0, y0) = self.origin();
        let side = k as i32 * cell;
        let total: u64 = self.counts.iter().flatten().sum();
        let correct: u64 = (0..k).map(|i| self.counts[i][i]).sum();
        let centered = Pos::new(HPos::Center, VPos::Center);
        let text = |size: f64| (FONT, size).into_font().color(&BLACK);
        root.draw(&Text::new(
            "Confusion matrix".to_string(),
            (x0 + side / 2, 18),
            (FONT, 18)
                .into_font()
                .style(FontStyle::Bold)
                .color(&BLACK)
                .pos(centered),
        ))?;
        let accuracy = if total == 0 {
            f64::NAN
        } else {
            correct as f64 / total as f64
        };
        root.draw(&Text::new(
            format!(
                "{total} samples, accuracy {:.2}%; color = share of the true class's row",
                100.0 * accuracy
            ),
            (x0 + side / 2, 40),
            text(12.0).pos(centered),
        ))?;

        let (count_size, share_size) = match cell {
            44.. => (Some(13.0), Some(11.0)),
            24..=43 => (Some(10.0), None),
            _ => (None, None),
        };
        for (t, row) in self.counts.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                let share = Self::share(row, p);
                let (x, y) = (x0 + p as i32 * cell, y0 + t as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    blues(share).filled(),
                ))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let mid = (x + cell / 2, y + cell / 2);
                if let Some(size) = count_size {
                    let dy = if share_size.is_some() { -8 } else { 0 };
                    root.draw(&Text::new(
                        n.to_string(),
                        (mid.0, mid.1 + dy),
                        (FONT, size).into_font().color(&ink).pos(centered),
                    ))?;
                }
                if let Some(size) = share_size {
                    root.draw(&Text::new(
                        format!("{:.1}%", 100.0 * share),
                        (mid.0, mid.1 + 9),
                        (FONT, size).into_font().color(&ink).pos(centered),
                    ))?;
                }
            }
        }
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + side, y0 + side)],
            BLACK.stroke_width(1),
        ))?;

        // Class names: rows on the left, columns below (rotated when wider than a cell).
        for (i, name) in self.names.iter().enumerate() {
            let mid = i as i32 * cell + cell / 2;
            root.draw(&Text::new(
                name.clone(),
                (x0 - 6, y0 + mid),
                text(13.0).pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            let style = if self.rotate_columns() {
                text(13.0)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                text(13.0).pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(name.clone(), (x0 + mid, y0 + side + 6), style))?;
        }
        let below = if self.rotate_columns() {
            self.label_len()
        } else {
            24
        };
        root.draw(&Text::new(
            "Predicted label".to_string(),
            (x0 + side / 2, y0 + side + below + 14),
            text(14.0).pos(centered),
        ))?;
        root.draw(&Text::new(
            "True label".to_string(),
            (MARGIN + 6, y0 + side / 2),
            text(14.0).transform(FontTransform::Rotate270).pos(centered),
        ))?;

        // Color bar: share of the row, 0 at the bottom.
        let bx = x0 + side + BAR_GAP;
        let steps = 100;
        for s in 0..steps {
            let top = y0 + side - side * (s + 1) / steps;
            let bottom = y0 + side - side * s / steps;
            root.draw(&Rectangle::new(
                [(bx, top), (bx + BAR_W, bottom)],
                blues(f64::from(s) / f64::from(steps - 1)).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx, y0), (bx + BAR_W, y0 + side)],
            BLACK.stroke_width(1),
        ))?;
        for (v, label) in [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")] {
            let y = y0 + side - (side as f64 * v).round() as i32;
            root.draw(&Text::new(
                label.to_string(),
                (bx + BAR_W + 4, y),
                text(11.0).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}
