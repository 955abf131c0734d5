//! `kiln report`: a trained run's page renders in headless Chromium with every section, its
//! figures and its gallery of mistakes, and stays small. Where Chromium is absent the rendering
//! half is skipped with a message — unless `KILN_REQUIRE_CHROMIUM` is set (CI sets it).

use crate::common;

use std::path::Path;
use std::process::Command;

use kiln::eval::html::SECTIONS;

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() && std::env::var_os("KILN_REQUIRE_CHROMIUM").is_some() {
        panic!("KILN_REQUIRE_CHROMIUM is set but no chromium is installed");
    }
    found
}

fn headless(browser: &str, page: &Path, extra: &[&str]) -> std::process::Output {
    let url = format!("file://{}", page.display());
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(extra)
        .arg(url)
        .output()
        .unwrap()
}

#[test]
fn the_report_page_renders_in_headless_chromium() {
    let Some(cpu) = common::cpu_run(400, 100) else {
        return common::skipped("no CPU backend");
    };
    let out = common::train_mnist(
        &cpu.data,
        &cpu.art,
        cpu.backend,
        // A rate too small to learn much in one epoch: there are mistakes to show.
        &[
            "--limit",
            "400",
            "--monitor",
            "valid_loss",
            "--epochs",
            "1",
            "--lr",
            "1e-5",
        ],
    );
    assert!(out.status.success());
    let out = common::kiln_bin(&["report", "--artifact-dir", cpu.art.to_str().unwrap()]);
    assert!(out.status.success());
    let page = cpu.art.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let size = html.len();
    assert!(size < 3_000_000, "{size} bytes");
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(
        html.contains("data:image/png;base64,"),
        "the mistakes' thumbnails"
    );

    let Some(browser) = chromium() else {
        return common::skipped("chromium not installed: report.html not rendered");
    };
    // The DOM Chromium built: every section, an inline SVG figure per plot, the thumbnails.
    let dom = headless(browser, &page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    let figures = (html.matches("<svg").count(), dom.matches("<svg").count());
    assert_eq!(
        figures,
        (6, 6),
        "curves, bars, reliability, heatmap, PR, ROC: in the file, in the DOM"
    );
    assert!(dom.matches("<img").count() >= 1);

    // A screenshot: the page paints (many non-white pixels), as tall as its sections.
    let shot = cpu.tmp.path().join("report.png");
    let arg = format!("--screenshot={}", shot.display());
    let out = headless(browser, &page, &[&arg, "--window-size=1200,6000"]);
    assert!(shot.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let image = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (1200, 6000));
    let inked = image
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c < 200))
        .count();
    assert!(
        inked > 100_000,
        "{inked} dark pixels: the page did not paint"
    );
    // The gallery is near the bottom: its rows have ink.
    let bottom = (4000..6000)
        .filter(|&y| (0..1200).any(|x| image.get_pixel(x, y).0[0] < 200))
        .count();
    assert!(bottom > 0, "nothing painted below 4000 px");
}
