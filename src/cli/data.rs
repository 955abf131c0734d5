//! `kiln data info|verify|fetch|leakage`: where a dataset's files are, whether they are intact,
//! getting them, and duplicates across its splits.

use std::path::PathBuf;

use kiln_data::folder::Unreadable;
use kiln_data::leakage::{LeakageOptions, Overlap, find_duplicates, find_duplicates_within};
use kiln_data::{
    ChecksumStatus, DataError, DatasetName, DatasetSource, FolderSource, Resolver, check_files,
    class_balance_table, load, load_source,
};

use super::data_augment::{AugmentGridArgs, augment_grid};
use super::error::CliError;

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
    /// Duplicate images between the training and test files and inside each (exact by
    /// content, near by perceptual hash + pixel difference); never downloads.
    Leakage(LeakageArgs),
    /// A grid of augmented samples (each image, then draws of --augment) as a PNG: what a
    /// training pipeline does to the data.
    Augment(AugmentGridArgs),
}

/// Flags of `kiln data leakage`.
#[derive(Debug, Clone, clap::Args)]
pub struct LeakageArgs {
    /// The dataset.
    #[command(flatten)]
    pub select: DataSelect,
    /// Look for exact (byte-identical) duplicates only.
    #[arg(long)]
    pub exact_only: bool,
    /// Near duplicates: difference-hash bits (of 64) two images may differ in to be compared.
    #[arg(long, default_value_t = LeakageOptions::default().max_hash_distance)]
    pub max_hash_distance: u32,
    /// Near duplicates: the largest mean absolute pixel difference, on the [0, 1] scale.
    #[arg(long, default_value_t = LeakageOptions::default().max_pixel_difference)]
    pub max_pixel_difference: f64,
    /// Print the full report (every match) as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

impl LeakageArgs {
    /// The options these flags describe.
    pub fn options(&self) -> Result<LeakageOptions, CliError> {
        let d = self.max_pixel_difference;
        if !(d.is_finite() && (0.0..1.0).contains(&d)) {
            return Err(CliError::Flag {
                flag: "--max-pixel-difference",
                message: format!("must be in [0, 1), got {d}"),
            });
        }
        if self.max_hash_distance > 64 {
            return Err(CliError::Flag {
                flag: "--max-hash-distance",
                message: format!(
                    "a 64-bit hash differs in at most 64 bits, got {}",
                    self.max_hash_distance
                ),
            });
        }
        Ok(LeakageOptions {
            near: !self.exact_only,
            max_hash_distance: self.max_hash_distance,
            max_pixel_difference: d,
        })
    }
}

/// `kiln data leakage`: prints (and returns) the overlaps test→train, train→train and
/// test→test.
pub fn leakage(args: &LeakageArgs) -> Result<Vec<Overlap>, CliError> {
    let options = args.options()?;
    let train_error = |e: DataError| CliError::Train(e.into());
    let source = args.select.source()?;
    let resolver = Resolver::from_env(args.select.data_dir.clone(), true);
    let loaded = load_source(&source, &resolver).map_err(train_error)?;
    for (path, why) in &loaded.skipped {
        eprintln!("skipped unreadable {}: {why}", path.display());
    }
    let start = std::time::Instant::now();
    let overlaps = vec![
        find_duplicates(("test", &loaded.test), ("train", &loaded.train), &options),
        find_duplicates_within("train", &loaded.train, &options),
        find_duplicates_within("test", &loaded.test, &options),
    ];
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        super::print_json(&serde_json::json!({
            "dataset": source.name(),
            "options": options,
            "overlaps": overlaps,
        }))?;
    } else {
        println!(
            "{}: {} train, {} test images; checked in {seconds:.2} s",
            source,
            loaded.train.len(),
            loaded.test.len()
        );
        for overlap in &overlaps {
            println!("  {}", overlap.summary());
        }
    }
    Ok(overlaps)
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
    /// With --image-folder: the size images are brought to before they are compared (use the
    /// training run's --image-size).
    #[arg(
        long,
        value_name = "SIZE",
        default_value_t = 32,
        requires = "image_folder"
    )]
    pub image_size: u32,
    /// With --image-folder: 1 (grayscale) or 3 (RGB).
    #[arg(long, default_value_t = 3, requires = "image_folder")]
    pub channels: usize,
}

impl DataSelect {
    /// The dataset these flags name: `--dataset`, or `--image-folder` scanned with
    /// `--image-size`/`--channels` (unreadable files to be skipped).
    pub(super) fn source(&self) -> Result<DatasetSource, CliError> {
        match (self.dataset, &self.image_folder) {
            (Some(name), _) => Ok(DatasetSource::Named(name)),
            (None, Some(root)) => {
                FolderSource::scan(root, self.image_size, self.channels, Unreadable::Skip)
                    .map(DatasetSource::Folder)
                    .map_err(|e| CliError::Train(e.into()))
            }
            (None, None) => Err(CliError::Flag {
                flag: "--dataset",
                message: "give --dataset or --image-folder".into(),
            }),
        }
    }
}

/// Runs a `kiln data` action, printing its report.
pub fn data(args: &DataArgs) -> Result<(), CliError> {
    let (select, offline) = match &args.action {
        DataAction::Info(s) | DataAction::Verify(s) => (s, true),
        DataAction::Fetch(s) => (s, false),
        DataAction::Leakage(l) => return leakage(l).map(drop),
        DataAction::Augment(a) => return augment_grid(a),
    };
    let train_error = |e: DataError| CliError::Train(e.into());
    let resolver = Resolver::from_env(select.data_dir.clone(), offline);
    let name = match select.source()? {
        DatasetSource::Named(name) => name,
        DatasetSource::Folder(source) => {
            return folder(source, matches!(args.action, DataAction::Verify(_)));
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

/// `kiln data info|verify --image-folder ROOT`: the layout, every image decoded, counts, class
/// balance, and every unreadable file; `verify` fails when there is one.
fn folder(source: FolderSource, verify: bool) -> Result<(), CliError> {
    let train_error = |e: DataError| CliError::Train(e.into());
    let root = source.root.clone();
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
