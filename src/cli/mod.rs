//! The `kiln` command line: its subcommands' flags and actions, shared by the binary and the
//! examples. [`main`] runs it with any [`Registry`] of architectures.

mod bench;
mod compare;
mod config_file;
mod data;
mod data_augment;
mod diagnostic_args;
mod error;
mod eval;
mod evaluation_args;
mod export;
mod html_report;
mod lr_find;
mod metrics;
mod model_args;
mod models;
mod paradox;
mod predict;
mod report;
mod runs;
mod serve;
mod train;

use std::ffi::OsString;

use clap::{Parser, Subcommand};
use kiln_train::Registry;

pub use bench::{BenchArgs, bench};
pub use compare::{CompareArgs, CompareFormat, compare_runs};
pub use config_file::{Expanded, FlagOrigin, expand_config};
pub use data::{DataAction, DataArgs, DataSelect, LeakageArgs, data, leakage};
pub use data_augment::{AugmentGridArgs, augment_grid};
pub use diagnostic_args::DiagnosticArgs;
pub use error::{CliError, Origin};
pub use eval::{EvalArgs, eval};
pub use evaluation_args::EvaluationArgs;
pub use export::{ExportArgs, FormatChoice, export};
pub use html_report::{HtmlReportArgs, html_report};
pub use lr_find::{LrFindArgs, lr_find};
pub use metrics::{MetricsArgs, metrics};
pub use model_args::ModelArgs;
pub use models::{ModelsArgs, models};
pub use paradox::{ParadoxArgs, accuracy_paradox, paradox_text};
pub use predict::{PredictArgs, predict};
pub use report::{ReportArgs, ReportFormat};
pub use runs::{RunsArgs, SortKey, runs};
pub use serve::{ServeArgs, serve};
pub use train::{
    CalibrateChoice, OptimizerChoice, SamplerChoice, ScheduleChoice, TrainArgs, train, train_with,
};

use crate::backend::Backend;

/// Train and honestly evaluate image classifiers.
#[derive(Parser)]
#[command(name = "kiln", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model, evaluate it on the test split and write artifacts.
    #[command(args_override_self = true)]
    Train(Box<TrainArgs>),
    /// Report on any model's predictions CSV (`label`, `prediction`, optional `score_<class>`).
    Metrics(MetricsArgs),
    /// Re-evaluate a trained run (its artifact directory) on a split of its dataset.
    Eval(EvalArgs),
    /// Write a run's report as one self-contained HTML page (figures inline, no script).
    Report(HtmlReportArgs),
    /// Is run B really better than run A? McNemar's test and paired bootstrap intervals on
    /// the same test images (artifact directories or predictions CSVs).
    Compare(CompareArgs),
    /// Training and evaluation images per second of an architecture on this backend.
    Bench(BenchArgs),
    /// The learning-rate range test: the loss as the rate grows exponentially, with a
    /// suggested rate (takes `kiln train`'s flags; changes no run).
    #[command(args_override_self = true)]
    LrFind(Box<LrFindArgs>),
    /// Classify image files with a trained run or imported (e.g. torchvision) weights.
    Predict(PredictArgs),
    /// Write a trained run's model (or imported weights) as ONNX or PyTorch-named
    /// safetensors.
    Export(ExportArgs),
    /// List the runs under a directory (default: artifacts) with their state and results.
    Runs(RunsArgs),
    /// List the architectures with their parameter counts.
    Models(ModelsArgs),
    /// Dataset files: where they are (`info`), whether they are intact (`verify`), getting them
    /// (`fetch`).
    Data(DataArgs),
    /// List the backends compiled into this binary and whether each has a device here.
    Backends,
    /// Serve this machine's devices to other machines' `kiln train --devices` (Burn Remote;
    /// built with `--features remote`).
    Serve(ServeArgs),
}

/// Runs the command line `args` (program name first) with the architectures of `registry`;
/// returns the process exit code (errors are printed).
pub fn main<I, T>(registry: &Registry, args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut origins = Vec::new();
    if args.get(1).is_some_and(|a| a == "train" || a == "lr-find") {
        (args, origins) = match expand_config(args, 2) {
            Ok(expanded) => (expanded.args, expanded.origins),
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit_code();
            }
        };
    }
    let parsed = <Cli as clap::CommandFactory>::command()
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if let Some(train) = matches.subcommand_matches("train")
        && let Err(e) = recorded_run_flags(train)
    {
        eprintln!("error: {e}");
        return e.exit_code();
    }
    match cli.command {
        Command::Train(args) => exit_code(train_with(registry, &TrainArgs { origins, ..*args })),
        Command::Metrics(args) => exit_code(metrics(&args)),
        Command::Eval(args) => exit_code(eval(registry, &args)),
        Command::Compare(args) => exit_code(compare_runs(&args)),
        Command::Predict(args) => exit_code(predict(registry, &args)),
        Command::Export(args) => exit_code(export(registry, &args)),
        Command::Models(args) => exit_code(models(registry, &args)),
        Command::Runs(args) => exit_code(runs(&args)),
        Command::Data(args) => exit_code(data(&args)),
        Command::Bench(args) => exit_code(bench(registry, &args)),
        Command::LrFind(args) => exit_code(lr_find(registry, &args)),
        Command::Serve(args) => exit_code(serve(&args)),
        Command::Report(args) => match html_report(&args) {
            Ok(path) => {
                println!("{}", path.display());
                0
            }
            Err(e) => report_error(&e),
        },
        Command::Backends => {
            for b in Backend::compiled() {
                match b.device() {
                    Ok(_) => println!("{b}: available"),
                    Err(e) => println!("{b}: {e}"),
                }
            }
            match crate::select(None) {
                Ok(s) => println!("default: {s}"),
                Err(e) => println!("default: {e}"),
            }
            0
        }
    }
}

/// With `--resume` or a recorded `--config config.json`, every setting comes from the record:
/// any other flag typed on the command line — even one equal to its default — is refused
/// rather than silently ignored.
fn recorded_run_flags(train: &clap::ArgMatches) -> Result<(), CliError> {
    let given = |id: &str| train.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let (flag, allowed): (&'static str, &[&str]) = if given("resume") {
        ("--resume", &["resume", "backend", "token_file"])
    } else if given("config") {
        (
            "--config",
            &[
                "config",
                "backend",
                "artifact_dir",
                "overwrite",
                "token_file",
            ],
        )
    } else {
        return Ok(());
    };
    match train
        .ids()
        .map(|id| id.as_str())
        .find(|id| given(id) && !allowed.contains(id))
    {
        None => Ok(()),
        Some(other) => Err(CliError::Flag {
            flag,
            message: format!(
                "--{} cannot be given with it: the settings come from the recorded config.json \
                 (only {} may)",
                other.replace('_', "-"),
                allowed[1..]
                    .iter()
                    .map(|a| format!("--{}", a.replace('_', "-")))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }),
    }
}

/// 0, or the error reported ([`report_error`]) and its exit code.
fn exit_code<T>(result: Result<T, CliError>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => report_error(&e),
    }
}

/// Prints `e` on stderr, with what to do about it when kiln knows ([`CliError::hint`]);
/// returns its exit code.
pub fn report_error(e: &CliError) -> i32 {
    eprintln!("error: {e}");
    if let Some(hint) = e.hint() {
        eprintln!("{hint}");
    }
    e.exit_code()
}

/// The run `dir` stands for: itself, or the one run under it (said on stderr); several runs
/// under it are refused, naming them.
pub(crate) fn the_run(dir: &std::path::Path) -> Result<std::path::PathBuf, CliError> {
    let run = kiln_train::find_run(dir)?;
    if run != dir {
        eprintln!("run: {}", run.display());
    }
    Ok(run)
}

/// Prints `value` as pretty JSON on stdout (`--json` output).
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Flag {
        flag: "--json",
        message: e.to_string(),
    })?;
    println!("{text}");
    Ok(())
}
