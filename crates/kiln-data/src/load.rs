//! Loading a dataset end to end: a named one (resolve its files, read and validate them) or an
//! image folder.

use std::path::PathBuf;

use crate::batch::Normalization;
use crate::cifar::{CifarSource, read_cifar_splits};
use crate::error::DataError;
use crate::folder::{FolderOptions, read_image_folder};
use crate::images::ImageDataset;
use crate::resolve::{DatasetFiles, Resolver, Source};
use crate::source::{DatasetSource, FolderSource};
use crate::spec::{DatasetFormat, DatasetName};

/// A dataset's training and test splits in memory, with where they came from.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    /// What was loaded, resolved: a folder's class names and normalization are filled in.
    pub source: DatasetSource,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// The normalization constants.
    pub normalization: Normalization,
    /// The files that were read.
    pub files: DatasetFiles,
    /// The training file's images.
    pub train: ImageDataset,
    /// The test file's images.
    pub test: ImageDataset,
    /// Image files left out as unreadable ([`crate::folder::Unreadable::Skip`]), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Resolves and reads `name`'s training and test files.
pub fn load(name: DatasetName, resolver: &Resolver) -> Result<LoadedDataset, DataError> {
    load_source(&DatasetSource::Named(name), resolver)
}

/// Reads a named dataset (resolving its files with `resolver`) or an image folder.
pub fn load_source(
    source: &DatasetSource,
    resolver: &Resolver,
) -> Result<LoadedDataset, DataError> {
    match source {
        DatasetSource::Named(name) => load_named(*name, resolver),
        DatasetSource::Folder(folder) => load_folder(folder),
    }
}

/// Reads both splits of an image folder; checks its classes against the recorded ones and
/// computes the normalization from the training split unless it is recorded.
fn load_folder(folder: &FolderSource) -> Result<LoadedDataset, DataError> {
    let [train_dir, test_dir] = folder.split_dirs()?;
    let options = FolderOptions {
        size: folder.image_size,
        channels: folder.channels,
        unreadable: folder.on_unreadable,
    };
    let train = read_image_folder(&train_dir, &options)?;
    if !folder.class_names.is_empty() {
        folder.check_classes(&train_dir, &train.class_names, &folder.class_names)?;
    }
    let test = read_image_folder(&test_dir, &options)?;
    folder.check_classes(&test_dir, &test.class_names, &train.class_names)?;
    let normalization = folder
        .normalization
        .unwrap_or_else(|| train.dataset.channel_statistics());
    let mut skipped = train.skipped;
    skipped.extend(test.skipped);
    Ok(LoadedDataset {
        source: DatasetSource::Folder(FolderSource {
            class_names: train.class_names.clone(),
            normalization: Some(normalization),
            ..folder.clone()
        }),
        class_names: train.class_names,
        normalization,
        files: DatasetFiles {
            dir: folder.root.clone(),
            source: Source::ImageFolder,
            paths: vec![train_dir, test_dir],
        },
        train: train.dataset,
        test: test.dataset,
        skipped,
    })
}

/// Resolves and reads a named dataset's files.
fn load_named(name: DatasetName, resolver: &Resolver) -> Result<LoadedDataset, DataError> {
    let spec = name.spec();
    let files = resolver.resolve(spec)?;
    let (train, test) = match spec.format {
        DatasetFormat::Idx => {
            let read = |images: &PathBuf, labels: &PathBuf| {
                ImageDataset::from_idx(images, labels, Some(spec.image_size), spec.num_classes())
            };
            match &files.paths[..] {
                [a, b, c, d] => (read(a, b)?, read(c, d)?),
                other => {
                    return Err(DataError::InvalidRequest(format!(
                        "internal: {} paths for an IDX dataset",
                        other.len()
                    )));
                }
            }
        }
        DatasetFormat::Cifar(kind) => {
            let path = files.paths.first().ok_or_else(|| {
                DataError::InvalidRequest("internal: no path for a CIFAR dataset".into())
            })?;
            let source = match path.is_dir() {
                true => CifarSource::Directory(path.clone()),
                false => CifarSource::Archive(path.clone()),
            };
            let (train, test) = read_cifar_splits(&source, kind)?;
            (train.dataset, test.dataset)
        }
    };
    Ok(LoadedDataset {
        source: DatasetSource::Named(name),
        class_names: spec.class_name_list(),
        normalization: spec.normalization(),
        train,
        test,
        files,
        skipped: Vec::new(),
    })
}
