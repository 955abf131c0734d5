//! Figures of an evaluation, each written as PNG and SVG (plotters; DejaVu Sans is embedded,
//! so no system fonts are needed).
//!
//! - [`ConfusionHeatmap`]: counts and row shares (recall on the diagonal) with class names.
//! - [`PerClassBars`]: precision, recall and F1 of every class.
//! - [`CurvePlot`]: one-vs-rest precision–recall or ROC curves, AP / AUC in the legend.
//! - [`ReliabilityDiagram`]: accuracy against confidence per bin, the confidence histogram
//!   under it.
//! - [`ThresholdPlot`]: precision, recall and F1 of one class against its decision threshold.
//! - [`TrainingCurves`]: loss, accuracy, a monitored metric and the learning rate by epoch.
//!
//! [`write_plots`] writes all that apply to a report.

mod bars;
mod curves;
mod heatmap;
mod lr_find;
mod reliability;
mod threshold;
mod training;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;

pub use bars::PerClassBars;
pub use curves::{CurveKind, CurvePlot};
pub use heatmap::ConfusionHeatmap;
pub use lr_find::LrFindPlot;
pub use reliability::ReliabilityDiagram;
pub use threshold::ThresholdPlot;
pub use training::{CurvePanel, Series, TrainingCurves};

use crate::error::EvalError;
use crate::report::ClassificationReport;

/// The font family every figure uses.
const FONT: &str = "sans-serif";

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the figure on `root` (already cleared to white).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// Writes `figure` to `<stem>.png` and `<stem>.svg`, returning both paths.
pub fn save(figure: &impl Figure, stem: &Path) -> Result<[PathBuf; 2], EvalError> {
    let svg = stem.with_extension("svg");
    let plot_error = |path: &Path, problem: String| EvalError::Plot {
        path: path.to_path_buf(),
        problem,
    };
    let text = svg_string(figure).map_err(|e| plot_error(&svg, e))?;
    std::fs::write(&svg, text).map_err(|source| EvalError::Io {
        path: svg.clone(),
        source,
    })?;
    let png = stem.with_extension("png");
    let bytes = png_bytes(figure).map_err(|e| plot_error(&png, e))?;
    std::fs::write(&png, bytes).map_err(|source| EvalError::Io {
        path: png.clone(),
        source,
    })?;
    Ok([png, svg])
}

/// `figure` as the bytes of a PNG file (RGB, [`Figure::size`] pixels).
pub fn png_bytes(figure: &impl Figure) -> Result<Vec<u8>, String> {
    register_fonts().map_err(|e| e.to_string())?;
    let (w, h) = figure.size();
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw_on(figure, &root)?;
    }
    encode_png(&pixels, (w, h)).map_err(|e| e.to_string())
}

/// `figure` as an SVG document (for inlining in HTML).
pub fn svg_string(figure: &impl Figure) -> Result<String, String> {
    register_fonts().map_err(|e| e.to_string())?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        draw_on(figure, &root)?;
    }
    Ok(text)
}

/// Draws the series legend every kiln plot uses: a boxed, translucent white legend at
/// `position`, labels in the plot font at `font_size`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, font_size))
        .draw()
}

fn draw_on<DB: DrawingBackend>(
    figure: &impl Figure,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    figure.draw(root).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn register_fonts() -> Result<(), EvalError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(EvalError::Plot {
            path: PathBuf::new(),
            problem: "the embedded DejaVu Sans font could not be loaded".into(),
        })
    }
}

/// A sequential white → dark blue color for `t` in [0, 1] (matplotlib's "Blues" end points).
fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(247, 8), mix(251, 48), mix(255, 107))
}

/// A distinct color for series `i` (the tab10 palette, then plotters' 99-color palette).
fn series_color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    match TAB10.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// Drops points closer than `tol` (in unit coordinates) to the last kept one, keeping the first
/// and last: a million-point curve becomes a few thousand without a visible change.
fn thin(points: impl IntoIterator<Item = (f64, f64)>, tol: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut pending = None;
    for p in points {
        match out.last() {
            Some(&(x, y)) if (p.0 - x).abs() < tol && (p.1 - y).abs() < tol => pending = Some(p),
            _ => {
                out.push(p);
                pending = None;
            }
        }
    }
    out.extend(pending);
    out
}

/// Samples with one score per class: what the curve and threshold figures are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct ScoredSamples<'a> {
    /// True class index of each sample.
    pub labels: &'a [usize],
    /// `classes.len()` scores per sample, row-major.
    pub scores: &'a [f64],
    /// Every class's name, in score-column order.
    pub classes: &'a [String],
}

impl ScoredSamples<'_> {
    /// Checks for `classes.len()` finite scores per label and labels that name a class.
    fn check(&self) -> Result<(), EvalError> {
        crate::curves::check_rows(self.labels, self.scores, self.classes.len())
    }
}

/// Writes every figure that applies to `report` into `dir` (created if missing): the confusion
/// heatmap and per-class bars always; with `scored` the PR and ROC curves; with calibration
/// figures the reliability diagram; with `positive` (a
/// class index into `scored.classes`) also that class's threshold plot. Returns the files
/// written.
pub fn write_plots(
    dir: &Path,
    report: &ClassificationReport,
    scored: Option<ScoredSamples<'_>>,
    positive: Option<usize>,
) -> Result<Vec<PathBuf>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    written.extend(save(
        &ConfusionHeatmap::from_report(report),
        &dir.join("confusion_matrix"),
    )?);
    written.extend(save(
        &PerClassBars::from_report(report),
        &dir.join("per_class"),
    )?);
    if let Some(s) = scored {
        for kind in [CurveKind::PrecisionRecall, CurveKind::Roc] {
            let plot = CurvePlot::new(kind, s)?;
            written.extend(save(&plot, &dir.join(kind.file_stem()))?);
        }
        if let Some(diagram) = ReliabilityDiagram::from_report(report) {
            written.extend(save(&diagram, &dir.join("reliability"))?);
        }
        if let Some(c) = positive {
            let plot = ThresholdPlot::new(s, c)?;
            let stem = format!("threshold_{}", file_safe(&plot.positive));
            written.extend(save(&plot, &dir.join(stem))?);
        }
    }
    Ok(written)
}

/// `name` with every character that is not alphanumeric, `-` or `_` replaced by `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "../tests/plot.rs"]
mod tests;
