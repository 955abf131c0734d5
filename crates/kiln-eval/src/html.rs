//! One self-contained `report.html` for a run: the figures inline as SVG, the mistakes'
//! thumbnails inline as PNG data, a little CSS, no script and nothing fetched.
//!
//! Sections (each an element with its `id`, in this order): `config` (the run's settings, as a
//! table with nested settings flattened), `curves` (training curves), `report` (the
//! classification report), `intervals` (bootstrap confidence intervals), `calibration`
//! (reliability diagram, ECE, Brier, log loss, temperature), `confusion` (heatmap), `scores`
//! (precision–recall and ROC curves, when scores exist), `diagnostics`, `compare` (another run
//! on the same test images, when given), `mistakes` (the most confident wrong predictions).

use std::fmt::Write;

use crate::compare::Comparison;
use crate::diagnostics::Severity;
use crate::error::EvalError;
use crate::plot::{
    ConfusionHeatmap, CurveKind, CurvePlot, PerClassBars, ReliabilityDiagram, ScoredSamples,
    svg_string,
};
use crate::report::ClassificationReport;

/// The page's sections' element ids, in order: every page has them; the `compare` section
/// (between `diagnostics` and `mistakes`) only when a comparison is given.
pub const SECTIONS: [&str; 9] = [
    "config",
    "curves",
    "report",
    "intervals",
    "calibration",
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
    /// The run's settings, shown as a table ([`config_rows`]).
    pub config: &'a serde_json::Value,
    /// The training-curves figure as SVG, if the run drew one.
    pub curves_svg: Option<String>,
    /// The evaluated split's report, its diagnostics included.
    pub report: &'a ClassificationReport,
    /// Every sample's scores, for the PR and ROC curves.
    pub scored: Option<ScoredSamples<'a>>,
    /// The most confident mistakes, most confident first.
    pub mistakes: Vec<Thumbnail>,
    /// This run compared with another on the same test images (`kiln report --compare`).
    pub comparison: Option<&'a Comparison>,
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
        for row in config_rows(self.config) {
            let _ = match row {
                ConfigRow::Group(name) => write!(
                    html,
                    "<tr class=\"group\"><th colspan=\"2\">{}</th></tr>",
                    escape(&name)
                ),
                ConfigRow::Setting(key, value) => write!(
                    html,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(&key),
                    escape(&value)
                ),
            };
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

        html.push_str("<section id=\"intervals\"><h2>How sure: 95% intervals</h2>");
        html.push_str(&intervals_table(r));
        html.push_str("</section>\n");

        html.push_str("<section id=\"calibration\"><h2>Calibration</h2>");
        html.push_str(&calibration_text(r));
        if let Some(diagram) = ReliabilityDiagram::from_report(r) {
            html.push_str(&inline_svg(&figure(&|| svg_string(&diagram))?));
        }
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

        if let Some(c) = self.comparison {
            html.push_str("<section id=\"compare\"><h2>Compared with another run</h2>");
            html.push_str(&comparison_table(c));
            html.push_str("</section>\n");
        }

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
table{border-collapse:collapse;margin:.8em 0}tr.group th{padding-top:.9em;\
color:#555;font-size:.95em;border-bottom:2px solid #bbb}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;\
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

/// One line of the configuration table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRow {
    /// A group of settings (a nested object: `training`, `model`).
    Group(String),
    /// A setting and its value, as a person reads them.
    Setting(String, String),
}

/// The configuration `config` (a `config.json` document) as table rows: top-level settings
/// first-level, nested objects as a group of rows, and an object with a `kind` / `method` /
/// `rule` tag (an optimizer, a schedule) on one line: `adam (β 0.9 / 0.999, ε 1e-5, weight
/// decay 0)`. Null is `none`, underscores become spaces.
pub fn config_rows(config: &serde_json::Value) -> Vec<ConfigRow> {
    let Some(map) = config.as_object() else {
        return vec![ConfigRow::Setting("config".into(), config.to_string())];
    };
    let (mut plain, mut groups) = (Vec::new(), Vec::new());
    for (key, value) in map {
        match value.as_object() {
            Some(obj) if tag(obj).is_none() => {
                groups.push(ConfigRow::Group(words(key)));
                for (k, v) in obj {
                    groups.push(ConfigRow::Setting(words(k), setting(v)));
                }
            }
            _ => plain.push(ConfigRow::Setting(words(key), setting(value))),
        }
    }
    plain.extend(groups);
    plain
}

/// The tag of a tagged object (`kind`, `method`, `rule`), if it has one.
fn tag(obj: &serde_json::Map<String, serde_json::Value>) -> Option<(&'static str, String)> {
    ["kind", "method", "rule"].into_iter().find_map(|t| {
        obj.get(t)
            .and_then(|v| v.as_str())
            .map(|v| (t, v.to_string()))
    })
}

/// `snake_case` as words.
fn words(key: &str) -> String {
    key.replace('_', " ")
}

/// A value as one line of text.
fn setting(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "none".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(setting).collect::<Vec<_>>().join(", "),
        Value::Object(obj) => {
            let tagged = tag(obj);
            let mut parts = Vec::new();
            let (b1, b2) = (obj.get("beta_1"), obj.get("beta_2"));
            if let (Some(b1), Some(b2)) = (b1, b2) {
                parts.push(format!("β {} / {}", setting(b1), setting(b2)));
            }
            for (k, v) in obj {
                let skip = tagged.as_ref().is_some_and(|(t, _)| k == t);
                if skip || k == "beta_1" || k == "beta_2" {
                    continue;
                }
                let name = match k.as_str() {
                    "epsilon" => "ε".to_string(),
                    other => words(other),
                };
                parts.push(format!("{name} {}", setting(v)));
            }
            match tagged {
                Some((_, kind)) if parts.is_empty() => kind,
                Some((_, kind)) => format!("{kind} ({})", parts.join(", ")),
                None => parts.join(", "),
            }
        }
    }
}

/// A number as a person writes it: integers whole, very small or large ones as `1e-5`, others
/// to six significant digits.
fn number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() < 1e-3 || x.abs() >= 1e6 {
        let short: f64 = format!("{x:.5e}").parse().unwrap_or(x);
        format!("{short:e}")
    } else {
        let digits = 5 - x.abs().log10().floor() as i32;
        let scale = 10f64.powi(digits);
        format!("{}", (x * scale).round() / scale)
    }
}

/// The bootstrap intervals as a table: the summary figures, then each class's precision and
/// recall.
fn intervals_table(r: &ClassificationReport) -> String {
    let Some(ci) = &r.intervals else {
        return "<p>No intervals: the report was made without a bootstrap (<code>--bootstrap \
                0</code>) or without per-sample predictions.</p>"
            .into();
    };
    let mut t = format!(
        "<p>Percentile bootstrap: {} resamples of the {} test images (seed {}). An interval says \
         how far the figure would move on another test set drawn the same way.</p>\
         <table><tr><th>figure</th><th>value</th><th>95% interval</th></tr>",
        ci.bootstrap.resamples, r.micro.support, ci.bootstrap.seed
    );
    let mut row = |name: &str, v: f64, i: &crate::Interval| {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{v:.4}</td><td>{i:.4}</td></tr>",
            escape(name)
        );
    };
    row("accuracy", r.micro.f1, &ci.accuracy);
    row(
        "balanced accuracy",
        r.balanced_accuracy,
        &ci.balanced_accuracy,
    );
    row("macro F1", r.macro_avg.f1, &ci.macro_f1);
    row("weighted F1", r.weighted.f1, &ci.weighted_f1);
    if let (Some(auc), Some(i)) = (&r.roc_auc, &ci.roc_auc) {
        row("ROC AUC (macro)", auc.macro_avg, i);
    }
    if let (Some(c), Some(i)) = (&r.calibration, &ci.ece) {
        row("ECE", c.ece, i);
    }
    t.push_str(
        "</table><table><tr><th>class</th><th>precision</th><th>95% interval</th>\
                <th>recall</th><th>95% interval</th><th>support</th></tr>",
    );
    for (j, (name, s)) in r.names.iter().zip(&r.rows).enumerate() {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(name),
            s.precision,
            ci.precision[j],
            s.recall,
            ci.recall[j],
            s.support
        );
    }
    t.push_str("</table>");
    t
}

/// The calibration figures as a sentence and a table.
fn calibration_text(r: &ClassificationReport) -> String {
    let Some(c) = &r.calibration else {
        return "<p>No calibration figures: the scores are not probabilities.</p>".into();
    };
    let mut t = format!(
        "<p>Whether the probabilities mean what they say: among predictions made with confidence \
         0.8, about 80% should be right. Top-label ECE and MCE in {} equal-width bins \
         (torchmetrics), Brier score and log loss (scikit-learn).</p><table><tr><th></th>\
         <th>ECE</th><th>MCE</th><th>class-wise ECE</th><th>Brier</th><th>log loss</th></tr>",
        c.bins
    );
    let mut row = |name: &str, c: &crate::Calibration| {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr>",
            escape(name),
            c.ece,
            c.mce,
            c.classwise_ece,
            c.brier,
            c.log_loss
        );
    };
    match &r.temperature {
        Some((temperature, before)) => {
            row("before temperature scaling", before);
            row(&format!("after (T = {temperature:.4})"), c);
        }
        None => row("probabilities", c),
    }
    t.push_str("</table>");
    t
}

/// A comparison's table and verdict.
fn comparison_table(c: &Comparison) -> String {
    let mut t = format!(
        "<p>A: <code>{}</code><br>B: <code>{}</code> (this run) · {} test images · paired \
         bootstrap, {} resamples</p><table><tr><th></th><th>A</th><th>B</th><th>B − A</th>\
         <th>95% interval</th></tr>",
        escape(&c.names[0]),
        escape(&c.names[1]),
        c.samples,
        c.bootstrap.resamples
    );
    let mut row = |name: &str, p: &crate::compare::Paired| {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:+.4}</td><td>{:.4}{}</td></tr>",
            escape(name),
            p.a,
            p.b,
            p.difference,
            p.interval,
            if p.significant() { " *" } else { "" }
        );
    };
    for (name, p) in c.rows() {
        row(&name, p);
    }
    let _ = write!(
        t,
        "</table><p>McNemar's exact test: {} images only A gets right, {} only B, p = {}</p><ul>",
        c.only_a,
        c.only_b,
        crate::compare::p_text(c.mcnemar_p)
    );
    for sentence in c.verdict() {
        let _ = write!(t, "<li>{}</li>", escape(&sentence));
    }
    t.push_str("</ul>");
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
