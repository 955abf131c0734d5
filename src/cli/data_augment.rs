//! `kiln data augment`: a grid of augmented samples of a dataset, so a user sees what a pipeline
//! does before training with it.

use std::path::PathBuf;

use kiln_data::augment::{Augmentation, augmentation_grid};
use kiln_data::{Resolver, load_source};

use super::data::DataSelect;
use super::error::CliError;

/// Flags of `kiln data augment`.
#[derive(Debug, Clone, clap::Args)]
pub struct AugmentGridArgs {
    /// The dataset.
    #[command(flatten)]
    pub select: DataSelect,
    /// The pipeline, as `kiln train --augment` takes it (e.g. crop-flip,trivial-augment).
    #[arg(long, value_name = "PIPELINE")]
    pub augment: String,
    /// Images of the training file shown, one per row.
    #[arg(long, default_value_t = 6)]
    pub rows: usize,
    /// Augmented draws per image, after the image itself.
    #[arg(long, default_value_t = 8)]
    pub variants: usize,
    /// Each pixel drawn as a square of this many pixels.
    #[arg(long, default_value_t = 4)]
    pub scale: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    /// Replace an existing --out.
    #[arg(long)]
    pub overwrite: bool,
}

/// Draws the grid and writes it.
pub fn augment_grid(args: &AugmentGridArgs) -> Result<(), CliError> {
    let flag = |flag: &'static str, message: String| CliError::Flag { flag, message };
    let augmentation: Augmentation = (args.augment.parse())
        .map_err(|e: kiln_data::augment::AugmentError| flag("--augment", e.to_string()))?;
    if args.rows == 0 || args.scale == 0 {
        return Err(flag(
            "--rows",
            "--rows and --scale must be at least 1".into(),
        ));
    }
    if args.out.exists() && !args.overwrite {
        let shown = args.out.display();
        return Err(flag(
            "--out",
            format!("{shown} exists (replace it with --overwrite)"),
        ));
    }
    let resolver = Resolver::from_env(args.select.data_dir.clone(), true);
    let loaded =
        load_source(&args.select.source()?, &resolver).map_err(|e| CliError::Train(e.into()))?;
    let sizes = (args.rows, args.variants, args.scale);
    let grid = augmentation_grid(
        &loaded.train,
        &augmentation,
        loaded.normalization,
        sizes,
        args.seed,
    );
    grid.save_png(&args.out)
        .map_err(|e| CliError::Train(e.into()))?;
    println!(
        "wrote {} ({} images of {}, each followed by {} draws of {augmentation})",
        args.out.display(),
        args.rows.min(loaded.train.len()),
        loaded.source.name(),
        args.variants
    );
    Ok(())
}
