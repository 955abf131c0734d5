//! The front door: train the reference CNN on an MNIST-family dataset and print an honest
//! evaluation.
//!
//! ```text
//! cargo run --release --example mnist -- --dataset fashion-mnist --epochs 1
//! ```

use clap::Parser;

/// Train `mnist-cnn` on MNIST, Fashion-MNIST or KMNIST (same flags as `kiln train`).
#[derive(Parser)]
#[command(name = "mnist", args_override_self = true)]
struct Args {
    #[command(flatten)]
    train: kiln::cli::TrainArgs,
}

/// Large blocks on transparent huge pages ([`kiln::allocator::HugePages`]).
#[global_allocator]
static ALLOCATOR: kiln::allocator::HugePages = kiln::allocator::HugePages;

fn main() {
    kiln::allocator::keep_freed_memory();
    // `--config run.toml` expands to the file's flags, which the command line overrides.
    let expanded = kiln::cli::expand_config(std::env::args_os().collect(), 1).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    });
    let mut args = Args::parse_from(expanded.args);
    // A setting the file got wrong is reported with the file's name and key.
    args.train.origins = expanded.origins;
    if let Err(e) = kiln::cli::train(&args.train) {
        std::process::exit(kiln::cli::report_error(&e));
    }
}
