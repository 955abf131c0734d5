//! `kiln runs`: every run under a directory, one row each, from the files runs write.

use std::path::{Path, PathBuf};

use kiln_train::{RunSummary, list_runs};

use super::error::CliError;

/// Flags of `kiln runs`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    /// Where to look (every run at or under it).
    #[arg(default_value = "artifacts")]
    pub dir: PathBuf,
    /// Order of the rows: started, name, accuracy, macro-f1, best, time (scores best first,
    /// times shortest first) [default: by directory].
    #[arg(long, value_name = "KEY")]
    pub sort: Option<SortKey>,
    /// Print JSON (every field, full precision).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (one value per column, full precision).
    #[arg(long)]
    pub csv: bool,
}

/// What `--sort` orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// When the run started.
    Started,
    /// The directory.
    Name,
    /// Test accuracy, highest first.
    Accuracy,
    /// Test macro-F1, highest first.
    MacroF1,
    /// The monitored validation value, best first.
    Best,
    /// Wall time, shortest first.
    Time,
}

/// The columns, in order.
const HEADER: [&str; 10] = [
    "run",
    "started",
    "dataset",
    "model",
    "epochs",
    "state",
    "test acc",
    "macro-F1",
    "best valid",
    "time",
];

/// Lists the runs under `args.dir` as a table, JSON or CSV.
pub fn runs(args: &RunsArgs) -> Result<Vec<RunSummary>, CliError> {
    if !args.dir.is_dir() {
        return Err(CliError::Flag {
            flag: "DIR",
            message: format!("{} is not a directory", args.dir.display()),
        });
    }
    // A run whose files cannot be read is named on stderr; the others are listed.
    let mut runs = Vec::new();
    for run in list_runs(&args.dir)? {
        match run {
            Ok(run) => runs.push(run),
            Err(e) => eprintln!("warning: run skipped: {e}"),
        }
    }
    if let Some(key) = args.sort {
        sort(&mut runs, key);
    }
    if args.json {
        super::print_json(&runs)?;
    } else if args.csv {
        print_csv(&runs, &args.dir)?;
    } else if runs.is_empty() {
        println!("no runs under {}", args.dir.display());
    } else {
        print!("{}", table(&runs, &args.dir));
    }
    Ok(runs)
}

/// Sorts by `key`; runs without the value last.
fn sort(runs: &mut [RunSummary], key: SortKey) {
    let value = |r: &RunSummary| -> Option<f64> {
        match key {
            SortKey::Accuracy => r.test_accuracy.map(|v| -v),
            SortKey::MacroF1 => r.macro_f1.map(|v| -v),
            SortKey::Best => (r.best.as_ref()).map(|b| {
                if b.higher_is_better {
                    -b.value
                } else {
                    b.value
                }
            }),
            SortKey::Time => r.seconds,
            SortKey::Started | SortKey::Name => None,
        }
    };
    match key {
        // Runs without a recorded start last.
        SortKey::Started => runs.sort_by_key(|r| (r.started.is_none(), r.started.clone())),
        SortKey::Name => runs.sort_by(|a, b| a.dir.cmp(&b.dir)),
        _ => runs.sort_by(|a, b| match (value(a), value(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_none().cmp(&y.is_none()),
        }),
    }
}

/// The run's directory relative to `root` (`.` for `root` itself).
fn name(r: &RunSummary, root: &Path) -> String {
    let name = r.dir.strip_prefix(root).unwrap_or(&r.dir);
    match name.as_os_str().is_empty() {
        true => ".".to_string(),
        false => name.display().to_string(),
    }
}

/// A run's cells in the table, scores to 4 decimals.
fn cells(r: &RunSummary, root: &Path) -> [String; 10] {
    let score = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
    let planned = r.epochs_planned.map_or("?".into(), |n| n.to_string());
    [
        name(r, root),
        (r.started.as_deref()).map_or("-".into(), |s| {
            s.replacen('T', " ", 1).trim_end_matches('Z').to_string()
        }),
        r.dataset.clone(),
        r.model.clone(),
        format!("{}/{planned}", r.epochs_done),
        r.state.to_string(),
        score(r.test_accuracy),
        score(r.macro_f1),
        (r.best.as_ref()).map_or("-".into(), |b| {
            format!("{} {} @{}", b.monitor, score(Some(b.value)), b.epoch)
        }),
        r.seconds.map_or("-".into(), duration),
    ]
}

/// `1h 02m`, `3m 05s`, `12.3s`.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        _ if seconds < 60.0 => format!("{seconds:.1}s"),
        _ if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The runs as an aligned text table.
fn table(runs: &[RunSummary], root: &Path) -> String {
    let rows: Vec<[String; 10]> = runs.iter().map(|r| cells(r, root)).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| -> String {
        let padded: Vec<String> = (cells.iter().zip(&widths))
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut text = line(&HEADER);
    for row in &rows {
        text += &line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    text
}

/// The columns of `--csv`: one value each, full precision, empty when unknown.
const CSV_HEADER: [&str; 14] = [
    "run",
    "started",
    "dataset",
    "model",
    "epochs_done",
    "epochs_planned",
    "state",
    "test_accuracy",
    "macro_f1",
    "monitor",
    "best_value",
    "best_epoch",
    "seconds",
    "error",
];

/// The runs as CSV ([`CSV_HEADER`]).
fn print_csv(runs: &[RunSummary], root: &Path) -> Result<(), CliError> {
    let mut out = csv::Writer::from_writer(std::io::stdout());
    let failed = |e: csv::Error| CliError::Flag {
        flag: "--csv",
        message: e.to_string(),
    };
    out.write_record(CSV_HEADER).map_err(failed)?;
    let text = |v: Option<String>| v.unwrap_or_default();
    let number = |v: Option<f64>| text(v.map(|v| v.to_string()));
    for r in runs {
        let best = r.best.as_ref();
        let row: [String; 14] = [
            name(r, root),
            text(r.started.clone()),
            r.dataset.clone(),
            r.model.clone(),
            r.epochs_done.to_string(),
            text(r.epochs_planned.map(|n| n.to_string())),
            r.state.to_string(),
            number(r.test_accuracy),
            number(r.macro_f1),
            text(best.map(|b| b.monitor.clone())),
            number(best.map(|b| b.value)),
            text(best.map(|b| b.epoch.to_string())),
            number(r.seconds),
            text(r.error.clone()),
        ];
        out.write_record(row).map_err(failed)?;
    }
    out.flush().map_err(|e| failed(e.into()))
}
