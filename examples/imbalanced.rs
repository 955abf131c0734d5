//! The accuracy paradox on a real dataset: keep 1% of one class (default: Fashion-MNIST's
//! `Shirt`), train, and print accuracy beside the rare class's precision / recall, macro vs
//! weighted F1, and how moving the rare class's decision threshold trades precision for recall;
//! figures go to `<artifact-dir>/plots`.
//!
//! ```text
//! cargo run --release --example imbalanced -- [--rare-class Shirt] [--rare-fraction 0.01] [kiln train flags]
//! ```

use clap::Parser;
use kiln::cli::{ParadoxArgs, accuracy_paradox};

fn main() {
    let mut args = ParadoxArgs::parse();
    if args.train.artifact_dir.is_none() {
        args.train.artifact_dir =
            Some(format!("artifacts/{}-imbalanced", args.train.dataset).into());
    }
    if let Err(e) = accuracy_paradox(&args) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
