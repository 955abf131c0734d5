//! `kiln data info|verify|fetch`: where a dataset's files are, whether they are intact, and
//! getting them.

use std::path::PathBuf;

use kiln_data::{
    ChecksumStatus, DataError, DatasetName, Resolver, check_files, class_balance_table, load,
};

use super::train::CliError;

/// Flags of `kiln data`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DataAction,
}

/// The `kiln data` actions.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DataAction {
    /// Where the files were found, their checksum status, split sizes and class balance
    /// (never downloads).
    Info(DataSelect),
    /// Checks every file: canonical digests and a full structural read; exit 1 on any problem.
    Verify(DataSelect),
    /// Downloads the dataset into the cache (verified) unless it is already found.
    Fetch(DataSelect),
}

/// Which dataset, and where to look first.
#[derive(Debug, Clone, clap::Args)]
pub struct DataSelect {
    /// Dataset: mnist, fashion-mnist, kmnist, cifar10 or cifar100.
    #[arg(long)]
    pub dataset: DatasetName,
    /// A directory holding the dataset's files; searched first.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Runs a `kiln data` action, printing its report.
pub fn data(args: &DataArgs) -> Result<(), CliError> {
    let (select, offline) = match &args.action {
        DataAction::Info(s) | DataAction::Verify(s) => (s, true),
        DataAction::Fetch(s) => (s, false),
    };
    let train_error = |e: DataError| CliError::Train(e.into());
    let resolver = Resolver::from_env(select.data_dir.clone(), offline);
    let spec = select.dataset.spec();
    let files = resolver.resolve(spec).map_err(train_error)?;
    println!("dataset: {}", spec.name);
    println!("found: {} ({})", files.dir.display(), files.source);
    if let DataAction::Fetch(_) = args.action {
        return Ok(());
    }
    let checks = check_files(spec, &files).map_err(train_error)?;
    let mut mismatch = None;
    for check in &checks {
        let status = match &check.status {
            ChecksumStatus::Verified => "checksum verified".to_string(),
            ChecksumStatus::ContentVerified => {
                "content checksum verified (a recompressed or decompressed copy)".to_string()
            }
            ChecksumStatus::NoDigest => {
                "no canonical checksum (decompressed or extracted): checked by reading".to_string()
            }
            ChecksumStatus::Mismatch { expected, actual } => {
                mismatch.get_or_insert_with(|| DataError::Checksum {
                    path: check.path.clone(),
                    expected: expected.clone(),
                    actual: actual.clone(),
                });
                format!("CHECKSUM MISMATCH: expected {expected}, found {actual}")
            }
        };
        println!("  {}: {status}", check.path.display());
    }
    let loaded = load(select.dataset, &resolver).map_err(train_error)?;
    let shape = loaded.train.shape();
    println!(
        "images: {}×{}×{}; train {}, test {}; {} classes",
        shape.channels,
        shape.height,
        shape.width,
        loaded.train.len(),
        loaded.test.len(),
        spec.num_classes()
    );
    println!(
        "\n{}",
        class_balance_table(&spec.class_name_list(), &loaded.train, &loaded.test)
    );
    match (&args.action, mismatch) {
        (DataAction::Verify(_), Some(e)) => Err(train_error(e)),
        (DataAction::Verify(_), None) => {
            println!("verified: every file reads as a well-formed {}", spec.name);
            Ok(())
        }
        _ => Ok(()),
    }
}
