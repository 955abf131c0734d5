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
    // Without --artifact-dir: a new artifacts/<dataset>-imbalanced/version-N.
    args.train.run_name = Some(format!("{}-imbalanced", args.train.dataset));
    if let Err(e) = accuracy_paradox(&args) {
        std::process::exit(kiln::cli::report_error(&e));
    }
}
