//! CIFAR-10 with the CIFAR ResNet-20 of He et al. 2016: train, evaluate on the test split and
//! write the artifacts. Every `kiln train` flag works; `--dataset` and `--model` default to
//! `cifar10` and `resnet20` here.
//!
//! ```text
//! cargo run --release --example cifar10 -- --epochs 1 [--data-dir DIR]
//! ```
//!
//! The data is found as for `kiln train` (the official `cifar-10-binary.tar.gz` or its extracted
//! `cifar-10-batches-bin/` in `--data-dir`, `$KILN_DATA_DIR/cifar10`, the cache, or downloaded
//! and verified); when it is nowhere, the error says where it looked and how to fix it.

use clap::Parser;

/// Train `resnet20` on CIFAR-10 (same flags as `kiln train`).
#[derive(Parser)]
#[command(name = "cifar10")]
struct Args {
    #[command(flatten)]
    train: kiln::cli::TrainArgs,
}

/// Runs the example with the command line `argv` (program name first); returns the exit code.
pub fn run(mut argv: Vec<String>) -> i32 {
    // The defaults go first: a flag given on the command line overrides them.
    let defaults = ["--dataset", "cifar10", "--model", "resnet20"].map(String::from);
    let at = argv.len().min(1);
    argv.splice(at..at, defaults);
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match kiln::cli::train(&args.train) {
        Ok(_) => 0,
        Err(e) => kiln::cli::report_error(&e),
    }
}

/// Large blocks on transparent huge pages ([`kiln::allocator::HugePages`]). (Not in the tests,
/// which include this file as a module of their own binary.)
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: kiln::allocator::HugePages = kiln::allocator::HugePages;

fn main() {
    kiln::allocator::keep_freed_memory();
    std::process::exit(run(std::env::args().collect()));
}
