//! `kiln data info|verify|fetch`: where a dataset's files are, whether they are intact, and
//! getting them.

use std::path::{Path, PathBuf};

use kiln_data::folder::Unreadable;
use kiln_data::{
    ChecksumStatus, DataError, DatasetName, DatasetSource, FolderSource, Resolver, check_files,
    class_balance_table, load, load_source,
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
    #[arg(long, required_unless_present = "image_folder")]
    pub dataset: Option<DatasetName>,
    /// An image folder (ROOT/train/<class>/…, ROOT/test/<class>/…) instead: `info` and
    /// `verify` decode every image and list the ones that cannot be read.
    #[arg(long, value_name = "ROOT", conflicts_with = "dataset")]
    pub image_folder: Option<PathBuf>,
    /// A directory holding the dataset's files; searched first.
    #[arg(long, conflicts_with = "image_folder")]
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
    let name = match (select.dataset, &select.image_folder) {
        (Some(name), _) => name,
        (None, Some(root)) => return folder(root, matches!(args.action, DataAction::Verify(_))),
        (None, None) => {
            return Err(CliError::Flag {
                flag: "--dataset",
                message: "give --dataset or --image-folder".into(),
            });
        }
    };
    let spec = name.spec();
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
    let loaded = load(name, &resolver).map_err(train_error)?;
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

/// `kiln data info|verify --image-folder ROOT`: the layout, every image decoded (as 32×32 RGB;
/// the size does not change what decodes), counts, class balance, and every unreadable file;
/// `verify` fails when there is one.
fn folder(root: &Path, verify: bool) -> Result<(), CliError> {
    let train_error = |e: DataError| CliError::Train(e.into());
    let source = FolderSource::scan(root, 32, 3, Unreadable::Skip).map_err(train_error)?;
    let loaded = load_source(
        &DatasetSource::Folder(source),
        &Resolver::from_env(None, true),
    )
    .map_err(train_error)?;
    println!("image folder: {}", root.display());
    println!(
        "splits: {} ({} images), {} ({} images); {} classes",
        loaded.files.paths[0].display(),
        loaded.train.len(),
        loaded.files.paths[1].display(),
        loaded.test.len(),
        loaded.class_names.len()
    );
    println!(
        "\n{}",
        class_balance_table(&loaded.class_names, &loaded.train, &loaded.test)
    );
    for (path, why) in &loaded.skipped {
        println!("UNREADABLE {}: {why}", path.display());
    }
    match (verify, loaded.skipped.first()) {
        (true, Some((path, message))) => Err(train_error(DataError::Image {
            path: path.clone(),
            message: format!(
                "{message} ({} unreadable image file(s) in all, listed above)",
                loaded.skipped.len()
            ),
        })),
        (true, None) => {
            println!("verified: every image file decodes");
            Ok(())
        }
        (false, _) => Ok(()),
    }
}
