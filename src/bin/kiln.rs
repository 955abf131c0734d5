//! The `kiln` command line.

use clap::{Parser, Subcommand};
use kiln::Backend;
use kiln::cli::{CliError, EvalArgs, MetricsArgs, TrainArgs};

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
    Train(TrainArgs),
    /// Report on any model's predictions CSV (`label`, `prediction`, optional `score_<class>`).
    Metrics(MetricsArgs),
    /// Re-evaluate a trained run (its artifact directory) on a split of its dataset.
    Eval(EvalArgs),
    /// List the backends compiled into this binary and whether each has a device here.
    Backends,
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Train(args) => exit_code(kiln::cli::train(&args)),
        Command::Metrics(args) => exit_code(kiln::cli::metrics(&args)),
        Command::Eval(args) => exit_code(kiln::cli::eval(&args)),
        Command::Backends => {
            for b in Backend::compiled() {
                match b.device() {
                    Ok(_) => println!("{b}: available"),
                    Err(e) => println!("{b}: {e}"),
                }
            }
            match kiln::select(None) {
                Ok(s) => println!("default: {s}"),
                Err(e) => println!("default: {e}"),
            }
            0
        }
    };
    std::process::exit(code);
}

/// 0, or the error printed and its exit code.
fn exit_code<T>(result: Result<T, CliError>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
