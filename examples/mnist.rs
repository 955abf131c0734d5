//! The front door: train the reference CNN on an MNIST-family dataset and print an honest
//! evaluation.
//!
//! ```text
//! cargo run --release --example mnist -- --dataset fashion-mnist --epochs 1
//! ```

use clap::Parser;

/// Train `mnist-cnn` on MNIST, Fashion-MNIST or KMNIST (same flags as `kiln train`).
#[derive(Parser)]
#[command(name = "mnist")]
struct Args {
    #[command(flatten)]
    train: kiln::cli::TrainArgs,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = kiln::cli::train(&args.train) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
