//! Loading a named dataset end to end: resolve its files, read and validate them.

use std::path::PathBuf;

use crate::cifar::{CifarSource, read_cifar_splits};
use crate::error::DataError;
use crate::images::ImageDataset;
use crate::resolve::{DatasetFiles, Resolver};
use crate::spec::{DatasetFormat, DatasetName, DatasetSpec};

/// A dataset's training and test splits in memory, with where they came from.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    /// The table entry.
    pub spec: &'static DatasetSpec,
    /// The files that were read.
    pub files: DatasetFiles,
    /// The training file's images.
    pub train: ImageDataset,
    /// The test file's images.
    pub test: ImageDataset,
}

/// Resolves and reads `name`'s training and test files.
pub fn load(name: DatasetName, resolver: &Resolver) -> Result<LoadedDataset, DataError> {
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
        spec,
        train,
        test,
        files,
    })
}
