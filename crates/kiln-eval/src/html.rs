//! One self-contained `report.html` for a run: the figures inline as SVG, the mistakes'
//! thumbnails inline as PNG data, a little CSS, no script and nothing fetched.
//!
//! Sections (each an element with its `id`, in this order): `config` (the run's settings),
//! `curves` (training curves), `report` (the classification report), `confusion` (heatmap),
//! `scores` (precision–recall and ROC curves, when scores exist), `diagnostics`, `mistakes`
//! (the most confident wrong predictions).

use std::fmt::Write;

use crate::diagnostics::Severity;
use crate::error::EvalError;
use crate::plot::{
    ConfusionHeatmap, CurveKind, CurvePlot, PerClassBars, ScoredSamples, svg_string,
};
use crate::report::ClassificationReport;

/// The page's sections' element ids, in order.
pub const SECTIONS: [&str; 7] = [
    "config",
    "curves",
    "report",
    "confusion",
    "scores",
    "diagnostics",
    "mistakes",
];

/// A wrong prediction shown in the gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    /// The image, PNG-encoded ([`png_image`]).
    pub png: Vec<u8>,
    /// Its row in the evaluated split (`predictions.csv`'s `index`).
    pub index: usize,
    /// The true class's name.
    pub truth: String,
    /// The predicted class's name.
    pub predicted: String,
    /// The predicted class's probability.
    pub confidence: f64,
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct HtmlReport<'a> {
    /// The page's heading (`fashion-mnist · mnist-cnn`).
    pub title: String,
    /// The run's settings, shown as `key: value` lines (nested values as JSON).
    pub config: &'a serde_json::Value,
    /// The training-curves figure as SVG, if the run drew one.
    pub curves_svg: Option<String>,
    /// The evaluated split's report, its diagnostics included.
    pub report: &'a ClassificationReport,
    /// Every sample's scores, for the PR and ROC curves.
    pub scored: Option<ScoredSamples<'a>>,
    /// The most confident mistakes, most confident first.
    pub mistakes: Vec<Thumbnail>,
}

/// The `n` wrong predictions with the highest predicted probability, most confident first:
/// `(index, true label, predicted label, probability)`. `scores` holds `k` per sample;
/// the prediction is the argmax (the first of tied scores).
pub fn most_confident_mistakes(
    labels: &[usize],
    scores: &[f64],
    k: usize,
    n: usize,
) -> Vec<(usize, usize, usize, f64)> {
    let mut wrong: Vec<(usize, usize, usize, f64)> = labels
        .iter()
        .zip(scores.chunks_exact(k.max(1)))
        .enumerate()
        .filter_map(|(i, (&y, row))| {
            let (p, &s) = row.iter().enumerate().fold(
                None,
                |best: Option<(usize, &f64)>, (j, s)| match best {
                    Some((_, b)) if s <= b => best,
                    _ => Some((j, s)),
                },
            )?;
            (p != y).then_some((i, y, p, s))
        })
        .collect();
    wrong.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.cmp(&b.0)));
    wrong.truncate(n);
    wrong
}

/// `pixels` (`channels` × `height` × `width`, planar, 1 or 3 channels) as a PNG file's bytes.
pub fn png_image(
    pixels: &[u8],
    channels: usize,
    height: usize,
    width: usize,
) -> Result<Vec<u8>, EvalError> {
    let plane = height * width;
    let problem = |e: String| EvalError::Plot {
        path: "report.html".into(),
        problem: format!("thumbnail: {e}"),
    };
    if pixels.len() != channels * plane || !matches!(channels, 1 | 3) {
        return Err(problem(format!(
            "{} bytes for {channels}×{height}×{width}",
            pixels.len()
        )));
    }
    let interleaved: Vec<u8> = match channels {
        1 => pixels.to_vec(),
        _ => (0..plane)
            .flat_map(|i| [pixels[i], pixels[plane + i], pixels[2 * plane + i]])
            .collect(),
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(match channels {
            1 => png::ColorType::Grayscale,
            _ => png::ColorType::Rgb,
        });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| problem(e.to_string()))?;
        writer
            .write_image_data(&interleaved)
            .map_err(|e| problem(e.to_string()))?;
    }
    Ok(out)
}

impl HtmlReport<'_> {
    /// The page.
    // Longer than kiln's ~100-line guide on purpose: it is the page's template, its sections
    // in the order they appear; each section's content comes from a function of its own.
    pub fn render(&self) -> Result<String, EvalError> {
        let figure = |f: &dyn Fn() -> Result<String, String>| {
            f().map_err(|problem| EvalError::Plot {
                path: "report.html".into(),
                problem,
            })
        };
        let r = self.report;
        let mut html = String::with_capacity(1 << 20);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title><style>{STYLE}</style></head><body>\n\
             <h1>{title}</h1>\n<p class=\"headline\">accuracy {acc:.2}% · macro F1 {f1:.4} · \
             balanced accuracy {bal:.4} · Cohen's κ {kappa:.4} on {n} images</p>\n",
            title = escape(&self.title),
            acc = 100.0 * r.micro.f1,
            f1 = r.macro_avg.f1,
            bal = r.balanced_accuracy,
            kappa = r.cohen_kappa,
            n = r.micro.support,
        );

        html.push_str("<section id=\"config\"><h2>Run configuration</h2><table class=\"kv\">");
        if let Some(map) = self.config.as_object() {
            for (key, value) in map {
                let shown = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = write!(
                    html,
                    "<tr><th>{}</th><td><code>{}</code></td></tr>",
                    escape(key),
                    escape(&shown)
                );
            }
        }
        html.push_str("</table></section>\n");

        html.push_str("<section id=\"curves\"><h2>Training curves</h2>");
        match &self.curves_svg {
            Some(svg) => html.push_str(&inline_svg(svg)),
            None => html.push_str("<p>The run drew no training curves.</p>"),
        }
        html.push_str("</section>\n");

        html.push_str("<section id=\"report\"><h2>Classification report</h2>");
        html.push_str(&report_table(r));
        html.push_str(&inline_svg(&figure(&|| {
            svg_string(&PerClassBars::from_report(r))
        })?));
        html.push_str("</section>\n");

        html.push_str("<section id=\"confusion\"><h2>Confusion matrix</h2>");
        let heatmap = ConfusionHeatmap::from_report(r);
        html.push_str(&inline_svg(&figure(&|| svg_string(&heatmap))?));
        html.push_str("</section>\n");

        if let Some(s) = self.scored {
            html.push_str("<section id=\"scores\"><h2>Precision–recall and ROC curves</h2>");
            for kind in [CurveKind::PrecisionRecall, CurveKind::Roc] {
                let plot = CurvePlot::new(kind, s)?;
                html.push_str(&inline_svg(&figure(&|| svg_string(&plot))?));
            }
            html.push_str("</section>\n");
        }

        html.push_str("<section id=\"diagnostics\"><h2>Diagnostics</h2><ul>");
        for d in r.diagnostics() {
            let (class, label) = match d.severity {
                Severity::Warning => ("warning", "warning"),
                Severity::Info => ("info", "note"),
            };
            let _ = write!(
                html,
                "<li class=\"{class}\"><b>{label}</b> <span class=\"kind\">{}</span> {}</li>",
                escape(d.kind),
                escape(&d.message)
            );
        }
        html.push_str("</ul></section>\n");

        html.push_str("<section id=\"mistakes\"><h2>Most confident mistakes</h2>");
        let _ = match self.mistakes.len() {
            0 => write!(
                html,
                "<p>No wrong predictions (or no scores to rank them).</p>"
            ),
            n => write!(
                html,
                "<p>The {n} wrong predictions made with the highest probability: label errors \
                 in the data or look-alike classes.</p>"
            ),
        };
        html.push_str("<div class=\"gallery\">");
        for m in &self.mistakes {
            let _ = write!(
                html,
                "<figure><img alt=\"test image {index}\" src=\"data:image/png;base64,{data}\">\
                 <figcaption>#{index}<br>true <b>{truth}</b><br>predicted <b>{pred}</b> \
                 ({conf:.1}%)</figcaption></figure>",
                index = m.index,
                data = base64(&m.png),
                truth = escape(&m.truth),
                pred = escape(&m.predicted),
                conf = 100.0 * m.confidence,
            );
        }
        html.push_str("</div></section>\n</body></html>\n");
        Ok(html)
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;\
color:#222}h1{margin-bottom:.2em}.headline{font-size:1.2em;color:#444}section{margin:2.5em 0}\
table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;\
text-align:right}th:first-child,td:first-child{text-align:left}table.kv td{text-align:left;\
word-break:break-all}svg{max-width:100%;height:auto;display:block;margin:1em 0}\
li{margin:.4em 0}li.warning b{color:#b00}li.info b{color:#06c}.kind{color:#777;\
font-family:monospace}.gallery{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;\
width:120px;text-align:center;font-size:12px}figure img{width:112px;height:112px;\
image-rendering:pixelated;border:1px solid #ccc}";

/// The report's table (scikit-learn's rows) and its summary scores.
fn report_table(r: &ClassificationReport) -> String {
    let mut t = String::from(
        "<table><tr><th>class</th><th>precision</th><th>recall</th><th>f1-score</th>\
         <th>support</th></tr>",
    );
    let mut row = |name: &str, s: &crate::metrics::Scores, bold: bool| {
        let (o, c) = if bold { ("<b>", "</b>") } else { ("", "") };
        let _ = write!(
            t,
            "<tr><td>{o}{}{c}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(name),
            s.precision,
            s.recall,
            s.f1,
            s.support
        );
    };
    for (name, s) in r.names.iter().zip(&r.rows) {
        row(name, s, false);
    }
    let micro = if r.micro_is_accuracy {
        "accuracy"
    } else {
        "micro avg"
    };
    row(micro, &r.micro, true);
    row("macro avg", &r.macro_avg, true);
    row("weighted avg", &r.weighted, true);
    t.push_str("</table>");
    let _ = write!(
        t,
        "<p>balanced accuracy {:.4} · Cohen's kappa {:.4} · Matthews corr. {:.4}",
        r.balanced_accuracy, r.cohen_kappa, r.matthews_corrcoef
    );
    if let Some(auc) = &r.roc_auc {
        let _ = write!(t, " · ROC AUC (macro, one-vs-rest) {:.4}", auc.macro_avg);
    }
    t.push_str("</p>");
    t
}

/// An SVG document as an element of the page (its XML declaration dropped).
fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    format!("<div class=\"figure\">{body}</div>")
}

/// `text` with `&`, `<`, `>` and `"` escaped for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            match i <= chunk.len() {
                true => out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63])),
                false => out.push('='),
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "tests/html.rs"]
mod tests;
