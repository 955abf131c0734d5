//! Loading a named dataset end to end: resolve its files, read and validate them.

use crate::error::DataError;
use crate::images::ImageDataset;
use crate::resolve::{DatasetFiles, Resolver};
use crate::spec::{DatasetName, DatasetSpec, Split};

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
    let read = |split| {
        let [images, labels] = files.split(split);
        ImageDataset::from_idx(images, labels, Some(spec.image_size), spec.num_classes())
    };
    Ok(LoadedDataset {
        spec,
        train: read(Split::Train)?,
        test: read(Split::Test)?,
        files,
    })
}
